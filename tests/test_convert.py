"""convert: convert_video (frames, fps, audio, untouched background, provenance), bad input."""

import av
import cv2
import numpy as np
import pytest
from conftest import face_region

from faceswap_core import FaceswapError, cli, encode, media, synth
from faceswap_core.evaluation import truth_scores
from faceswap_core.faces import detect, identity
from faceswap_core.swapping import convert, swap


@pytest.fixture(scope="module")
def converted(swapper, clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "swapped.mp4"
    summary = convert.convert_video(clip, out, swapper, progress=False, chunk=8)
    return out, summary


def _label_region(shape):
    h, w = shape[:2]
    m = np.zeros(shape[:2], bool)
    m[int(h * 0.85):, : int(w * 0.8)] = True
    return m


def test_output_keeps_frame_count_fps_and_audio_and_is_labelled(clip, converted):
    out, summary = converted
    src, dst = media.video_info(clip), media.video_info(out)
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
    encode.write_video(tmp_path / "reencoded.mp4", a, 25.0, crf=20)  # codec noise alone, for comparison
    c, _ = media.read_frames(tmp_path / "reencoded.mp4")
    diffs_out, diffs_in, noise = [], [], []
    for i in range(len(a)):
        face = face_region(truth, i, a.shape[1:])
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
    err = truth_scores.frame_errors(clip, b, "tomas")  # masked L1 in the face core against tomas rendered there
    assert len(err["yaw"]) == 30
    assert err["swap_l1"].mean() < 0.9 * err["source_l1"].mean(), (err["swap_l1"].mean(), err["source_l1"].mean())
    assert err["l1_toward_target"].mean() > 0  # nearer to tomas's truth than to the ines it replaced


def test_without_provenance_there_is_no_label_and_no_tag(clip, swapper, tmp_path):
    out = tmp_path / "plain.mp4"
    convert.convert_video(clip, out, swapper, progress=False, provenance=False, end=0.4)
    with av.open(str(out)) as c:
        assert "synthetic" not in c.metadata.get("comment", "")
    a, _ = media.read_frames(clip, max_frames=10)
    b, _ = media.read_frames(out)
    label = _label_region(a.shape[1:]) & ~face_region(synth.load_truth(clip), 0, a.shape[1:])
    assert len(b) == 10 and np.abs(a[0][label].astype(int) - b[0][label]).mean() < 2


def test_range_resize_side_by_side_and_gif(clip, swapper, tmp_path):
    out, gif = tmp_path / "sbs.mp4", tmp_path / "sbs.gif"
    s = convert.convert_video(clip, out, swapper, progress=False, start=0.4, end=0.8, resize=96, side_by_side=True,
                              gif=gif, gif_seconds=(0, 0.2))
    info = media.video_info(out)
    assert (info.width, info.height) == (192, 96) and s.frames == info.frames == 10
    assert info.audio_duration == pytest.approx(0.4, abs=0.05)
    with av.open(str(gif)) as g:
        assert sum(1 for _ in g.decode(video=0)) == 5


def test_video_without_faces_passes_through_with_a_warning(trained_pair, tmp_path, capsys):
    src = tmp_path / "empty.mp4"
    rng = np.random.default_rng(1)
    base = cv2.resize(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8), (128, 96))
    encode.write_video(src, [np.roll(base, k, 1) for k in range(12)], 25.0)
    sw = swap.Swapper(trained_pair[1], "tomas", "cascade")
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
        swap.Swapper(trained_pair[1], "kofi", "cascade")
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
    original = clip.read_bytes()
    out = tmp_path / "out.mp4"
    for kwargs, message in (({"gif": clip, "overwrite": True}, "is the input"),
                            ({"gif": out, "overwrite": True}, "is the output video"),
                            ({"resize": -2}, "resize -2"), ({"gif": tmp_path}, "is a folder")):
        with pytest.raises(FaceswapError, match=message):
            convert.convert_video(clip, out, swapper, progress=False, **kwargs)
    with pytest.raises(FaceswapError, match="is a folder"):
        convert.convert_video(clip, tmp_path, swapper, overwrite=True, progress=False)
    assert clip.read_bytes() == original and not out.exists()  # the input clip was never replaced


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
    sw = swap.Swapper(trained_pair[1], "tomas", _Failing(detect.get_detector("truth", clip=clip), 12))
    with pytest.raises(RuntimeError, match="half way"):
        convert.convert_video(clip, out, sw, progress=False, overwrite=True, chunk=4)
    assert out.read_bytes() == b"the previous result"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.mp4"]


