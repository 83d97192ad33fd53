"""Metrics for the claims (constructed cases) and the cached experiment grid (tiny settings)."""

import json

import numpy as np
import pytest
import torch

from faceswap_core import FaceswapError, synth
from faceswap_core.evaluation import claims, experiments, truth_scores
from faceswap_core.training import model


def test_identity_score_is_plus_one_for_the_truth_and_minus_one_for_the_source():
    rng = torch.Generator().manual_seed(0)
    src, tru = torch.rand(1, 3, 16, 16, generator=rng), torch.rand(1, 3, 16, 16, generator=rng)
    m = torch.ones(1, 1, 16, 16)
    assert truth_scores.l1_toward_target(tru, src, tru, m) == pytest.approx(1.0)
    assert truth_scores.l1_toward_target(src, src, tru, m) == pytest.approx(-1.0)
    assert truth_scores.l1_toward_target((src + tru) / 2, src, tru, m) == pytest.approx(0.0, abs=1e-6)


def test_the_right_person_scores_better_than_the_wrong_one_against_the_truth(cast_clip):
    """The truth of a swap into tomas, scored: tomas rendered there is perfect, kofi there is worse."""
    truth = synth.load_truth(cast_clip)
    i = 5
    right = synth.swap_truth(synth.CAST["tomas"], truth, i)
    wrong = synth.swap_truth(synth.CAST["kofi"], truth, i)
    region = truth_scores.frame_region(truth.landmarks[i], right.mask)
    t = lambda img: torch.from_numpy(img[None]).permute(0, 3, 1, 2).float() / 255  # noqa: E731
    m = torch.from_numpy(region[None, None].astype(np.float32))
    perfect = truth_scores.scores(t(right.frame), t(right.frame), m)
    worse = truth_scores.scores(t(wrong.frame), t(right.frame), m)
    assert perfect["ssim"] == pytest.approx(1.0, abs=1e-5) and perfect["l1"] == 0
    assert worse["ssim"] < 0.9 and worse["l1"] > 0.02 and worse["psnr"] < perfect["psnr"]


def test_frame_errors_against_constructed_swaps(cast_clip):
    """frame_errors on 'swaps' that are the truth itself, and on the untouched source frames."""
    truth = synth.load_truth(cast_clip)
    idx = np.array([0, 10, 20])
    perfect = np.stack([synth.swap_truth(synth.CAST["tomas"], truth, int(i)).frame for i in idx])
    e = truth_scores.frame_errors(cast_clip, perfect, "tomas", idx)
    assert np.allclose(e["swap_l1"], 0) and np.allclose(e["l1_toward_target"], 1)
    assert np.all(e["source_l1"] > 0.02) and np.allclose(e["yaw"], [truth.conditions[i].yaw for i in idx])
    from faceswap_core import media

    frames, _ = media.read_frames(cast_clip)
    e = truth_scores.frame_errors(cast_clip, frames[idx], "tomas", idx)
    assert np.allclose(e["swap_l1"], e["source_l1"]) and np.allclose(e["l1_toward_target"], -1)


def test_by_yaw_bins_absolute_yaw():
    rows = truth_scores.by_yaw(np.array([-80, -10, 5, 20, 89.9, 90]), np.array([1, 2, 4, 6, 8, 10.0]), (0, 30, 60, 90))
    assert rows == [{"yaw": "0-30", "n": 3, "mean": 4.0}, {"yaw": "30-60", "n": 0, "mean": None},
                    {"yaw": "60-90", "n": 3, "mean": pytest.approx(19 / 3)}]


def test_probe_core_mask_covers_the_microphone_that_the_skin_mask_leaves_out(tmp_path):
    exp = experiments.Experiment()
    mic = experiments.held_out_probe(tmp_path, exp, frames=6, occluder="microphone")
    frontal = int(np.argmin(np.abs(mic.yaw)))
    skin, core = mic.mask[frontal, 0] > 0.5, mic.core[frontal, 0] > 0.5
    assert core.sum() > 200 and (core & ~skin).sum() > 50  # the microphone hides part of the core


