"""Swap detection (detection/: features, nets, measures, dataset, swap_detector): the measures, the
features, the data split and the detector file.
The detectors' held-out AUCs at CI size are asserted on chapter 09's recorded figures (test_notebooks)."""

from __future__ import annotations

import json
from dataclasses import replace
from itertools import product

import cv2
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.torch import save_file

from faceswap_core import FaceswapError, encode, media, synth
from faceswap_core.detection import dataset, features, measures, swap_detector


def test_auc_is_the_share_of_swapped_real_pairs_ranked_right():
    rng = np.random.default_rng(0)
    s = rng.integers(0, 6, 60).astype(float)  # many ties
    y = rng.integers(0, 2, 60)
    pairs = [(a > b) + 0.5 * (a == b) for a, b in product(s[y == 1], s[y == 0])]
    assert measures.auc(s, y) == pytest.approx(np.mean(pairs))
    assert measures.auc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1]) == 1.0
    assert measures.auc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    with pytest.raises(FaceswapError, match="both real and swapped"):
        measures.auc([0.1, 0.2], [1, 1])


def test_iou():
    a = np.zeros((4, 4), bool)
    b = a.copy()
    a[:2] = True
    b[1:3] = True
    assert measures.iou(a, b) == pytest.approx(4 / 12)
    assert measures.iou(a, a) == 1.0 and measures.iou(~a & a, ~a & a) == 1.0


def _frame(size=256, seed=0):
    return synth.render(synth.get_identity("kofi"), synth.Condition(), size)


