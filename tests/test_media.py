import numpy as np
import pytest

from faceswap_core import FaceswapError, media


def _frames(n=12, h=64, w=96):
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (h, w, 3), dtype=np.uint8)
    return [np.roll(base, i, axis=1) for i in range(n)]


def test_write_read_probe_round_trip(tmp_path):
    out = media.write_video(tmp_path / "v.mp4", _frames(), fps=12)
    info = media.probe(out)
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
    out = media.write_video(tmp_path / "copy.mp4", frames[:, ::-1], fps=25, audio_from=cast_clip)
    src, dst = media.probe(cast_clip), media.probe(out)
    assert dst.has_audio and dst.audio_duration == pytest.approx(src.audio_duration, abs=1e-3)
    a, _ = media.read_audio(cast_clip)
    b, _ = media.read_audio(out)
    assert np.array_equal(a, b)  # a stream copy: the very same samples


def test_audio_range_is_cut_and_shifted(cast_clip, tmp_path):
    frames, _ = media.read_frames(cast_clip, start=0.4, end=1.2)
    out = media.write_video(tmp_path / "cut.mp4", frames, fps=25, audio_from=cast_clip, audio_range=(0.4, 1.2))
    info = media.probe(out)
    assert info.frames == 20
    assert abs(info.audio_duration - 0.8) < 0.1


@pytest.mark.parametrize("content", [b"", b"this is not a video at all\n" * 50, bytes(range(256)) * 40])
def test_non_video_files_give_one_line_errors(tmp_path, content):
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    with pytest.raises(FaceswapError) as e:
        media.probe(bad)
    assert "bad.mp4" in str(e.value) and "\n" not in str(e.value)


def test_truncated_file_is_reported(cast_clip, tmp_path):
    data = cast_clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(FaceswapError, match="cut.mp4"):
        media.read_frames(cut)


def test_missing_file_and_odd_size(tmp_path):
    with pytest.raises(FaceswapError, match="no such file"):
        media.probe(tmp_path / "nope.mp4")
    with pytest.raises(FaceswapError, match="must be even"):
        media.write_video(tmp_path / "odd.mp4", [np.zeros((63, 64, 3), np.uint8)], fps=10)
    assert not list(tmp_path.glob("*odd*"))


def test_failed_write_leaves_no_file_and_keeps_the_old_one(tmp_path):
    target = tmp_path / "out.mp4"
    media.write_video(target, _frames(4), fps=10)
    before = target.read_bytes()
    with pytest.raises(FaceswapError, match="already exists"):
        media.write_video(target, _frames(4), fps=10)

    def broken():
        yield from _frames(3)
        raise RuntimeError("decoder died")

    with pytest.raises(RuntimeError):
        media.write_video(target, broken(), fps=10, overwrite=True)
    assert target.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["out.mp4"]
