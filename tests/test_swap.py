"""swap: the Swapper's stages on single frames (find, align, decode, blend, explain), colour matching,
size/score limits, detection every Nth frame, and no state carried from one video to the next."""

import json

import numpy as np
import pytest
from conftest import face_region

from faceswap_core import FaceswapError, media, synth
from faceswap_core.faces import detect, landmark_scores
from faceswap_core.swapping import options, swap, tracking
from faceswap_core.training import checkpoint


def test_stages_and_explain(clip, swapper):
    frames, _ = media.read_frames(clip, max_frames=4)
    parts = swapper.explain(frames[2], 2)
    s = swapper.size
    assert parts["aligned"].shape == parts["decoded"].shape == (s, s, 3)
    assert parts["mask"].max() == pytest.approx(1.0) and parts["mask"].min() == 0.0
    batched = swapper.swap_frames(list(frames), [0, 1, 2, 3])
    single = swapper.swap_frame(frames[2], 2)
    assert np.abs(batched[2].astype(int) - single).max() <= 1  # batching does not change the result
    face = face_region(synth.load_truth(clip), 2, frames.shape[1:])
    assert np.array_equal(batched[2][~face], frames[2][~face])  # before encoding: outside is exactly equal
    assert np.array_equal(parts["result"], single)


@pytest.mark.parametrize("mode", ["lab", "hist"])
def test_colour_matching_moves_statistics_to_the_reference(mode):
    rng = np.random.default_rng(0)
    src = np.clip(rng.normal([200, 120, 90], 12, (500, 3)), 0, 255).astype(np.uint8)
    ref = np.clip(rng.normal([120, 90, 70], 25, (800, 3)), 0, 255).astype(np.uint8)
    out = swap.match_color(src, ref, mode)
    assert np.abs(out.mean(0) - ref.mean(0)).max() < 4
    assert np.abs(out.std(0) - ref.std(0)).max() < 4
    assert np.array_equal(swap.match_color(src, ref, "none"), src)


def test_poisson_blending_is_really_applied_and_keeps_the_background(clip, trained_pair):
    """Poisson changes the face compared with feathering (same colour option), without falling back to
    feathering on a cast frame, and pixels outside the face stay exactly as they were."""
    frames, _ = media.read_frames(clip, max_frames=1)
    truth = detect.get_detector("truth", clip=clip)
    face = face_region(synth.load_truth(clip), 0, frames.shape[1:])
    out = {}
    for blend in ("feather", "poisson"):
        sw = swap.Swapper(trained_pair[1], "tomas", truth, options=options.SwapOptions(color="lab", blend=blend))
        out[blend] = sw.swap_frame(frames[0], 0)
        assert sw.poisson_fallbacks == 0, "seamlessClone failed: the frame was only feathered"
        assert np.array_equal(out[blend][~face], frames[0][~face]) and not np.array_equal(out[blend], frames[0])
    changed = np.abs(out["poisson"].astype(int) - out["feather"]).max(axis=2) > 2
    assert changed.sum() > 50  # Poisson visibly moved the face's pixels


def test_checkpoint_of_the_model_loads_with_its_training_coverage(trained_pair, tmp_path):
    """The Swapper shows the network the view it was trained on: the coverage saved in the checkpoint
    (here one that is not the default), unless the caller gives another."""
    import shutil

    from faceswap_core.faces.align import CORE

    model_dir = shutil.copytree(trained_pair[1], tmp_path / "model")
    state_file = checkpoint.latest(model_dir) / "state.json"
    state = json.loads(state_file.read_text())
    assert state["train_config"]["coverage"] == CORE
    state["train_config"]["coverage"] = 0.7
    state_file.write_text(json.dumps(state))
    sw = swap.Swapper(model_dir, "ines", "cascade")
    assert sw.coverage == sw.model.coverage == 0.7 and sw.to == "ines"
    assert swap.Swapper(model_dir, "ines", "cascade", coverage=CORE).coverage == CORE


def test_faces_below_the_size_or_score_limit_pass_through_untouched(clip, trained_pair):
    frames, _ = media.read_frames(clip, max_frames=2)
    truth = detect.get_detector("truth", clip=clip)
    for opts in (options.SwapOptions(min_size=10_000), options.SwapOptions(min_score=2.0)):
        sw = swap.Swapper(trained_pair[1], "tomas", truth, options=opts)
        assert sw.find(list(frames), [0, 1]) == [[], []]
        assert np.array_equal(sw.swap_frame(frames[1], 1), frames[1])


