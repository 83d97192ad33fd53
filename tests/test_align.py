import numpy as np
import pytest

from faceswap_core import synth
from faceswap_core.faces import align


def test_template_spans_the_unit_box_and_is_symmetric():
    t = align.template()
    assert t.shape == (68, 2)
    assert np.allclose(t[17:].min(0), 0) and np.allclose(t[17:].max(0), 1)
    assert t[36, 0] < t[39, 0] < t[42, 0] < t[45, 0]  # eyes left to right in the image
    assert t[27:31, 0] == pytest.approx(0.5, abs=1e-6)  # nose bridge on the midline


def test_umeyama_recovers_a_known_similarity():
    rng = np.random.default_rng(0)
    src = rng.normal(size=(30, 2))
    a = np.radians(25)
    m = np.array([[np.cos(a), -np.sin(a), 5], [np.sin(a), np.cos(a), -3]]) * [[1.7], [1.7]]
    m[:, 2] = [5, -3]
    dst = src @ m[:, :2].T + m[:, 2]
    assert np.allclose(align.umeyama(src, dst), m, atol=1e-9)


@pytest.mark.parametrize("yaw,roll", [(0, 0), (25, 12), (-40, -8)])
def test_crop_then_uncrop_returns_the_landmarks(yaw, roll):
    r = synth.render(synth.CAST["tomas"], synth.Condition(yaw=yaw, roll=roll), 256)
    crop, m = align.align_face(r.frame, r.landmarks, 256)
    in_crop = align.transform_points(r.landmarks, m)
    back = align.transform_points(in_crop, align.invert(m))
    assert np.abs(back[:, :2] - r.landmarks[:, :2]).max() < 0.5
    # the inner landmarks land near the template box of the crop
    target = (align.PADDING + align.template() * (1 - 2 * align.PADDING)) * 256
    assert np.median(np.linalg.norm(in_crop[17:, :2] - target[17:], axis=1)) < 12
    # pixels survive the round trip: uncrop the crop and compare inside the face
    restored = align.uncrop(crop, m, r.frame.shape)
    covered = align.uncrop(np.full((256, 256), 255, np.uint8), m, r.frame.shape) == 255
    face = (align.face_mask(r.landmarks, r.frame.shape) > 0) & covered
    assert face.sum() > 3000
    assert np.abs(restored[face].astype(float) - r.frame[face]).mean() < 6


def test_mask_covers_the_face_and_not_the_background():
    r = synth.render(synth.CAST["mei"], synth.Condition(), 256)
    mask = align.face_mask(r.landmarks, r.frame.shape) > 0
    inter = (mask & r.mask).sum()
    assert inter / r.mask.sum() > 0.7 and inter / mask.sum() > 0.8


def test_euler_angles_round_trip():
    for yaw, pitch, roll in [(10, -5, 3), (-70, 12, -20), (85, 0, 0)]:
        assert np.allclose(align.euler_from_rotation(synth.rotation(yaw, pitch, roll)), (yaw, pitch, roll))


def test_head_pose_from_true_landmarks_is_within_a_few_degrees():
    errors = []
    for i, c in enumerate(synth.random_motion(300, seed=3)[::15]):
        r = synth.render(synth.CAST[synth.cast_names()[i % 5]], c, 256)
        errors.append(np.subtract(align.head_pose(r.landmarks, r.frame.shape), (c.yaw, c.pitch, c.roll)))
    err = np.abs(errors)
    assert np.median(err, axis=0).max() < 3 and err[:, 0].max() < 10


def test_cached_templates_are_read_only():
    """One cached array serves the whole process: nobody may change it for everyone else."""
    for arr in (align.template(), align.template(30.0), align.mean_face_3d()):
        with pytest.raises(ValueError):
            arr[0, 0] = 1.0


def test_the_network_view_is_the_centre_of_the_padded_crop():
    """`view_matrix` at `CORE` maps the face to what `central` cuts from the padded crop (one geometry)."""
    r = synth.render(synth.CAST["ines"], synth.Condition(yaw=10), 256)
    big = align.crop(r.frame, align.alignment_matrix(r.landmarks, 256), 256)
    keep = align.central(256)
    assert keep.stop - keep.start == 160  # the classic face core
    m = align.view_matrix(r.landmarks, 160)
    view = align.crop(r.frame, m, 160)
    assert np.abs(view.astype(int) - big[keep, keep]).mean() < 3
    assert align.padding_for(align.CORE) == pytest.approx(0.0)