def test_cli_convert_and_its_errors(clip, trained_pair, tmp_path, capsys):
    out = tmp_path / "cli.mp4"
    code = cli.main(["convert", str(clip), "--model", str(trained_pair[1]), "--to", "tomas", "--out", str(out),
                     "--detector", "truth", "--end", "0.4"])
    assert code == 0 and media.video_info(out).frames == 10
    assert "10 frames" in capsys.readouterr().out
    assert cli.main(["verify", str(out), str(clip)]) == 0  # the CLI's output carries all three marks, the source none
    report = capsys.readouterr().out.split(f"{clip}:")
    assert all(f"{m} found" in report[0] for m in ("watermark", "visible label", "metadata tag"))
    assert all(f"{m} not found" in report[1] for m in ("watermark", "visible label", "metadata tag"))
    code = cli.main(["convert", str(clip), "--model", str(tmp_path / "nomodel"), "--to", "tomas",
                     "--out", str(tmp_path / "x.mp4")])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "nomodel" in err and len(err.splitlines()) == 1
    code = cli.main(["convert", str(clip), "--model", str(trained_pair[1]), "--to", "tomas", "--out", str(out),
                     "--detector", "truth"])
    assert code == 2 and "already exists" in capsys.readouterr().err
    assert media.video_info(out).frames == 10  # the earlier output is untouched




def test_identity_score_of_the_swap_moves_the_faces_from_the_source_towards_the_target(clip, trained_pair, tmp_path):
    """On sampled frames, the swapped faces move away from A's face set towards B's (dlib's embeddings; the
    CLI prints it in its summary)."""

    ws, model_dir = trained_pair
    means = identity.person_means(ws, "ines", "tomas")
    assert means is not None and all(m.shape == (128,) for m in means)
    sw = swap.Swapper(model_dir, "tomas", detect.get_detector("truth", clip=clip))
    s = convert.convert_video(clip, tmp_path / "o.mp4", sw, progress=False, identity_of=means, identity_samples=10)
    before, after = s.identity["before"], s.identity["after"]
    assert before["faces"] == after["faces"] == 10  # 30 frames, every 3rd
    assert before["recognised_as_target"] == 0 and before["to_source"] < identity.THRESHOLD  # ines, as she was
    # this briefly trained model's swaps are soft: a face recogniser finds them farther from ines, and relative
    # to ines nearer to tomas, though not yet nearer to tomas than the unswapped face was
    assert after["to_source"] > before["to_source"] + 0.05
    assert after["to_target"] - after["to_source"] < before["to_target"] - before["to_source"]
    assert "recognised as the target" in str(s)
    assert identity.person_means(ws, "ines", "nobody") is None  # no face set: no score, no error


def test_a_phone_clip_stored_sideways_is_found_and_converted_upright(tmp_path):
    """A clip whose frames are stored turned, with a display matrix that turns them back (a phone held
    upright): the detector sees upright faces and the output plays upright without a display matrix."""
    from faceswap_core.training.model import FaceSwapModel

    upright = [synth.render(synth.CAST["ines"], synth.Condition(yaw=5 * k, mouth_open=0.1 * k), (192, 144)).frame
               for k in range(6)]
    clip = tmp_path / "phone.mp4"
    with av.open(str(clip), "w") as out:
        s = out.add_stream("libx264", rate=10, options={"crf": "12"})
        s.width, s.height, s.pix_fmt = 192, 144, "yuv420p"  # stored landscape...
        s.set_display_rotation(90)  # ...shown turned a quarter counter-clockwise: portrait
        for i, f in enumerate(upright):
            vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(np.rot90(f, -1)), format="rgb24")
            vf.pts = i
            out.mux(s.encode(vf))
        out.mux(s.encode(None))
    assert (media.video_info(clip).width, media.video_info(clip).height) == (144, 192)
    sw = swap.Swapper(FaceSwapModel.create("lite", ["ines", "tomas"], seed=0), "tomas", "dlib")
    s = convert.convert_video(clip, tmp_path / "out.mp4", sw, progress=False, provenance=False)
    assert s.faces == 6  # found in every frame: upright faces
    got, _ = media.read_frames(tmp_path / "out.mp4")
    with av.open(str(tmp_path / "out.mp4")) as c:
        assert next(c.decode(c.streams.video[0])).rotation == 0  # no display matrix turning it again
    assert got.shape == (6, 192, 144, 3)
    corner = (slice(0, 24), slice(0, 24))  # background, untouched by the swap: the same pixels as upright
    assert np.abs(got[0][corner].astype(int) - upright[0][corner]).mean() < 6