def test_steps_to_reach():
    curve = [{"step": s, "ssim": v} for s, v in ((0, 0.5), (50, 0.6), (100, 0.58), (150, 0.7))]
    assert claims.steps_to_reach(curve, 0.6) == 50
    assert claims.steps_to_reach(curve, 0.65) == 150
    assert claims.steps_to_reach(curve, 0.9) is None


def test_experiment_keys_change_with_any_setting():
    a = experiments.Experiment(faces=30)
    assert a.key() == experiments.Experiment(faces=30).key()
    assert len({a.key(), experiments.Experiment(faces=31).key(), experiments.Experiment(faces=30, seed=1).key(),
                experiments.Experiment(faces=30, init=a).key()}) == 4
    assert a.source_identity() is synth.CAST["ines"]
    g = experiments.Experiment(source_glasses=True).source_identity()
    assert g.glasses and g.name == "ines-glasses"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    ws = tmp_path_factory.mktemp("exp")
    base = experiments.Experiment(faces=12, steps=6, batch_size=4, eval_every=3)
    return ws, base, experiments.run(base, ws, {"plain": None, "mic": "microphone"}, probe_frames=6)


def test_run_trains_scores_and_caches(tiny):
    ws, base, r = tiny
    assert [c["step"] for c in r["curve"]] == [0, 3, 6] and r["faces"] == {"ines": 12, "tomas": 12}
    for probe in ("plain", "mic"):
        p = r["probes"][probe]
        assert len(p["face_l1"]) == len(p["yaw"]) == 6 and 0 < p["ssim"] < 1 and p["baseline"]["ssim"] < 1
        assert 0 < p["core"]["ssim"] < 1 and p["core_baseline"]["l1"] > 0
    folder = ws / "experiments" / "runs" / base.key()
    stamp = (folder / "model" / "latest").stat().st_mtime_ns
    again = experiments.run(base, ws, {"plain": None, "mic": "microphone"}, probe_frames=6)
    assert again == json.loads((folder / "result.json").read_text()) and again["curve"] == r["curve"]
    assert (folder / "model" / "latest").stat().st_mtime_ns == stamp  # nothing was retrained


def test_fine_tune_starts_from_the_trained_pair(tiny):
    ws, base, _ = tiny
    tuned = experiments.Experiment(source="kofi", faces=12, steps=3, batch_size=4, eval_every=3, init=base)
    start = model.fine_tune_start(experiments.load(base, ws), tuned.source, tuned.target)
    old = experiments.load(base, ws)
    assert start.persons == ["kofi", "tomas"]
    for k, v in old.encoder.state_dict().items():
        assert torch.equal(start.encoder.state_dict()[k], v)
    for k, v in old.decoders["tomas"].state_dict().items():
        assert torch.equal(start.decoders["tomas"].state_dict()[k], v)
    for k, v in old.decoders["ines"].state_dict().items():
        assert torch.equal(start.decoders["kofi"].state_dict()[k], v)
    with pytest.raises(FaceswapError, match="no decoder for 'mei'"):
        model.fine_tune_start(experiments.load(base, ws), "kofi", "mei")
    r = experiments.run(tuned, ws, probe_frames=6)
    assert r["curve"][-1]["step"] == 3 and r["experiment"]["init"] == base.key()


def test_batch_larger_than_the_face_set_is_a_clear_error(tmp_path):
    with pytest.raises(FaceswapError, match="batch size 16 is larger"):
        experiments.run(experiments.Experiment(faces=8, steps=2, batch_size=16), tmp_path, probe_frames=4)


def test_smooth_is_a_trailing_mean():
    curve = [{"step": s, "ssim": v} for s, v in ((0, 0.3), (10, 0.6), (20, 0.3), (30, 0.9))]
    assert [round(r["ssim"], 6) for r in claims.smooth(curve)] == [0.3, 0.45, 0.4, 0.6]
    assert [r["step"] for r in claims.smooth(curve)] == [0, 10, 20, 30]
