import re

import av
import numpy as np
import pytest

from faceswap_core import FaceswapError, encode, media


def _frames(n=12, h=64, w=96):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    return [np.roll(base, i, axis=1) for i in range(n)]


def test_write_read_probe_round_trip(tmp_path):
    out = encode.write_video(tmp_path / "v.mp4", _frames(), fps=12)
    info = media.video_info(out)
    assert (info.width, info.height, info.frames, info.has_audio) == (96, 64, 12, False)
    assert info.fps == pytest.approx(12) and info.duration == pytest.approx(1.0, abs=0.01)
    frames, times = media.read_frames(out)
    assert frames.shape == (12, 64, 96, 3) and np.allclose(np.diff(times), 1 / 12, atol=1e-3)
    half, _ = media.read_frames(out, fps=6)
    assert len(half) == 6
    part, t = media.read_frames(out, start=0.5, end=0.75)
    assert len(part) == 3 and t[0] == pytest.approx(0.5, abs=0.01)


def test_audio_is_carried_across_unchanged_in_duration(cast_clip, tmp_path):
    frames, _ = media.read_frames(cast_clip)
    out = encode.write_video(tmp_path / "copy.mp4", frames[:, ::-1], fps=25, audio_from=cast_clip)
    src, dst = media.video_info(cast_clip), media.video_info(out)
    assert dst.has_audio and dst.audio_duration == pytest.approx(src.audio_duration, abs=1e-3)
    a, _ = media.read_audio(cast_clip)
    b, _ = media.read_audio(out)
    assert np.array_equal(a, b)  # a stream copy: the very same samples


def test_audio_range_is_cut_and_shifted(cast_clip, tmp_path):
    frames, _ = media.read_frames(cast_clip, start=0.4, end=1.2)
    out = encode.write_video(tmp_path / "cut.mp4", frames, fps=25, audio_from=cast_clip, audio_range=(0.4, 1.2))
    info = media.video_info(out)
    assert info.frames == 20
    assert abs(info.audio_duration - 0.8) < 0.1


@pytest.mark.parametrize("content", [b"", b"this is not a video at all\n" * 50, bytes(range(256)) * 40])
def test_non_video_files_give_one_line_errors(tmp_path, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(FaceswapError) as e:
        media.video_info(bad)
    assert "bad.mp4" in str(e.value) and "\n" not in str(e.value)


def test_truncated_file_is_reported(cast_clip, tmp_path):
    data = cast_clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(FaceswapError, match="cut.mp4"):
        media.read_frames(cut)


def test_missing_file_and_odd_size(tmp_path):
    with pytest.raises(FaceswapError, match="no such file"):
        media.video_info(tmp_path / "nope.mp4")
    with pytest.raises(FaceswapError, match="must be even"):
        encode.write_video(tmp_path / "odd.mp4", [np.zeros((63, 64, 3), np.uint8)], fps=10)
    assert not list(tmp_path.glob("*odd*"))


def test_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path):
    target = tmp_path / "out.mp4"
    encode.write_video(target, _frames(4), fps=10)
    before = target.read_bytes()
    with pytest.raises(FaceswapError, match="already exists"):
        encode.write_video(target, _frames(4), fps=10)

    def broken():
        yield from _frames(3)
        raise RuntimeError("decoder died")

    with pytest.raises(RuntimeError):
        encode.write_video(target, broken(), fps=10, overwrite=True)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]


def _pattern(h=48, w=80):
    """An asymmetric picture (no rotation or flip maps it onto itself): a white block top left, a green bar."""
    img = np.full((h, w, 3), 30, np.uint8)
    img[:16, :24] = 250
    img[:, 52:60, 1] = 220
    return img


def _clip(path, frames, fps=10, rotation=None, tags=None, options=None):
    """Write frames with PyAV itself: a display matrix (`rotation`, counter-clockwise) or stream tags, as a phone
    or an old tool would, and muxer options such as faststart."""
    out = av.open(str(path), "w", options=options or {})
    s = out.add_stream("libx264", rate=fps, options={"crf": "12", "preset": "veryfast"})
    s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
    s.metadata.update(tags or {})
    if rotation is not None:
        s.set_display_rotation(rotation)
    for i, f in enumerate(frames):
        vf = av.VideoFrame.from_ndarray(f, format="rgb24")
        vf.pts = i
        out.mux(s.encode(vf))
    out.mux(s.encode(None))
    out.close()
    return path


