"""The recogniser as the judge of a swap (evaluation.recognition): B's truth is named B, A's unswapped face
is not, and the classic ceiling (B's true face core pasted into A's frame) sits in between, nearer to B."""

import numpy as np
import pytest

from faceswap_core import synth
from faceswap_core.evaluation import recognition
from faceswap_core.faces import align, identity


def _mean_embedding(who: str, n: int = 6) -> np.ndarray:
    """A person's mean identity embedding from renders at a few head turns (a stand-in for a face set)."""
    rows = []
    for yaw in np.linspace(-25, 25, n):
        r = synth.render(synth.CAST[who], synth.Condition(yaw=float(yaw)), 256)
        rows.append(identity.embed(r.frame, [r.landmarks[:, :2]])[0])
    return np.mean(rows, 0)


@pytest.fixture(scope="module")
def probe(tmp_path_factory):
    clip = synth.render_clip(synth.CAST["ines"], 12, tmp_path_factory.mktemp("rec") / "ines.mp4", size=256,
                             seed=3, yaw_range=(-30, 30))
    means = (_mean_embedding("ines"), _mean_embedding("tomas"))
    return recognition.RecognitionProbe.from_clip(clip, "tomas", means, n=8)


def test_the_truth_is_named_b_and_the_unswapped_face_is_not(probe):
    truth = synth.load_truth(probe.clip)
    whole = [synth.swap_truth(synth.CAST["tomas"], truth, int(i)).frame for i in probe.indices]
    nothing, ceiling, perfect = probe.nothing(), probe.ceiling(), probe.verdict(whole)
    assert nothing["faces"] == perfect["faces"] == len(probe.indices) == 8
    assert nothing["recognised_as_target"] <= 0.25 < 0.75 <= perfect["recognised_as_target"]
    assert nothing["to_source"] < nothing["to_target"] and perfect["to_target"] < perfect["to_source"]
    # the classic ceiling keeps A's hair and jaw: named B less surely than B's whole face, far more than A
    assert nothing["recognised_as_target"] < ceiling["recognised_as_target"]
    assert ceiling["to_target"] < nothing["to_target"] and ceiling["to_source"] > nothing["to_source"]
    summary = recognition.summary(ceiling)
    assert "per_face" not in summary and summary["faces"] == 8


def test_the_ceiling_changes_only_the_grown_face_core(probe):
    frame, marks, pasted = probe.frames[0], probe.landmarks[0], probe.ceilings[0]
    core = align.core_mask(marks, frame.shape, grow=recognition.GROW) > 0
    changed = np.abs(pasted.astype(int) - frame.astype(int)).sum(-1) > 0
    assert changed[core].mean() > 0.5  # B's face drawn inside
    far = ~(align.core_mask(marks, frame.shape, grow=recognition.GROW + 0.6) > 0)
    assert not changed[far].any()  # A's hair, jaw and background untouched


def test_the_ceiling_cut_at_a_decoder_size_keeps_the_frame_outside_the_face(tmp_path):
    """`ceiling(size)` is the classic ceiling as a decoder of that output size could draw it: the face core
    changes (softer), the rest of the frame does not."""
    from faceswap_core.evaluation.recognition import _at_size

    frame = (np.random.default_rng(0).random((160, 160, 3)) * 255).astype(np.uint8)
    marks = synth.render(synth.get_identity("ines"), synth.Condition(), 160).landmarks[:, :2]
    soft = _at_size(frame, marks, 16)
    changed = np.any(soft != frame, axis=2)
    core = align.core_mask(marks, frame.shape) > 0
    assert changed[core].mean() > 0.9  # the face core is redrawn at 16 px
    box = align.uncrop(np.full((16, 16), 255, np.uint8), align.view_matrix(marks, 16), frame.shape) > 0
    assert not changed[~box].any()  # nothing outside the network's view moves
