"""convert: Swapper stages, convert_video (frames, fps, audio, untouched background, provenance), bad input."""

import av
import cv2
import numpy as np
import pytest

from faceswap_core import FaceswapError, align, cli, convert, detect, media, metrics, synth, train


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A held-out clip of ines (frames the model never saw), 30 frames at 160 px, with audio and truth; head
    turns up to 45 degrees (the briefly trained test model is still poor at profiles)."""
    path = tmp_path_factory.mktemp("conv") / "ines_test.mp4"
    return synth.render_clip(synth.CAST["ines"], 30, path, size=160, seed=77, yaw_range=(-45, 45))


@pytest.fixture(scope="module")
def swapper(trained_pair, clip):
    _, model_dir = trained_pair
    return convert.Swapper(model_dir, "tomas", detect.get_detector("truth", clip=clip),
                           options=convert.SwapOptions(color="none"))


@pytest.fixture(scope="module")
def converted(swapper, clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "swapped.mp4"
    summary = convert.convert_video(clip, out, swapper, progress=False, chunk=8)
    return out, summary


def _face_region(truth, i, shape, grow=0.35):
    """A generous region around frame i's face (the swap may touch only pixels inside it)."""
    marks = truth.landmarks[i][:, :2]
    c = marks.mean(0)
    mask = align.face_mask(c + (marks - c) * (1 + grow), shape, forehead=0.4)
    return mask > 0


def _label_region(shape):
    h, w = shape[:2]
    m = np.zeros(shape[:2], bool)
    m[int(h * 0.85):, : int(w * 0.8)] = True
    return m


def test_output_keeps_frame_count_fps_and_audio_and_is_labelled(clip, converted):
    out, summary = converted
    src, dst = media.probe(clip), media.probe(out)
    assert dst.frames == src.frames == summary.frames == 30
    assert dst.fps == pytest.approx(src.fps)
    assert dst.has_audio and dst.audio_duration == pytest.approx(src.audio_duration, abs=0.03)
    assert summary.faces == 30 and summary.frames_without_face == 0
    with av.open(str(out)) as c:
        assert "synthetic" in c.metadata.get("comment", "")
    a, _ = media.read_frames(clip)
    b, _ = media.read_frames(out)
    label = _label_region(a.shape[1:])
    assert np.abs(a[:, label].astype(int) - b[:, label]).mean() > 20  # the label is there, in every frame


def test_pixels_outside_the_face_are_unchanged(clip, converted, tmp_path):
    out, _ = converted
    truth = synth.load_truth(clip)
    a, _ = media.read_frames(clip)
    b, _ = media.read_frames(out)
    media.write_video(tmp_path / "reencoded.mp4", a, 25.0, crf=20)  # codec noise alone, for comparison
    c, _ = media.read_frames(tmp_path / "reencoded.mp4")
    diffs_out, diffs_in, noise = [], [], []
    for i in range(len(a)):
        face = _face_region(truth, i, a.shape[1:])
        keep = ~face & ~_label_region(a.shape[1:])
        d = np.abs(a[i].astype(int) - b[i]).max(-1)
        diffs_out.append(d[keep].mean())
        diffs_in.append(d[face].mean())
        noise.append(np.abs(a[i].astype(int) - c[i]).max(-1)[keep].mean())
    assert np.mean(diffs_out) < 1.2 * np.mean(noise) + 0.3, (np.mean(diffs_out), np.mean(noise))
    assert np.mean(diffs_in) > 4 * np.mean(diffs_out)  # ... while the faces did change


def test_swapped_face_is_closer_to_the_truth_than_the_source_face(clip, converted):
    out, _ = converted
    b, _ = media.read_frames(out)
    err = metrics.frame_errors(clip, b, "tomas")  # masked L1 in the face core against tomas rendered there
    assert len(err["yaw"]) == 30
    assert err["swap_l1"].mean() < 0.9 * err["source_l1"].mean(), (err["swap_l1"].mean(), err["source_l1"].mean())
    assert err["identity"].mean() > 0  # nearer to tomas's truth than to the ines it replaced


