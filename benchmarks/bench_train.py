"""Training throughput and time-to-quality.

Run: .venv/bin/python benchmarks/bench_train.py [--skip-throughput] [--minutes 5] [--pair ines tomas]
     [--motion-seed 0] [--lr 1e-3] [--batch-size 32] [--no-masked] [--ssim 0.5] [--channels-last]
     [--clip-grad 1.0] [--warmup 0] [--decay-steps 0] [--color-transfer 0] [--precision auto]
     [--config lite] [--device cpu] [--save DIR] [--label NAME]
(defaults: the kept settings of docs/training.md)

1. samples/s of `original` and `lite` at batch 32 and 64 (forward + backward + Adam, warped batches, the kept
   loss), in fp32 and CPU/CUDA bf16 autocast (and channels_last for lite at batch 32),
   the achieved GFLOP/s (FLOPs counted by torch's FlopCounterMode) next to a plain matmul's GFLOP/s
   measured in the same run: the ratio is the figure.
2. time-to-quality, the headline figure: a lite model trained on the quick profile's data (150-frame cast
   clips of the pair rendered with --motion-seed, truth landmarks, 256 px crops) is scored every
   --eval-seconds on a held-out probe that sweeps A's head across the whole turn (`truth_probe.sweep_probe`).
   gain = (swap SSIM - no-swap SSIM) / (perfect-decoder SSIM - no-swap SSIM); printed against wall time
   (training only: scoring time is excluded) and steps, with the times to 50%, 70% and 80% of the gain.
"""

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from faceswap_core import collect
from faceswap_core.evaluation import code_probe, recognition, truth_probe
from faceswap_core.faces import extraction, identity
from faceswap_core.training import model, pretrain, recipe, remedies, train


