import cv2
import numpy as np
import pytest

from faceswap_core import FaceswapError, media, synth


def test_render_shapes_and_types():
    r = synth.render(synth.CAST["kofi"], synth.Condition(yaw=20), (96, 160))
    assert r.frame.shape == (96, 160, 3) and r.frame.dtype == np.uint8
    assert r.landmarks.shape == (68, 3)
    assert r.mask.shape == (96, 160) and r.mask.dtype == bool and 0.02 < r.mask.mean() < 0.5
    frame, marks, mask = r  # unpacks as the documented triple
    assert frame is r.frame


def test_render_is_deterministic_and_motion_is_seeded():
    c = synth.Condition(yaw=33, smile=0.4)
    a = synth.render(synth.CAST["mei"], c, 128).frame
    b = synth.render(synth.CAST["mei"], c, 128).frame
    assert np.array_equal(a, b)
    assert synth.random_motion(50, seed=4) == synth.random_motion(50, seed=4)
    assert synth.random_motion(50, seed=4) != synth.random_motion(50, seed=5)
    assert synth.Identity.random(9) == synth.Identity.random(9) != synth.Identity.random(10)


def test_cast_members_are_distinct_at_64px():
    names = synth.cast_names()
    assert len(names) >= 3
    imgs = {n: synth.render(synth.CAST[n], synth.Condition(), 64).frame.astype(float) for n in names}
    same_person_other_light = synth.render(synth.CAST["ines"], synth.Condition(light_azimuth=10), 64).frame
    within = np.abs(imgs["ines"] - same_person_other_light).mean()
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            between = np.abs(imgs[a] - imgs[b]).mean()
            assert between > 2 * within, (a, b, between, within)


@pytest.mark.parametrize("name", synth.cast_names())
def test_haar_finds_near_frontal_faces(name):
    """The realism bar: OpenCV's frontal cascade finds >= 80% of faces with |yaw| <= 15 at 256x256."""
    cascade = cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml")
    conditions = [c for c in synth.random_motion(600, seed=11) if abs(c.yaw) <= 15][::4][:30]
    assert len(conditions) >= 20
    found = 0
    for c in conditions:
        gray = cv2.cvtColor(synth.render(synth.CAST[name], c, 256).frame, cv2.COLOR_RGB2GRAY)
        found += len(cascade.detectMultiScale(gray, 1.1, 3)) > 0
    assert found / len(conditions) >= 0.8, f"{name}: {found}/{len(conditions)}"


def test_visible_landmarks_fall_in_the_face_and_hidden_ones_follow_pose():
    p = synth.CAST["tomas"]
    front = synth.render(p, synth.Condition(), 256)
    assert front.landmarks[17:, 2].all()  # all inner points visible when frontal
    xy = np.round(front.landmarks[17:, :2]).astype(int)
    assert front.mask[xy[:, 1], xy[:, 0]].mean() > 0.95
    side = synth.render(p, synth.Condition(yaw=85), 256)
    right_eye, left_eye = side.landmarks[36:42, 2], side.landmarks[42:48, 2]
    # turning to the image right shows the subject's right side: its left eye (image right) is hidden
    assert right_eye.mean() > 0.5 and left_eye.mean() == 0
    # the nose tip sticks out: it is visible and is the right-most inner landmark
    assert side.landmarks[30, 2] == 1 and side.landmarks[30, 0] >= side.landmarks[17:, 0].max() - 1


def test_features_move_with_pose_and_expression():
    p = synth.CAST["ines"]
    a = synth.render(p, synth.Condition(yaw=0), 128).landmarks
    b = synth.render(p, synth.Condition(yaw=30), 128).landmarks
    assert b[30, 0] - a[30, 0] > 5  # nose tip moves right
    closed = synth.render(p, synth.Condition(mouth_open=0.0), 128).landmarks
    opened = synth.render(p, synth.Condition(mouth_open=1.0), 128).landmarks
    assert opened[66, 1] - opened[62, 1] > closed[66, 1] - closed[62, 1] + 3


def test_shading_has_a_lit_and_a_shadow_side():
    p = synth.CAST["mei"]
    r = synth.render(p, synth.Condition(light_azimuth=70, ambient=0.2), 192)
    ys, xs = np.nonzero(r.mask)
    mid = np.median(xs)
    gray = r.frame.astype(float).mean(2)
    assert gray[ys[xs > mid + 10], xs[xs > mid + 10]].mean() > 1.3 * gray[ys[xs < mid - 10], xs[xs < mid - 10]].mean()


def test_clip_has_audio_of_equal_duration_and_truth_inside_the_mask(cast_clip):
    info = media.video_info(cast_clip)
    assert info.frames == 40 and info.has_audio
    assert abs(info.audio_duration - info.duration) <= 1 / info.fps
    truth = synth.load_truth(cast_clip)
    assert truth.landmarks.shape == (40, 68, 3)
    frames, _ = media.read_frames(cast_clip)
    for i in (0, 20, 39):
        r = synth.render(truth.identity, truth.conditions[i], truth.size)
        assert np.allclose(r.landmarks, truth.landmarks[i], atol=0.01)
        vis = r.landmarks[17:][r.landmarks[17:, 2] > 0]
        assert r.mask[np.round(vis[:, 1]).astype(int), np.round(vis[:, 0]).astype(int)].mean() > 0.9
        assert np.abs(frames[i].astype(float) - r.frame).mean() < 6  # the video holds the rendered frames


def test_clip_is_deterministic(tmp_path):
    a, b = tmp_path / "a.mp4", tmp_path / "b.mp4"
    for p in (a, b):
        synth.render_clip(synth.CAST["ravi"], 8, p, size=64, seed=2)
    fa, _ = media.read_frames(a)
    fb, _ = media.read_frames(b)
    assert np.array_equal(fa, fb)
    assert synth.truth_path(a).read_text() == synth.truth_path(b).read_text()


def test_voice_follows_the_mouth():
    mouth = np.r_[np.zeros(25), np.ones(25)]
    v = synth.voice_track(mouth, 25, 8000)
    assert np.abs(v[:7000]).max() < 0.01 < np.abs(v[9000:]).mean()


def test_unknown_names_and_damaged_truth_are_clear_errors(tmp_path):
    with pytest.raises(FaceswapError, match="unknown cast member 'nobody'"):
        synth.get_identity("nobody")
    assert synth.get_identity("seed3").name == "seed3"
    bad = tmp_path / "x.truth.json"
    bad.write_text("{not json")
    with pytest.raises(FaceswapError, match="damaged ground-truth"):
        synth.load_truth(bad)
    with pytest.raises(FaceswapError, match="no ground truth"):
        synth.load_truth(tmp_path / "real.mp4")


def test_landmarks_3d_are_the_head_frame_points_on_the_face_surface():
    from faceswap_core.synth import geometry

    p = synth.CAST["ines"]
    pts = synth.landmarks_3d(p)
    assert pts.shape == (68, 3)
    xy = geometry._landmarks_head(p, synth.Condition())
    z = geometry._surface_z(geometry._head_parts(p), xy)
    assert np.array_equal(pts, np.c_[xy, z]) and np.isfinite(pts).all()
