import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from faceswap_core import FaceswapError
from faceswap_core.training import augment, checkpoint, model, recipe, remedies, train


def _faces(n=12, size=96, seed=0):
    """A shared dark-to-bright pattern per person plus a little per-image variation: learnable in a few steps."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    out = {}
    for k, p in enumerate(("ana", "ben")):
        base = np.stack([xx, yy, (xx + yy) / 2 if k else 1 - xx], -1) * 200 + 20
        imgs = np.clip(base[None] + rng.normal(0, 8, (n, 1, 1, 3)), 0, 255).astype(np.uint8)
        out[p] = (imgs, np.full((n, size, size), 255, np.uint8))
    return out


# ---------------------------------------------------------------------------------------------- augment

def test_warp_at_strength_zero_is_the_target_and_seeded_warps_repeat():
    imgs = torch.rand(3, 3, 128, 128)
    w0, t0 = augment.random_warp(imgs, torch.Generator().manual_seed(1), strength=0)
    assert torch.equal(w0, t0) and w0.shape == (3, 3, 64, 64)
    a = augment.random_warp(imgs, torch.Generator().manual_seed(5))
    b = augment.random_warp(imgs, torch.Generator().manual_seed(5))
    c = augment.random_warp(imgs, torch.Generator().manual_seed(6))
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], c[0])
    assert (a[0] - a[1]).abs().mean() > 0.01  # a real warp moves pixels


def test_target_is_the_centre_of_the_crop():
    img = torch.zeros(1, 3, 128, 128)
    img[:, :, 24:104, 24:104] = 1.0  # the central 0.625 of the crop
    _, target = augment.random_warp(img, torch.Generator().manual_seed(0), strength=0)
    assert target[:, :, 2:-2, 2:-2].min() > 0.9


def test_random_transform_keeps_shape_and_identity_range_is_identity():
    imgs = torch.rand(4, 3, 32, 32)
    none = augment.TransformRange(0, 0, 0, 0)
    out = augment.random_transform(imgs, torch.Generator().manual_seed(0), none)
    assert torch.allclose(out, imgs, atol=1e-5)
    moved = augment.random_transform(imgs, torch.Generator().manual_seed(0))
    assert moved.shape == imgs.shape and not torch.allclose(moved, imgs)


def test_color_transfer_gives_the_reference_skin_tone_inside_the_mask():
    gen = torch.Generator().manual_seed(0)
    imgs = torch.rand(4, 3, 32, 32, generator=gen) * 0.3 + 0.2
    masks = torch.zeros(4, 1, 32, 32)
    masks[:, :, 8:24, 8:24] = 1
    ref = torch.rand(4, 3, 32, 32, generator=gen) * 0.2 + 0.6
    mean, std = augment.color_stats(ref, masks)
    out = augment.color_transfer(imgs, masks, mean, std)
    got_mean, got_std = augment.color_stats(out, masks)
    assert torch.allclose(got_mean, mean, atol=1e-4) and torch.allclose(got_std, std, atol=1e-4)
    shading = torch.corrcoef(torch.stack([imgs[0, 0, 8:24, 8:24].flatten(), out[0, 0, 8:24, 8:24].flatten()]))
    assert shading[0, 1] > 0.999  # the pattern is kept, only its colour statistics moved


def test_trainer_recolours_inputs_not_targets(tmp_path):
    faces = _faces()
    m = model.FaceSwapModel.create("lite", ["ana", "ben"])
    plain = train.Trainer(m, faces, tmp_path, recipe.TrainConfig(batch_size=4, seed=1), "cpu")
    moved = train.Trainer(m, faces, tmp_path, recipe.TrainConfig(batch_size=4, seed=1, color_transfer=1.0), "cpu")
    (x0, y0, _), (x1, y1, m1) = plain.batch("ana"), moved.batch("ana")
    assert torch.equal(y0, y1) and not torch.allclose(x0, x1, atol=0.05)
    ben_mean = moved.color["ben"][0].mean(0)  # ana's inputs now carry ben's colours
    assert torch.allclose(augment.color_stats(x1, m1)[0].mean(0), ben_mean, atol=0.05)


# ---------------------------------------------------------------------------------------------- model

@pytest.mark.parametrize("name,enc_params", [("original", 69_662_976), ("lite", 6_457_152)])
def test_model_shapes_for_both_configs(name, enc_params):
    m = model.FaceSwapModel.create(name, ["ana", "ben"])
    x = torch.rand(2, 3, 64, 64)
    assert m.encoder.code(x).shape == (2, m.config.dense)
    assert m(x, "ben").shape == (2, 3, 64, 64)
    assert model.parameter_count(m.encoder) == enc_params  # original: the classic ~70 M encoder
    with torch.no_grad():
        y = m(x, "ana")
    assert 0 <= float(y.min()) and float(y.max()) <= 1
    with pytest.raises(FaceswapError, match="no decoder for 'cy'"):
        m(x, "cy")


def test_layer_table_lists_the_bottleneck():
    rows = model.layer_table(model.FaceSwapModel.create("lite", ["a", "b"]))
    names = [r[0] for r in rows]
    assert "encoder.to_code" in names and rows[names.index("encoder.to_code")][1] == "512"


# ---------------------------------------------------------------------------------------------- train

def test_loss_goes_down_and_checkpoint_round_trips(tmp_path):
    faces = _faces()
    m = model.FaceSwapModel.create("lite", ["ana", "ben"])
    t = train.Trainer(m, faces, tmp_path / "m", recipe.TrainConfig(batch_size=8, lr=3e-4, warp=0), "cpu")
    t.train(100, progress=False)
    for p in ("ana", "ben"):
        early = np.mean([h[p] for h in t.history[:10]])
        late = np.mean([h[p] for h in t.history[-10:]])
        assert late < 0.85 * early, (p, early, late)
    loaded = checkpoint.load_model(tmp_path / "m")
    for k, v in m.state_dict().items():
        assert torch.equal(v, loaded.state_dict()[k])


def test_resume_is_exact(tmp_path):
    faces = _faces()
    cfg = recipe.TrainConfig(batch_size=4, lr=1e-3, seed=3, masked=True, ssim_weight=0.2, warmup=2, decay_steps=5)
    straight = train.Trainer(model.FaceSwapModel.create("lite", ["ana", "ben"], seed=3), faces, tmp_path / "a",
                             cfg, "cpu")
    straight.train(6, progress=False)
    first = train.Trainer(model.FaceSwapModel.create("lite", ["ana", "ben"], seed=3), faces, tmp_path / "b", cfg,
                          "cpu")
    first.train(3, progress=False)  # "killed" after step 3: only its checkpoint survives
    del first
    resumed = train.Trainer.resume(tmp_path / "b", faces, device="cpu")
    assert resumed.step == 3
    resumed.train(6, progress=False)
    for k, v in straight.model.state_dict().items():
        assert torch.equal(v, resumed.model.state_dict()[k]), k
    assert [h["ana"] for h in straight.history] == [h["ana"] for h in resumed.history]


def test_lr_schedule_warms_up_then_decays_to_its_floor(tmp_path):
    m = model.FaceSwapModel.create("lite", ["ana", "ben"])
    cfg = recipe.TrainConfig(batch_size=4, lr=1e-3, warmup=10, decay_steps=110)
    t = train.Trainer(m, _faces(), tmp_path, cfg, "cpu")
    lrs = [t.lr_at(s) for s in range(200)]
    assert lrs[0] == pytest.approx(1e-4) and lrs[10] == pytest.approx(1e-3)
    assert all(a < b for a, b in zip(lrs[:10], lrs[1:11]))  # warm-up rises
    assert all(a > b for a, b in zip(lrs[10:110], lrs[11:111]))  # cosine falls
    assert lrs[60] == pytest.approx(1e-3 * (1 + train.MIN_LR) / 2)  # halfway down at the middle
    assert lrs[110] == lrs[199] == pytest.approx(1e-3 * train.MIN_LR)  # then flat
    t.train_step()
    assert all(g["lr"] == pytest.approx(1e-4) for opt in t.optims.values() for g in opt.param_groups)
    flat = train.Trainer(m, _faces(), tmp_path, recipe.TrainConfig(batch_size=4, lr=1e-3), "cpu")
    assert {flat.lr_at(s) for s in (0, 50, 5000)} == {1e-3}


def test_cpu_bf16_autocast_runs_in_bf16_and_the_loss_falls(tmp_path):
    m = model.FaceSwapModel.create("lite", ["ana", "ben"])
    seen = []
    m.encoder.convs.register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    cfg = recipe.TrainConfig(batch_size=8, lr=3e-4, warp=0, precision="bf16")
    t = train.Trainer(m, _faces(), tmp_path / "m", cfg, "cpu")
    t.train(60, progress=False)
    assert seen and set(seen) == {torch.bfloat16}  # the convolutions ran under CPU bf16 autocast
    assert all(p.dtype == torch.float32 for p in m.parameters())  # the weights stay fp32
    for p in ("ana", "ben"):
        early = np.mean([h[p] for h in t.history[:10]])
        late = np.mean([h[p] for h in t.history[-10:]])
        assert late < 0.85 * early, (p, early, late)
    with pytest.raises(FaceswapError, match="precision 'fp16'"):
        train.Trainer(m, _faces(), tmp_path, recipe.TrainConfig(batch_size=4, precision="fp16"), "cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_a_device_this_machine_lacks_is_one_line_before_training(tmp_path):
    from faceswap_core.device import pick_device

    with pytest.raises(FaceswapError, match="no CUDA GPU"):
        pick_device("cuda")
    with pytest.raises(FaceswapError, match="'gpu' is not a device name"):
        pick_device("gpu")
    assert pick_device("cpu") == "cpu"
    out = subprocess.run([sys.executable, "-m", "faceswap_core.cli", "train", "--workspace", str(tmp_path),
                          "--persons", "ana", "ben", "--steps", "5", "--device", "cuda"],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode != 0 and "Traceback" not in out.stderr
    assert "device 'cuda': this machine has no CUDA GPU" in out.stderr
    assert not (tmp_path / "models").exists()


def test_a_second_trainer_of_one_model_is_refused_and_loses_nothing(tmp_path):
    from faceswap_core.files import lock

    faces = _faces()
    cfg = recipe.TrainConfig(batch_size=4)
    first = train.Trainer(model.FaceSwapModel.create("lite", ["ana", "ben"]), faces, tmp_path / "m", cfg, "cpu")
    first.train(2, progress=False)
    saved = checkpoint.latest(tmp_path / "m")
    second = train.Trainer.resume(tmp_path / "m", faces, device="cpu")
    with lock(tmp_path / "m", "this model"):  # as if another `train --resume` of this model were running
        with pytest.raises(FaceswapError, match="this model is being written by pid"):
            second.train(4, progress=False)
    assert second.step == 2 and checkpoint.latest(tmp_path / "m") == saved  # refused before any step or write
    second.train(4, progress=False)  # the lock is free again
    assert checkpoint.latest(tmp_path / "m").name == "step-0000004"


def _torchrun(mode: str, out: Path) -> subprocess.CompletedProcess:
    import socket

    with socket.socket() as s:  # a free port on the loopback for the rendezvous
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    worker = Path(__file__).with_name("ddp_worker.py")
    return subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           "--master_addr", "127.0.0.1", "--master_port", str(port), str(worker), mode, str(out)],
                          capture_output=True, text=True, timeout=300, env=env)


def test_ddp_replicas_stay_identical_and_resume_exactly(tmp_path):
    out = _torchrun("train", tmp_path)
    assert out.returncode == 0, out.stderr[-3000:]
    r0, r1 = (load_file(str(tmp_path / f"straight{r}.safetensors")) for r in (0, 1))
    start = model.FaceSwapModel.create("lite", ["a", "b"], seed=0).state_dict()
    for k in r0:
        assert torch.equal(r0[k], r1[k]), k  # DistributedDataParallel kept the replicas in step
    assert any(not torch.equal(r0[k], start[k]) for k in r0)  # they trained, together
    losses = [json.loads((tmp_path / f"losses{r}.json").read_text()) for r in (0, 1)]
    assert losses[0] != losses[1]  # each rank drew its own batches (data parallel, not the same work twice)
    for r in (0, 1):  # 3 steps, a checkpoint, a resume to 6 under DDP: the same weights as 6 straight
        resumed = load_file(str(tmp_path / f"resumed{r}.safetensors"))
        for k in r0:
            assert torch.equal(resumed[k], r0[k]), (r, k)
    previews = sorted(p.name for p in (tmp_path / "straight" / "previews").iterdir())
    assert previews == ["step-0000002.png", "step-0000004.png", "step-0000006.png"]  # one writer: rank 0
    assert checkpoint.latest(tmp_path / "straight").name.endswith("6")


def test_ddp_processes_that_disagree_stop_with_one_line(tmp_path):
    out = _torchrun("disagree", tmp_path)
    assert out.returncode != 0
    assert "torchrun processes disagree about config" in out.stderr
    assert "Traceback" not in out.stderr.split("rank 0:")[0][-200:]
    assert not (tmp_path / "m").exists()  # nothing was written


def test_bad_inputs_are_clear_errors(tmp_path):
    faces = _faces(n=3)
    m = model.FaceSwapModel.create("lite", ["ana", "ben"])
    with pytest.raises(FaceswapError, match="fewer than the batch size"):
        train.Trainer(m, faces, tmp_path, recipe.TrainConfig(batch_size=8), "cpu")
    mixed = {"ana": _faces(size=96)["ana"], "ben": _faces(size=64)["ben"]}
    with pytest.raises(FaceswapError, match="different crop sizes"):
        train.Trainer(m, mixed, tmp_path, recipe.TrainConfig(batch_size=2), "cpu")
    with pytest.raises(FaceswapError, match="no checkpoint"):
        checkpoint.load_model(tmp_path / "nothing")


def test_corrupt_checkpoint_is_reported_and_the_previous_still_loads(tmp_path):
    faces = _faces()
    t = train.Trainer(model.FaceSwapModel.create("lite", ["ana", "ben"]), faces, tmp_path / "m",
                      recipe.TrainConfig(batch_size=4), "cpu")
    t.train(1, progress=False)
    t.train(2, progress=False)
    older, newer = checkpoint.checkpoints(tmp_path / "m")
    data = (newer / "model.safetensors").read_bytes()
    (newer / "model.safetensors").write_bytes(data[: len(data) // 3])  # truncated
    with pytest.raises(FaceswapError, match="damaged checkpoint file") as e:
        checkpoint.load_model(tmp_path / "m")
    assert "\n" not in str(e.value)
    assert checkpoint.load_model(older).persons == ["ana", "ben"]
    with pytest.raises(FaceswapError, match="not 'original'"):
        checkpoint.load_model(older, expect_config="original")
    (newer / "state.json").write_text("{")
    with pytest.raises(FaceswapError, match="state.json: damaged"):
        checkpoint.load_model(newer)


@pytest.mark.parametrize("how", ["SIGINT", "SIGTERM", "twice"])
def test_a_stop_inside_a_step_leaves_whole_steps_and_resume_is_bit_exact(tmp_path, how):
    """The signal lands after ana's update of step 3 and before ben's: training stops after the step (its
    checkpoint holds whole steps); a second signal in the same step stops at once and saves nothing (the
    checkpoint of step 2 stands). Either way the resumed run ends on exactly the weights and optimizer of a run
    never stopped."""
    import signal

    faces = _faces()
    cfg = recipe.TrainConfig(batch_size=2, checkpoint_every=1, preview_every=0, lr=3e-4)

    def trainer(name: str) -> train.Trainer:
        return train.Trainer(model.FaceSwapModel.create("lite", ["ana", "ben"], seed=1), faces, tmp_path / name,
                             cfg, "cpu")

    cut = trainer("cut")
    batch = cut.batch

    def stop_between_persons(person: str):
        if cut.step == 2 and person == "ben":
            for _ in range(2 if how == "twice" else 1):
                os.kill(os.getpid(), getattr(signal, "SIGINT" if how == "twice" else how))
        return batch(person)

    cut.batch = stop_between_persons
    with pytest.raises(KeyboardInterrupt):
        cut.train(6, progress=False)
    saved = checkpoint.load_model(tmp_path / "cut", with_state=True)[1]["step"]
    assert saved == (2 if how == "twice" else 3)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # the handlers are given back
    resumed = train.Trainer.resume(tmp_path / "cut", faces, device="cpu")
    assert resumed.step == saved and [h["step"] for h in resumed.history] == list(range(1, saved + 1))
    resumed.train(6, progress=False)
    whole = trainer("whole")
    whole.train(6, progress=False)
    for a, b in ((resumed.model.state_dict(), whole.model.state_dict()),
                 (checkpoint._optim_tensors(resumed.optims), checkpoint._optim_tensors(whole.optims))):
        assert a.keys() == b.keys()
        for k in a:
            assert torch.equal(a[k], b[k]), k


def test_resume_refuses_damaged_state_and_going_back(tmp_path):
    faces = _faces()
    t = train.Trainer(model.FaceSwapModel.create("lite", ["ana", "ben"]), faces, tmp_path / "m",
                      recipe.TrainConfig(batch_size=2, preview_every=0), "cpu")
    t.train(2, progress=False)
    with pytest.raises(FaceswapError, match=r"steps 1: .*already at step 2; give more steps"):
        t.train(1, progress=False)
    before = (tmp_path / "m/history.json").read_bytes()
    assert t.train(2, progress=False) and (tmp_path / "m/history.json").read_bytes() == before  # nothing to do
    state_file = checkpoint.latest(tmp_path / "m") / "state.json"
    good = state_file.read_text()
    for step, shown in (("abc", "'abc'"), (-7, "-7"), (2.5, "2.5"), (True, "True"), (None, "None")):
        state_file.write_text(json.dumps({**json.loads(good), "step": step}))
        with pytest.raises(FaceswapError, match=rf"state.json: damaged \(step {shown}\)"):
            train.Trainer.resume(tmp_path / "m", faces, device="cpu")
    for dense, why in ((1 << 40, "dense"), (60000, "million parameters"), ("wide", "dense")):
        state = json.loads(good)
        state["model_config"]["dense"] = dense
        state_file.write_text(json.dumps(state))
        with pytest.raises(FaceswapError, match=rf"state.json: damaged \({why}|state.json: damaged \(.*{why}"):
            checkpoint.load_model(tmp_path / "m")
    state_file.write_text(good)
    for history in ("", "{", "[1, 2]", '[{"no_step": 1}]'):
        (tmp_path / "m/history.json").write_text(history)
        with pytest.raises(FaceswapError, match=r"history.json: damaged"):
            train.Trainer.resume(tmp_path / "m", faces, device="cpu")


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_cli_train_ctrl_c_or_kill_saves_and_resume_continues(cast_clip, tmp_path, sig):
    import signal
    import time

    from faceswap_core.faces import extraction

    for p in ("ines", "copy"):
        extraction.extract(cast_clip, p, tmp_path, detector="truth", size=64, progress=False)
    cmd = [sys.executable, "-m", "faceswap_core.cli", "train", "--persons", "ines", "copy", "--steps", "100000",
           "--batch-size", "4", "--preview-every", "1", "--workspace", str(tmp_path)]
    settings = ["--lr", "3e-4", "--no-masked", "--ssim", "0.1", "--checkpoint-every", "7", "--no-decay"]
    # Ctrl-C reaches a program run from a terminal; a test run started in the background by a shell without
    # job control (`pytest &`) has SIGINT ignored, and children inherit that: give the child the terminal's default
    proc = subprocess.Popen(cmd + settings, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    previews = tmp_path / "models/ines-copy-lite/previews"
    deadline = time.monotonic() + 120
    while not (previews.exists() and any(previews.iterdir())) and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(getattr(signal, sig))  # Ctrl-C, or a plain `kill`
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    assert "Traceback" not in err and "checkpoint saved" in out
    step = checkpoint.load_model(tmp_path / "models/ines-copy-lite", with_state=True)[1]["step"]
    assert step >= 1
    again = subprocess.run(cmd[:8] + [str(step + 2)] + cmd[9:], capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and "--resume" in again.stderr  # an existing model is never restarted silently
    resumed = subprocess.run(cmd[:8] + [str(step + 2)] + cmd[9:] + ["--resume"], capture_output=True, text=True,
                             timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert f"step {step + 2}" in resumed.stdout
    cfg = checkpoint.load_model(tmp_path / "models/ines-copy-lite", with_state=True)[1]["train_config"]
    # --resume without the flags keeps the saved settings; it does not fall back to the CLI's defaults
    assert (cfg["lr"], cfg["masked"], cfg["ssim_weight"], cfg["checkpoint_every"], cfg["decay_steps"]) == \
        (3e-4, False, 0.1, 7, 0)
    changed = subprocess.run(cmd[:8] + [str(step + 3)] + cmd[9:] + ["--resume", "--lr", "2e-4"],
                             capture_output=True, text=True, timeout=300)
    assert changed.returncode == 0, changed.stderr[-2000:]
    cfg = checkpoint.load_model(tmp_path / "models/ines-copy-lite", with_state=True)[1]["train_config"]
    assert (cfg["lr"], cfg["masked"], cfg["ssim_weight"]) == (2e-4, False, 0.1)  # only the flag given changed
    assert "changed: lr 0.0003 -> 0.0002" in changed.stdout
    bad = subprocess.run(cmd[:8] + ["10"] + cmd[9:] + ["--model", "other", "--lr", "-1"], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 2, bad.stderr
    assert bad.stderr.strip() == ("faceswap-core train: error: argument --lr: -1: it must be above 0 and at most 1; "
                                  "see faceswap-core train --help")  # refused at parse time: one line, no usage


@pytest.mark.parametrize("sig", ["SIGKILL", "SIGTERM"])
def test_cli_resume_after_kill_9_or_term_is_bit_exact_with_the_saved_settings(cast_clip, tmp_path, sig):
    """A run killed (kill -9: at its last checkpoint; kill: it saves where it is) and resumed with `--resume`
    alone ends with exactly the weights and optimizer of a run never stopped; no temp of the killed run stays."""
    import signal
    import time

    from faceswap_core.faces import extraction

    for p in ("ines", "copy"):
        extraction.extract(cast_clip, p, tmp_path, detector="truth", size=64, progress=False)
    cmd = [sys.executable, "-m", "faceswap_core.cli", "train", "--persons", "ines", "copy", "--workspace",
           str(tmp_path)]
    settings = ["--batch-size", "2", "--lr", "3e-4", "--no-masked", "--ssim", "0.1", "--no-decay", "--seed", "3",
                "--checkpoint-every", "2", "--preview-every", "1000"]
    cut = tmp_path / "models/cut"
    proc = subprocess.Popen(cmd + settings + ["--steps", "100000", "--model", "cut"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not (cut / "latest").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(getattr(signal, sig))
    proc.communicate(timeout=120)
    assert proc.returncode == (-9 if sig == "SIGKILL" else 130)
    killed_at = checkpoint.load_model(cut, with_state=True)[1]["step"]
    end = killed_at + 3
    resumed = subprocess.run(cmd + ["--steps", str(end), "--model", "cut", "--resume"], capture_output=True,
                             text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert "with its saved settings" in resumed.stdout
    whole = subprocess.run(cmd + settings + ["--steps", str(end), "--model", "whole"], capture_output=True, text=True,
                           timeout=300)
    assert whole.returncode == 0, whole.stderr[-2000:]
    a, b = (checkpoint.checkpoints(tmp_path / "models" / m)[-1] for m in ("cut", "whole"))
    assert a.name == b.name == f"step-{end:07d}"
    for f in ("model.safetensors", "optim.safetensors"):
        x, y = load_file(str(a / f)), load_file(str(b / f))
        assert x.keys() == y.keys() and all(torch.equal(x[k], y[k]) for k in x), f"{f} differs after resume"
    leftovers = [p.name for p in cut.rglob("*") if ".tmp-" in p.name or ".part-" in p.name]
    assert not leftovers


def test_resume_is_exact_with_the_code_critic_and_the_remedies(tmp_path):
    """The code critic's weights and optimizer travel with the checkpoint; eyes/mouth weighting and warp-off
    are pure functions of the step: a resumed run ends with the same weights as a straight one."""
    faces = _faces()
    cfg = recipe.TrainConfig(batch_size=4, lr=1e-3, seed=2, masked=True, code_critic=0.2, eyes_mouth=1.0,
                             warp_off=0.4, decay_steps=5)
    a, b = _straight_and_resumed(tmp_path, lambda: model.FaceSwapModel.create("lite", ["ana", "ben"], seed=2),
                                 faces, cfg)
    for k, v in a.critic.state_dict().items():
        assert torch.equal(v, b.critic.state_dict()[k]), k
    assert [h["critic"] for h in a.history] == [h["critic"] for h in b.history]
    assert [a.warp_at(s) for s in range(6)] == [1.0, 1.0, 1.0, 0.0, 0.0, 0.0]  # off for the last 40% of 5


def test_code_critic_learns_to_tell_the_persons_apart_and_the_encoder_is_pushed_back(tmp_path):
    faces = _faces()
    t = train.Trainer(model.FaceSwapModel.create("lite", ["ana", "ben"], seed=1), faces, tmp_path,
                      recipe.TrainConfig(batch_size=4, lr=1e-3, code_critic=1.0), "cpu")
    t.train(3, progress=False)
    assert all(0 < h["critic"] < 5 for h in t.history)  # a cross-entropy over two persons, learning
    # the encoder's loss includes the critic's: a zero-weight run of the same seed draws other weights
    plain = train.Trainer(model.FaceSwapModel.create("lite", ["ana", "ben"], seed=1), faces, tmp_path / "p",
                          recipe.TrainConfig(batch_size=4, lr=1e-3), "cpu")
    plain.train(3, progress=False)
    assert plain.critic is None
    enc = "encoder.to_code.weight"
    assert not torch.equal(t.model.state_dict()[enc], plain.model.state_dict()[enc])


def _identity_model(seed: int = 2, film: int = 1) -> model.FaceSwapModel:
    shape = dataclasses.replace(model.get_config("lite"), identity_dim=8, identity_film=film)
    m = model.FaceSwapModel.create(shape, ["ana", "ben"], seed=seed)
    with torch.no_grad():  # as if from a --swaps base: the vector and FiLM already mean something
        for d in m.decoders.values():
            d.film.weight.normal_(0, 0.05, generator=torch.Generator().manual_seed(seed))
    return m


def test_film_conditioning_starts_neutral_and_the_vector_then_changes_every_layer():
    shape = dataclasses.replace(model.get_config("lite"), identity_dim=8, identity_film=1)
    m = model.FaceSwapModel.create(shape, ["ana"], seed=0)
    plain = model.FaceSwapModel.create(dataclasses.replace(shape, identity_film=0), ["ana"], seed=0)
    plain.load_state_dict({k: v for k, v in m.state_dict().items() if "film" not in k})
    x = torch.rand(2, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(m(x, "ana"), plain(x, "ana"))  # FiLM starts at scale 1, shift 0
        m.decoders["ana"].film.bias.fill_(0.5)
        assert not torch.allclose(m(x, "ana"), plain(x, "ana"))
    assert model.ModelConfig.from_dict(json.loads(shape.to_json())) == shape
    with pytest.raises(ValueError, match="identity_film"):
        model.ModelConfig.from_dict({**json.loads(shape.to_json()), "identity_film": 2})


def test_identity_fit_moves_only_the_vectors_and_lowers_their_loss(tmp_path):
    faces = _faces()
    m = _identity_model()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    t = train.Trainer(m, faces, tmp_path / "m", recipe.TrainConfig(batch_size=4, lr=1e-3, identity_fit=30), "cpu")
    t.gen.manual_seed(5)
    x, y, mask = t.batch("ben")
    with torch.no_grad():
        start = float(t.loss(m(x, "ben"), y, mask))
    remedies.fit_identities(t, 30)
    with torch.no_grad():
        end = float(t.loss(m(x, "ben"), y, mask))
    moved = [k for k, v in m.state_dict().items() if not torch.equal(v, before[k])]
    assert sorted(moved) == ["decoders.ana.identity", "decoders.ben.identity"]
    assert end < start
    assert all(q.grad is None for q in m.parameters())


def test_identity_and_decoder_rates_are_groups_of_their_own_and_resume_stays_exact(tmp_path):
    faces = _faces()
    cfg = recipe.TrainConfig(batch_size=4, lr=1e-3, seed=2, masked=True, identity_fit=3, identity_lr=10.0,
                             decoder_lr=0.0, decay_steps=5)
    start = _identity_model().state_dict()
    a, b = _straight_and_resumed(tmp_path, _identity_model, faces, cfg)
    assert [g["scale"] for g in a.optims["ana"].param_groups] == [1.0, 0.0, 10.0]
    after = a.model.state_dict()
    frozen = [k for k in after if k.startswith("decoders.") and not k.endswith("identity")]
    assert frozen and all(torch.equal(after[k], start[k]) for k in frozen)  # decoder_lr 0: frozen
    assert not torch.equal(after["encoder.to_code.weight"], start["encoder.to_code.weight"])
    for m in (model.FaceSwapModel.create("lite", ["ana", "ben"]), _identity_model()):
        plain = train.Trainer(m, faces, tmp_path / "p", recipe.TrainConfig(batch_size=4), "cpu")
        # default rates: one group in the order earlier checkpoints saved, so they still resume
        [group] = plain.optims["ana"].param_groups
        order = list(m.encoder.parameters()) + list(m.decoders["ana"].parameters())
        assert len(group["params"]) == len(order) and all(q is r for q, r in zip(group["params"], order))


def _straight_and_resumed(tmp_path, make, faces, cfg, steps=(2, 5)):
    """Two runs of the same model and settings: one straight to the last step, one stopped and resumed at
    each of `steps`; both must end with the same weights (checked here). Returns their trainers."""
    runs = {}
    for name, stops in (("straight", steps[-1:]), ("resumed", steps)):
        t = train.Trainer(make(), faces, tmp_path / name, cfg, "cpu")
        for i, stop in enumerate(stops):
            if i:
                t = train.Trainer.resume(tmp_path / name, faces, device="cpu")
            t.train(stop, progress=False)
        runs[name] = t
    a, b = runs["straight"], runs["resumed"]
    for k, v in a.model.state_dict().items():
        assert torch.equal(v, b.model.state_dict()[k]), k
    return a, b