def matmul_gflops(n: int = 2048, reps: int = 10) -> float:
    a, b = torch.rand(n, n), torch.rand(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9


def flops_per_sample(m: model.FaceSwapModel) -> float:
    x = torch.rand(4, 3, 64, 64)
    with FlopCounterMode(display=False) as fc:
        m(x, m.persons[0]).abs().mean().backward()
    m.zero_grad()
    return fc.get_total_flops() / 4


def throughput(name: str, batch: int, steps: int, device: str, **settings) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    faces = {p: (rng.integers(0, 255, (batch, 128, 128, 3), dtype=np.uint8), np.full((batch, 128, 128), 255, np.uint8))
             for p in ("a", "b")}
    m = model.FaceSwapModel.create(name, ["a", "b"])
    fl = flops_per_sample(m)
    t = train.Trainer(m, faces, tempfile.mkdtemp(), recipe.TrainConfig(batch_size=batch, **settings), device)
    t.train_step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        t.train_step()
    rate = steps * 2 * batch / (time.perf_counter() - t0)
    return rate, fl


def _network_view(images, coverage: float) -> torch.Tensor:
    """Face-set crops (N, H, W, 3) uint8 as the network sees them, unwarped: (N, 3, 64, 64)."""
    from faceswap_core.training import augment

    x = augment.to_tensor(images)
    return augment.random_warp(x, torch.Generator(), 64, coverage, strength=0)[1]


def _setting(text: str, defaults=recipe.TrainConfig()) -> tuple[str, object]:
    name, _, value = text.partition("=")
    kind = type(getattr(defaults, name))
    return name, (value.lower() in ("1", "true", "yes") if kind is bool else kind(value))


def time_to_quality(args) -> dict:

    a, b = args.pair
    ws = Path(tempfile.mkdtemp())
    sources = {a: f"synthetic:{a}", b: f"synthetic:{b}"}
    recs = collect.collect_many(sources, ws, frames=150, size=256, seed=2 * args.motion_seed)
    for p, r in recs.items():
        extraction.extract(r.path(ws, p), p, ws, detector="truth", size=256, progress=False)
    clip = truth_probe.sweep_clip(ws, a, frames=24, seed=99)  # frames never trained on
    judge = recognition.RecognitionProbe.from_clip(clip, b, identity.person_means(ws, a, b), n=24)
    nothing, pasted = (judge.nothing()["recognised_as_target"], judge.ceiling()["recognised_as_target"])
    at_output = judge.ceiling(model.get_config(args.config).image_size)["recognised_as_target"]
    faces = train.load_faces(ws, [a, b])
    cfg = recipe.TrainConfig(batch_size=args.batch_size, lr=args.lr, masked=args.masked, ssim_weight=args.ssim,
                            seed=args.motion_seed, channels_last=args.channels_last,
                            clip_grad=args.clip_grad, warmup=args.warmup, decay_steps=args.decay_steps,
                            color_transfer=args.color_transfer, precision=args.precision,
                            code_critic=args.code_critic, warp=args.warp, **dict(_setting(kv) for kv in args.set))
    # the probe shows the model the view it trains on (a model sees `coverage` of the crop)
    probe = truth_probe.TruthProbe.from_clip(clip, b, n=24, coverage=cfg.coverage)
    base, ceiling = probe.baseline()["ssim"], probe.ceiling()["ssim"]
    shape = dataclasses.replace(model.get_config(args.config), **dict(_setting(kv, model.get_config(args.config))
                                                                     for kv in args.model_set))
    if args.base:  # encoder and both decoders from a pretrained base
        m = pretrain.from_base([a, b], args.config, args.base)
    else:
        m = model.FaceSwapModel.create(shape, [a, b], seed=args.motion_seed)
    if args.shared_decoder:
        remedies.share_decoders(m)
    t = train.Trainer(m, faces, Path(args.save) if args.save else ws / "model", cfg, args.device)
    print(f"time-to-quality [{args.label}]: {a}->{b}, motion seed {args.motion_seed}, "
          f"{'from ' + args.base if args.base else 'from scratch'}, {cfg}; no swap SSIM "
          f"{base:.3f}, perfect decoder {ceiling:.3f}; recognised as {b}: no swap {nothing:.0%}, "
          f"classic ceiling {pasted:.0%} ({at_output:.0%} when cut at the model's output size)", flush=True)
    curve, trained, reached, known = [], 0.0, {}, {}
    fitting = cfg.identity_fit and any(hasattr(d, "identity") for d in t.model.decoders.values())
    if fitting:  # the vectors fitted alone first (Trainer.train does it at step 0): training time too
        t0 = time.perf_counter()
        remedies.fit_identities(t, cfg.identity_fit)
        trained += time.perf_counter() - t0
    while trained < args.minutes * 60:
        t0 = time.perf_counter()
        at_start = bool(fitting) and not curve  # first: what the fitted vectors alone draw
        while not at_start and time.perf_counter() - t0 < args.eval_seconds:
            t.train_step()
        trained += time.perf_counter() - t0
        s = probe.score(t.model, b)["ssim"]
        g = probe.gain(s)
        v = judge.score(t.model)
        r = v["recognised_as_target"]
        curve.append((t.step, trained, s, g, r))
        print(f"  step {t.step:5d}  {trained / 60:5.2f} min  swap SSIM {s:.3f}  gain {g:6.1%}  recognised as {b} "
              f"{r:4.0%} (distance to {a} {v['to_source']:.3f}, to {b} {v['to_target']:.3f})", flush=True)
        for level in (0.5, 0.7, 0.8):
            if level not in reached and g >= level:
                reached[level] = (trained, t.step)
            if level not in known and r >= level * pasted:
                known[level] = (trained, t.step)
    held_b = truth_probe.TruthProbe.from_clip(truth_probe.sweep_clip(ws, b, frames=24, seed=99), a, n=24,
                                              coverage=cfg.coverage).source
    train_codes = [code_probe.codes(t.model, _network_view(faces[p][0], cfg.coverage)) for p in (a, b)]
    held_codes = [code_probe.codes(t.model, x) for x in (probe.source, held_b)]
    sep = code_probe.linear_probe(*train_codes, *held_codes)
    far = code_probe.outside(held_codes[0], train_codes[1])
    print(f"RESULT [{args.label}] {a}->{b} seed {args.motion_seed}: the code says who it is: linear probe "
          f"held-out accuracy {sep:.0%}; {a}'s held-out codes lie {far:.2f}x B's nearest-neighbour spacing "
          f"from {b}'s training codes", flush=True)
    if args.figure:  # A's held-out faces, the swap, B's truth; then A's swap through the recogniser's eyes
        import cv2

        from faceswap_core.training import augment

        pick = slice(0, 24, 3)
        rows = [probe.source[pick], probe.swap(t.model, b)[pick], probe.truth[pick], held_b[pick],
                code_probe.decode(t.model, held_b[pick], b)]
        grid = np.concatenate([np.concatenate(list(augment.to_images(r)), 1) for r in rows], 0)
        cv2.imwrite(args.figure, cv2.cvtColor(cv2.resize(grid, None, fx=2, fy=2), cv2.COLOR_RGB2BGR))
        print(f"figure: {args.figure} (rows: {a}'s held-out faces, the swap, {b}'s truth, "
              f"{b}'s held-out faces, decoder {b} redrawing them)", flush=True)
    if args.save:  # the final model, for a closer look (per-yaw scores, previews)
        ckpt = t.save()
        print(f"saved {ckpt}", flush=True)
    samples = t.step * 2 * args.batch_size / trained

    def cells(hit, levels):
        return "  ".join(f"{int(100 * lv)}%: " + (f"{hit[lv][0] / 60:.1f} min ({hit[lv][1]} steps)"
                                                 if lv in hit else "not reached") for lv in levels)

    best = max(c[3] for c in curve)
    print(f"RESULT [{args.label}] {a}->{b} seed {args.motion_seed}: SSIM gain {cells(reached, (0.5, 0.7, 0.8))}; "
          f"best gain {best:.1%}, final {curve[-1][3]:.1%} (SSIM {max(c[2] for c in curve):.3f}); "
          f"{samples:.0f} samples/s", flush=True)
    print(f"RESULT [{args.label}] {a}->{b} seed {args.motion_seed}: recognised as {b} (of the ceiling's "
          f"{pasted:.0%}, no swap {nothing:.0%}) {cells(known, (0.5, 0.8))}; best {max(c[4] for c in curve):.0%}, "
          f"final {curve[-1][4]:.0%}", flush=True)
    return {"reached": reached, "recognised": known, "best": best, "samples_per_s": samples}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--skip-ttq", action="store_true")
    ap.add_argument("--minutes", type=float, default=5, help="training time of the time-to-quality run")
    ap.add_argument("--eval-seconds", type=float, default=15, help="training seconds between probe scores")
    ap.add_argument("--pair", nargs=2, default=["ines", "tomas"], metavar=("A", "B"))
    ap.add_argument("--motion-seed", type=int, default=0)
    # defaults: the kept settings of docs/training.md (the CLI's and chapter 04's for lite)
    ap.add_argument("--lr", type=float, default=1e-3)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--masked", action=argparse.BooleanOptionalAction, default=True)
    ap.add_argument("--ssim", type=float, default=0.5)
    ap.add_argument("--channels-last", action="store_true")
    ap.add_argument("--clip-grad", type=float, default=1.0)
    ap.add_argument("--warmup", type=int, default=0, help="steps of lr warm-up")
    ap.add_argument("--decay-steps", type=int, default=0, help="cosine lr decay over this many steps (0 = none)")
    ap.add_argument("--color-transfer", type=float, default=0.0, help="share of inputs recoloured")
    ap.add_argument("--code-critic", type=float, default=0.0, help="weight of the code critic (true face power)")
    ap.add_argument("--warp", type=float, default=1.0, help="strength of the random warp")
    ap.add_argument("--shared-decoder", action="store_true",
                    help="one decoder for both persons, told apart by their identity vectors (needs a --swaps base)")
    ap.add_argument("--set", nargs="*", default=[], metavar="NAME=VALUE", help="any other TrainConfig setting")
    ap.add_argument("--base", help="start from this pretrained base file (default: from scratch)")
    ap.add_argument("--model-set", nargs="*", default=[], metavar="NAME=VALUE", help="a ModelConfig change")
    ap.add_argument("--config", default="lite", help="model config (lite or original)")
    ap.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N")
    ap.add_argument("--precision", default="auto", choices=["auto", "bf16", "fp32"])
    ap.add_argument("--save", help="a model folder to save the final checkpoint in")
    ap.add_argument("--label", default="default")
    ap.add_argument("--figure", help="a PNG of held-out faces, their swaps and the truth at the end")
    args = ap.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    if not args.skip_throughput:
        mm = matmul_gflops()
        print(f"plain 2048x2048 matmul: {mm:.1f} GFLOP/s")
        kept = dict(lr=args.lr, masked=args.masked, ssim_weight=args.ssim, clip_grad=args.clip_grad)
        variants = [("fp32", dict(precision="fp32")), ("bf16", dict(precision="bf16")),
                    ("fp32 channels_last", dict(precision="fp32", channels_last=True)),
                    ("bf16 channels_last", dict(precision="bf16", channels_last=True))]
        for name in ("lite", "original"):
            for batch in (32, 64):
                for label, v in variants if name == "lite" and batch == 32 else variants[:1] + [
                        ("bf16", dict(precision="bf16"))]:
                    steps = 6 if name == "lite" else 1
                    rate, fl = throughput(name, batch, steps, args.device, **kept, **v)
                    gf = rate * fl / 1e9
                    print(f"{name:<8} batch {batch:>2} {label:<19}: {rate:7.1f} samples/s, {fl / 1e9:6.2f} "
                          f"GFLOP/sample, {gf:6.1f} GFLOP/s = {gf / mm:.2f} x matmul", flush=True)
    if not args.skip_ttq:
        time_to_quality(args)


if __name__ == "__main__":
    main()