def test_without_provenance_there_is_no_label_and_no_tag(clip, swapper, tmp_path):
    out = tmp_path / "plain.mp4"
    convert.convert_video(clip, out, swapper, progress=False, provenance=False, end=0.4)
    with av.open(str(out)) as c:
        assert "synthetic" not in c.metadata.get("comment", "")
    a, _ = media.read_frames(clip, max_frames=10)
    b, _ = media.read_frames(out)
    label = _label_region(a.shape[1:]) & ~_face_region(synth.load_truth(clip), 0, a.shape[1:])
    assert len(b) == 10 and np.abs(a[0][label].astype(int) - b[0][label]).mean() < 2


def test_range_resize_side_by_side_and_gif(clip, swapper, tmp_path):
    out, gif = tmp_path / "sbs.mp4", tmp_path / "sbs.gif"
    s = convert.convert_video(clip, out, swapper, progress=False, start=0.4, end=0.8, resize=96, side_by_side=True,
                              gif=gif, gif_seconds=(0, 0.2))
    info = media.probe(out)
    assert (info.width, info.height) == (192, 96) and s.frames == info.frames == 10
    assert info.audio_duration == pytest.approx(0.4, abs=0.05)
    with av.open(str(gif)) as g:
        assert sum(1 for _ in g.decode(video=0)) == 5


def test_stages_and_explain(clip, swapper):
    frames, _ = media.read_frames(clip, max_frames=4)
    parts = swapper.explain(frames[2], 2)
    s = swapper.size
    assert parts["aligned"].shape == parts["decoded"].shape == (s, s, 3)
    assert parts["mask"].max() == pytest.approx(1.0) and parts["mask"].min() == 0.0
    batched = swapper.swap_frames(list(frames), [0, 1, 2, 3])
    single = swapper.swap_frame(frames[2], 2)
    assert np.abs(batched[2].astype(int) - single).max() <= 1  # batching does not change the result
    face = _face_region(synth.load_truth(clip), 2, frames.shape[1:])
    assert np.array_equal(batched[2][~face], frames[2][~face])  # before encoding: outside is exactly equal
    assert np.array_equal(parts["result"], single)


@pytest.mark.parametrize("mode", ["lab", "hist"])
def test_colour_matching_moves_statistics_to_the_reference(mode):
    rng = np.random.default_rng(0)
    src = np.clip(rng.normal([200, 120, 90], 12, (500, 3)), 0, 255).astype(np.uint8)
    ref = np.clip(rng.normal([120, 90, 70], 25, (800, 3)), 0, 255).astype(np.uint8)
    out = convert.match_color(src, ref, mode)
    assert np.abs(out.mean(0) - ref.mean(0)).max() < 4
    assert np.abs(out.std(0) - ref.std(0)).max() < 4
    assert np.array_equal(convert.match_color(src, ref, "none"), src)


def test_poisson_and_lab_options_run_and_keep_the_background(clip, trained_pair):
    frames, _ = media.read_frames(clip, max_frames=1)
    sw = convert.Swapper(trained_pair[1], "tomas", detect.get_detector("truth", clip=clip),
                         options=convert.SwapOptions(color="lab", blend="poisson"))
    out = sw.swap_frame(frames[0], 0)
    face = _face_region(synth.load_truth(clip), 0, frames.shape[1:])
    assert np.array_equal(out[~face], frames[0][~face]) and not np.array_equal(out, frames[0])


def test_video_without_faces_passes_through_with_a_warning(trained_pair, tmp_path, capsys):
    src = tmp_path / "empty.mp4"
    rng = np.random.default_rng(1)
    base = cv2.resize(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8), (128, 96))
    media.write_video(src, [np.roll(base, k, 1) for k in range(12)], 25.0)
    sw = convert.Swapper(trained_pair[1], "tomas", "cascade")
    s = convert.convert_video(src, tmp_path / "out.mp4", sw, progress=False, provenance=False)
    assert s.faces == 0 and s.frames == 12 and s.warnings
    assert "no face found" in capsys.readouterr().err
    a, _ = media.read_frames(src)
    b, _ = media.read_frames(tmp_path / "out.mp4")
    assert np.abs(a.astype(int) - b).mean() < 2