def test_the_spectrum_sees_a_face_enlarged_from_a_64_px_decoder():
    r = _frame()
    marks = r.landmarks[:, :2]
    x0, y0 = marks.min(0).astype(int)
    x1, y1 = marks.max(0).astype(int)
    enlarged = r.frame.copy()
    face = r.frame[y0:y1, x0:x1]
    small = cv2.resize(face, (64, 64), interpolation=cv2.INTER_AREA)
    enlarged[y0:y1, x0:x1] = cv2.resize(small, (x1 - x0, y1 - y0), interpolation=cv2.INTER_CUBIC)
    a, b = features.spectrum(r.frame, marks), features.spectrum(enlarged, marks)
    assert a.shape == (features.BINS,) and np.isfinite(a).all()
    top = slice(3 * features.BINS // 4, None)  # the finest quarter of the bands
    assert b[top].mean() < a[top].mean() - 1.0, (a[top], b[top])  # e-fold less power at least
    assert np.isnan(features.spectrum(r.frame[:20, :20], marks)).all()  # a face that is not in the frame


def test_flicker_is_core_change_over_ring_change():
    v = np.full((features.VIEW, features.VIEW, 3), 100, np.uint8)
    w = v.copy()
    w[features._CORE, features._CORE] = 130  # only the face core changed, by 30 grey levels
    assert features.flicker_ratio(v, w) == pytest.approx(30.0)
    assert np.isnan(features.flicker_ratio(None, w))
    r = _frame()
    s = features.faces_of([r.frame] * 4, [r.landmarks[:, :2], None, r.landmarks[:, :2], r.landmarks[:, :2]])
    assert s.flicker.tolist() == [0.0, 0.0, 0.0]  # a face with no face before it takes its next frame's value
    s = features.faces_of([r.frame] * 3, [r.landmarks[:, :2], None, r.landmarks[:, :2]])
    assert len(s) == 2 and np.isnan(s.flicker).all()  # no two faces in a row: the cue cannot tell


def test_the_data_split_leaks_no_person_and_no_clip():
    for plan in (dataset.Plan(), dataset.Plan(clips=2, frames=24, faces=16, steps=30, long_steps=120)):
        clips = dataset.plan_clips("/tmp/nowhere", plan)
        assert dataset.leaks(clips) == {"persons": set(), "clips": set()}
        assert {c.split for c in clips} == {"train", "test"}
        assert {c.setting for c in clips if c.split == "test"} == set(dataset.SETTINGS)
        assert all(c.persons <= set(plan.train_pair) for c in clips if c.split == "train")
        assert all(c.persons <= set(plan.test_pair) for c in clips if c.split == "test")
    # the check can fail: a test pair that shares a person with the training pair is caught
    leaky = dataset.plan_clips("/tmp/nowhere", dataset.Plan(test_pair=("tomas", "mei")))
    found = dataset.leaks(leaky)
    assert found["persons"] == {"tomas"} and {"tomas-0"} <= found["clips"]


def _tiny_samples(n=16, seed=0) -> features.Samples:
    rng = np.random.default_rng(seed)
    views = rng.integers(0, 255, (n, features.VIEW, features.VIEW, 3), dtype=np.uint8)
    label = np.arange(n) % 2
    masks = np.zeros((n, features.VIEW, features.VIEW), np.uint8)
    masks[label == 1, 16:48, 16:48] = 255
    masks = np.stack([cv2.GaussianBlur(m, (7, 7), 0) for m in masks])  # feathered, like a swap's blend weight
    views[label == 1, 16:48, 16:48] //= 4  # a darker pasted square
    spectra = rng.normal(size=(n, features.BINS)).astype(np.float32) + label[:, None]
    return features.Samples(views, spectra, rng.random(n).astype(np.float32) + label, label, masks)


def test_a_swap_detector_learns_a_toy_swap_and_comes_back_from_its_file_unchanged(tmp_path):
    train, test = _tiny_samples(seed=0), _tiny_samples(seed=1)
    sp = swap_detector.SwapDetector(width=8)
    sp.fit(train, steps=60)
    p = sp.probabilities(test)
    for name in (*features.DETECTORS, "combined"):
        assert measures.auc(p[name], test.label) > 0.8, name
    path = sp.save(tmp_path / "d.safetensors")
    again = swap_detector.load(path).probabilities(test)
    for name in p:
        np.testing.assert_allclose(again[name], p[name], rtol=1e-5, atol=1e-6)
    with pytest.raises(FaceswapError, match="already exists"):
        sp.save(path)
    assert [f.name for f in tmp_path.iterdir()] == ["d.safetensors"]  # no temp file left


def _rewrite(src, dst, **meta):
    with safe_open(str(src), framework="pt") as f:
        tensors, old = {k: f.get_tensor(k) for k in f.keys()}, f.metadata()
    save_file(tensors, str(dst), metadata={**old, **meta})


def test_a_detector_file_of_another_version_or_damaged_is_refused_in_one_line(tmp_path):
    good = swap_detector.SwapDetector(width=8).save(tmp_path / "good.safetensors")
    _rewrite(good, tmp_path / "old.safetensors", version="0")
    _rewrite(good, tmp_path / "other.safetensors", format="something else")
    (tmp_path / "cut.safetensors").write_bytes(good.read_bytes()[:500])
    (tmp_path / "text.safetensors").write_text("hello")
    cases = {"old": "another version .*version 0", "other": "not a faceswap-lab swap detector",
             "cut": "not a readable detector file", "text": "not a readable detector file",
             "missing": "no such detector file"}
    for name, message in cases.items():
        with pytest.raises(FaceswapError, match=message) as e:
            swap_detector.load(tmp_path / f"{name}.safetensors")
        assert "\n" not in str(e.value) and f"{name}.safetensors" in str(e.value)
    meta = json.loads(safe_open(str(good), framework="pt").metadata()["info"])
    assert meta == {}


def test_scan_of_a_video_without_a_face_gives_no_verdict_and_no_heatmap(tmp_path):
    clip = encode.write_video(tmp_path / "grey.mp4", [np.full((96, 96, 3), 128, np.uint8)] * 6, 25.0)
    with pytest.raises(FaceswapError, match="no face found in any of its 6 frames; no verdict"):
        swap_detector.scan(clip, swap_detector.SwapDetector(width=8), "cascade", heatmap=tmp_path / "heat.mp4")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grey.mp4"]


def test_swap_with_truth_keeps_the_blend_weight_where_the_frame_changed(tmp_path):
    from faceswap_core.training.model import FaceSwapModel

    clip = synth.render_clip(synth.get_identity("mei"), 3, tmp_path / "mei.mp4", size=160, seed=3)
    frames, _ = media.read_frames(clip)
    model = FaceSwapModel.create("lite", ["mei", "ravi"], seed=0)
    out, masks = dataset.swap_with_truth(model, "ravi", clip, frames)
    assert masks.shape == frames.shape[:3] and masks.dtype == np.uint8
    for f, o, m in zip(frames, out, masks):
        changed = np.abs(o.astype(int) - f.astype(int)).max(-1) > 0
        assert changed.any() and not changed[m == 0].any()  # untouched wherever the weight is 0
        assert (m == 255).sum() > 500  # a whole face core was drawn
    assert replace(dataset.Plan(), steps=1).key() != dataset.Plan().key()