def _first_decoded(path):
    with av.open(str(path)) as c:
        return next(c.decode(c.streams.video[0]))


def _turned(frames, img):
    """Which counter-clockwise quarter turn of `img` every frame shows (None if none matches)."""
    for k in range(4):
        want = np.rot90(img, k)
        if all(f.shape == want.shape and np.abs(f.astype(int) - want).mean() < 6 for f in frames):
            return k
    return None


@pytest.mark.parametrize("degrees", [90, 180, 270, -90])
def test_phone_clip_is_read_upright(tmp_path, degrees):
    img = _pattern()
    clip = _clip(tmp_path / "phone.mp4", [img] * 5, rotation=degrees)
    first = _first_decoded(clip)  # the metadata is there, as PyAV itself reads it (a player turns the picture)
    assert first.rotation % 360 == degrees % 360 and "DISPLAYMATRIX" in [sd.type.name for sd in first.side_data]
    assert _turned([first.to_ndarray(format="rgb24")], img) == 0  # stored sideways
    k = degrees // 90 % 4
    frames, _ = media.read_frames(clip)
    assert _turned(frames, img) == k and frames.flags.c_contiguous
    assert _turned([f for _, f in media.iter_frames(clip, start=0.2, fps=5)], img) == k
    info = media.video_info(clip)
    assert (info.height, info.width) == np.rot90(img, k).shape[:2] and info.rotation == degrees % 360
    out = encode.write_video(tmp_path / "upright.mp4", frames, fps=10)  # what convert and collect --section do
    assert _first_decoded(out).rotation == 0  # no display matrix turning it a second time
    again, _ = media.read_frames(out)
    upright = media.video_info(out)
    assert _turned(again, img) == k and (upright.width, upright.height) == (info.width, info.height)


def test_legacy_rotate_tag_is_honoured(tmp_path):
    img = _pattern()
    clip = _clip(tmp_path / "old.mkv", [img] * 3, tags={"rotate": "90"})  # an old tool's tag: 90 clockwise
    with av.open(str(clip)) as c:
        assert {k.lower(): v for k, v in c.streams.video[0].metadata.items()}["rotate"] == "90"
    frames, _ = media.read_frames(clip)
    assert _turned(frames, img) == 3 and media.video_info(clip).rotation == 270


def test_cut_off_clip_names_the_frames_it_holds(tmp_path):
    """A faststart clip (index first) cut off during a download: one line with the count, no partial output."""
    whole = _clip(tmp_path / "whole.mp4", _frames(40), options={"movflags": "+faststart"})
    with av.open(str(whole)) as c:
        pos = [e.pos for e in c.streams.video[0].index_entries]  # (entries point into the open container)
    data = whole.read_bytes()
    assert data.index(b"moov") < data.index(b"mdat") and len(pos) == 40
    for cut, have in ((pos[17], 17), (pos[25] + 3, 25)):  # between two frames, in the middle of one
        clip = tmp_path / "clip.mp4"
        clip.write_bytes(data[:cut])
        msg = rf"^{re.escape(str(clip))}: the data stops after {have} of 40 frames \(truncated file\?\); [^\n]*$"
        with pytest.raises(FaceswapError, match=msg):
            media.read_frames(clip)
        with pytest.raises(FaceswapError, match=msg):
            media.video_info(clip)  # so convert and collect refuse it before any work
        with pytest.raises(FaceswapError, match=msg):
            encode.write_video(tmp_path / "out.mp4", (f for _, f in media.iter_frames(clip)), fps=10)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "whole.mp4"]


def test_zeroed_tail_names_the_frames_read(tmp_path):
    """Index and size intact but the end of the data zeroed (a preallocated, unfinished copy)."""
    clip = encode.write_video(tmp_path / "clip.mp4", _frames(40), fps=10)
    data = bytearray(clip.read_bytes())
    start = data.index(b"mdat") + 4
    end = data.index(b"moov") - 4
    data[(start + end) // 2:end] = bytes(end - (start + end) // 2)
    clip.write_bytes(bytes(data))
    with pytest.raises(FaceswapError, match=r"clip.mp4: damaged video data after \d+ of 40 frames") as e:
        media.read_frames(clip)
    assert "\n" not in str(e.value)