def test_bad_input_gives_one_line_errors_and_loses_nothing(clip, swapper, trained_pair, tmp_path):
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"not a video at all" * 100)
    with pytest.raises(FaceswapError, match="junk.mp4"):
        convert.convert_video(junk, tmp_path / "o.mp4", swapper, progress=False)
    with pytest.raises(FaceswapError, match="no decoder for 'kofi'"):
        convert.Swapper(trained_pair[1], "kofi", "cascade")
    existing = tmp_path / "keep.mp4"
    existing.write_bytes(b"precious")
    with pytest.raises(FaceswapError, match="already exists"):
        convert.convert_video(clip, existing, swapper, progress=False)
    assert existing.read_bytes() == b"precious"
    truncated = tmp_path / "truncated.mp4"
    truncated.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    with pytest.raises(FaceswapError, match="truncated.mp4"):
        convert.convert_video(truncated, tmp_path / "t.mp4", swapper, progress=False)
    assert not (tmp_path / "t.mp4").exists()
    assert not list(tmp_path.glob(".*part*"))  # no temp file left behind


class _Failing(detect.Detector):
    """A detector that breaks after a few frames, like a conversion killed half way."""

    def __init__(self, inner, after):
        self.inner, self.after, self.seen = inner, after, 0

    def detect(self, frame, index=None):
        self.seen += 1
        if self.seen > self.after:
            raise RuntimeError("stopped half way")
        return self.inner.detect(frame, index)


def test_a_failed_conversion_leaves_the_previous_output_intact(clip, trained_pair, tmp_path):
    out = tmp_path / "result.mp4"
    out.write_bytes(b"the previous result")
    sw = convert.Swapper(trained_pair[1], "tomas", _Failing(detect.get_detector("truth", clip=clip), 12))
    with pytest.raises(RuntimeError, match="half way"):
        convert.convert_video(clip, out, sw, progress=False, overwrite=True, chunk=4)
    assert out.read_bytes() == b"the previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.mp4"]


def test_cli_convert_and_its_errors(clip, trained_pair, tmp_path, capsys):
    out = tmp_path / "cli.mp4"
    code = cli.main(["convert", str(clip), "--model", str(trained_pair[1]), "--to", "tomas", "--out", str(out),
                     "--detector", "truth", "--end", "0.4"])
    assert code == 0 and media.probe(out).frames == 10
    assert "10 frames" in capsys.readouterr().out
    code = cli.main(["convert", str(clip), "--model", str(tmp_path / "nomodel"), "--to", "tomas",
                     "--out", str(tmp_path / "x.mp4")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "nomodel" in err and len(err.splitlines()) == 1
    code = cli.main(["convert", str(clip), "--model", str(trained_pair[1]), "--to", "tomas", "--out", str(out),
                     "--detector", "truth"])
    assert code == 2 and "already exists" in capsys.readouterr().err
    assert media.probe(out).frames == 10  # the earlier output is untouched


def test_checkpoint_of_the_model_loads_with_its_training_coverage(trained_pair):
    model, state = train.load_model(trained_pair[1], with_state=True)
    sw = convert.Swapper(trained_pair[1], "ines", "cascade")
    assert sw.coverage == state["train_config"]["coverage"] and sw.to == "ines"


def test_faces_below_the_size_or_score_limit_pass_through_untouched(clip, trained_pair):
    frames, _ = media.read_frames(clip, max_frames=2)
    truth = detect.get_detector("truth", clip=clip)
    for opts in (convert.SwapOptions(min_size=10_000), convert.SwapOptions(min_score=2.0)):
        sw = convert.Swapper(trained_pair[1], "tomas", truth, options=opts)
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

    from faceswap_core.model import FaceSwapModel

    sw = convert.Swapper(FaceSwapModel.create("lite", ["ines", "tomas"]), "tomas", Counting(),
                         options=convert.SwapOptions(detect_every=4))
    found = sw.find(list(frames[:6]), list(range(6))) + sw.find(list(frames[6:]), list(range(6, 12)))
    assert calls == [0, 4, 8]  # frames 9-11 come after the last detection: they keep it
    t = synth.load_truth(clip)
    for i in (2, 6):  # halfway between detections: the mean of the two detected landmark sets
        expect = (t.landmarks[i - 2, :, :2] + t.landmarks[i + 2, :, :2]) / 2
        assert np.allclose(found[i][0].landmarks, expect, atol=1e-3)
    assert np.array_equal(found[10][0].landmarks, found[8][0].landmarks)
    with pytest.raises(FaceswapError, match="detect every 0"):
        convert.SwapOptions(detect_every=0)