def test_detecting_every_nth_frame_interpolates_the_landmarks_in_between(clip):
    frames, _ = media.read_frames(clip, max_frames=12)
    truth = detect.get_detector("truth", clip=clip)
    calls = []

    class Counting(detect.Detector):
        def detect(self, frame, index=None):
            calls.append(index)
            return truth.detect(frame, index)

    from faceswap_core.training.model import FaceSwapModel

    sw = swap.Swapper(FaceSwapModel.create("lite", ["ines", "tomas"]), "tomas", Counting(),
                         options=options.SwapOptions(detect_every=4))
    track = sw.start()  # one video: its detections carry over between calls
    found = sw.find(list(frames[:6]), list(range(6)), track) + sw.find(list(frames[6:]), list(range(6, 12)), track)
    assert calls == [0, 4, 8]  # frames 9-11 come after the last detection: they keep it
    t = synth.load_truth(clip)
    for i in (2, 6):  # halfway between detections: the mean of the two detected landmark sets
        expect = (t.landmarks[i - 2, :, :2] + t.landmarks[i + 2, :, :2]) / 2
        assert np.allclose(found[i][0].landmarks, expect, atol=1e-3)
    assert np.array_equal(found[10][0].landmarks, found[8][0].landmarks)
    with pytest.raises(FaceswapError, match="detect every 0"):
        options.SwapOptions(detect_every=0)


def test_a_swapper_reused_on_a_second_video_swaps_it_like_a_fresh_one(trained_pair, clip, tmp_path):
    """Nothing of one video (held detections, frame counter) leaks into the next, also with detect_every > 1
    and frames given without their indices."""
    other = synth.render_clip(synth.CAST["ines"], 12, tmp_path / "other.mp4", size=160, seed=5)
    first, _ = media.read_frames(clip, max_frames=12)
    second, _ = media.read_frames(other)
    opts = options.SwapOptions(color="none", detect_every=4)

    def make():
        return swap.Swapper(trained_pair[1], "tomas", detect.get_detector("truth", clip=other), options=opts)

    reused = make()
    reused.detector = detect.get_detector("truth", clip=clip)
    reused.swap_frames(list(first), track=reused.start())
    reused.swap_frames(list(first[:7]))  # without a track: nothing is kept either
    reused.detector = detect.get_detector("truth", clip=other)
    again = reused.swap_frames(list(second), track=reused.start())
    fresh = make().swap_frames(list(second), track=make().start())
    assert all(np.array_equal(a, b) for a, b in zip(again, fresh))
    assert not np.array_equal(again[6], second[6])  # and it did swap


def test_images_of_other_kinds_are_converted_or_refused_in_one_line(clip, swapper):
    from faceswap_core import media

    frame = media.read_frames(clip)[0][0]
    swapped = swapper.swap_frame(frame, 0)
    rgba = np.concatenate([frame, np.full(frame.shape[:2] + (1,), 255, np.uint8)], axis=2)
    assert np.array_equal(swapper.swap_frame(rgba, 0), swapped)  # RGBA: the alpha is dropped
    grey = frame.mean(2).astype(np.uint8)
    out = swapper.swap_frame(grey, 0)
    assert out.dtype == np.uint8 and out.shape == frame.shape  # grey: made RGB, not an OpenCV error
    with pytest.raises(FaceswapError, match="float64 pixels; give uint8 RGB"):
        swapper.swap_frame(frame / 255.0, 0)  # once returned float64 values up to 67
    with pytest.raises(FaceswapError, match=r"shape \(4, 4, 5\)"):
        swapper.swap_frame(np.zeros((4, 4, 5), np.uint8), 0)
    with pytest.raises(FaceswapError, match="decode: crops of float32"):
        swapper.decode(np.zeros((1, 64, 64, 3), np.float32))  # once returned flat grey


def test_between_sparse_detections_dlib_places_fresh_landmarks_in_the_moved_box(cast_clip):
    """Detecting every 4th frame: the boxes in between are interpolated, but dlib's cheap landmarks are placed
    on each frame (a face that changes expression between detections is followed), and land near the truth."""
    frames, _ = media.read_frames(cast_clip, max_frames=12)
    det = detect.get_detector("dlib")
    track = tracking.Track(4)
    found = track.detect(det, list(frames), list(range(12)))
    truth = synth.load_truth(cast_clip)
    between = [i for i in (1, 2, 3, 5, 6, 7) if found[i]]
    assert len(between) >= 4, found
    for i in between:
        f = found[i][0]
        again = det.landmarks_in(frames[i], [(f.box, f.score)])[0]
        assert np.allclose(f.landmarks, again.landmarks)  # placed on this frame, not averaged
        marks = truth.landmarks[i]
        assert landmark_scores.nme(f.landmarks, marks, marks[:, 2] > 0.5) < 0.15
