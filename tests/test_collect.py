import json
import re
import shutil
import socket
import time

import av
import cv2
import numpy as np
import pytest

from faceswap_core import FaceswapError, collect, media


def test_synthetic_collect_writes_clip_and_manifest(tmp_path):
    rec = collect.collect("synthetic:kofi", "kofi", tmp_path, frames=10, size=64, seed=1)
    path = rec.path(tmp_path, "kofi")
    assert path.exists() and path.with_name(path.stem + ".truth.json").exists()
    manifest = json.loads((tmp_path / "clips/kofi/manifest.json").read_text())
    assert manifest["clips"][0]["source"] == "synthetic:kofi" and "no real person" in manifest["clips"][0]["licence"]
    assert (rec.frames, rec.width, rec.has_audio) == (10, 64, True)
    mtime = path.stat().st_mtime_ns
    again = collect.collect("synthetic:kofi", "kofi", tmp_path, frames=10, size=64, seed=1)
    assert again == rec and path.stat().st_mtime_ns == mtime  # reused, not re-rendered


def test_local_file_with_section(cast_clip, tmp_path):
    rec = collect.collect(str(cast_clip), "ines", tmp_path, section="0.4-1.2")
    assert rec.kind == "file" and rec.frames == 20 and rec.has_audio
    assert "consent" in rec.licence


def test_url_downloads_through_yt_dlp(cast_clip, http_root, tmp_path):
    root, base = http_root
    shutil.copy(cast_clip, root / "talk.mp4")
    rec = collect.collect(f"{base}/talk.mp4", "web", tmp_path)
    assert rec.kind == "url" and rec.source == f"{base}/talk.mp4"
    got = rec.path(tmp_path, "web")
    assert media.video_info(got).frames == 40 and got.read_bytes() == cast_clip.read_bytes()
    cut = collect.collect(f"{base}/talk.mp4", "web2", tmp_path, section="0-0.8")
    assert cut.frames == 20


def test_url_404_is_a_clear_error(http_root, tmp_path):
    _, base = http_root
    with pytest.raises(FaceswapError, match="404") as e:
        collect.collect(f"{base}/missing.mp4", "web", tmp_path)
    assert "\n" not in str(e.value) and "missing.mp4" in str(e.value)


def test_closed_port_fails_fast(tmp_path, monkeypatch):
    """A refused connection is one line naming the URL and the refusal, after a single attempt (no retries)."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    attempts = []

    class CountingSocket(socket.socket):
        def connect(self, address):
            if isinstance(address, tuple) and address[1] == port:
                attempts.append(address)
            return super().connect(address)

    monkeypatch.setattr(socket, "socket", CountingSocket)
    url = f"http://127.0.0.1:{port}/clip.mp4"
    t0 = time.monotonic()
    with pytest.raises(FaceswapError, match=rf"^{re.escape(url)}: download failed \(.*Connection refused\)") as e:
        collect.collect(url, "web", tmp_path)
    assert "\n" not in str(e.value)
    assert len(attempts) == 1  # yt-dlp retries nothing (retries=0)
    assert time.monotonic() - t0 < 60  # generous: catches only minutes of back-off, not a slow machine


def test_bad_sources_and_names(tmp_path):
    with pytest.raises(FaceswapError, match="not a file, a URL"):
        collect.collect(str(tmp_path / "nothing.mp4"), "x", tmp_path)
    with pytest.raises(FaceswapError, match="person name"):
        collect.collect("synthetic:ines", "../evil", tmp_path)
    with pytest.raises(FaceswapError, match="START-END"):
        collect.parse_section("soon")
    text = tmp_path / "notes.mp4"
    text.write_text("hello")
    with pytest.raises(FaceswapError, match="notes.mp4"):
        collect.collect(str(text), "x", tmp_path)
    assert collect.load_manifest(tmp_path, "x") == []


def test_a_different_clip_under_the_same_name_is_refused(tmp_path):
    collect.collect("synthetic:mei", "mei", tmp_path, frames=6, size=64)
    folder = tmp_path / "clips/mei"
    (folder / "mei_s0_6f_64px.mp4").write_bytes(b"precious")
    manifest = folder / "manifest.json"
    m = json.loads(manifest.read_text())
    m["clips"][0]["source"] = "synthetic:other"
    manifest.write_text(json.dumps(m))
    with pytest.raises(FaceswapError, match="different clip"):
        collect.collect("synthetic:mei", "mei", tmp_path, frames=6, size=64)
    assert (folder / "mei_s0_6f_64px.mp4").read_bytes() == b"precious"


def test_a_real_clip_over_a_cast_clip_takes_its_truth_away_and_hidden_names_become_visible(tmp_path):
    """`--overwrite` of a cast clip by a real file of the same name: the old truth must not stay beside it (it
    would score the new clip against another clip's answer). A file named `.x.mp4` is collected as `x.mp4`
    (extract skips hidden files)."""
    from faceswap_core import encode

    cast = collect.collect("synthetic:mei", "mei", tmp_path, frames=6, size=64)
    clip = cast.path(tmp_path, "mei")
    truth = clip.with_name(clip.stem + ".truth.json")
    assert truth.exists()
    other = tmp_path / "in" / clip.name
    other.parent.mkdir()
    encode.write_video(other, [np.full((64, 64, 3), 90, np.uint8)] * 4, fps=5)
    rec = collect.collect(str(other), "mei", tmp_path, overwrite=True)
    assert rec.file == clip.name and rec.kind == "file" and rec.frames == 4 and not truth.exists()
    hidden = tmp_path / "in" / ".hidden.mp4"
    encode.write_video(hidden, [np.full((64, 64, 3), 90, np.uint8)] * 4, fps=5)
    rec = collect.collect(str(hidden), "mei", tmp_path)
    assert rec.file == "hidden.mp4" and (tmp_path / "clips/mei/hidden.mp4").exists()


@pytest.mark.parametrize("name", ["photo.jpg", "photo.png", "photo.mp4"])  # (the last one a JPEG misnamed)
def test_an_image_is_refused_as_a_clip(tmp_path, name):
    img = np.zeros((64, 48, 3), np.uint8)
    img[8:24, 8:40] = 200
    photo = tmp_path / name
    photo.write_bytes(cv2.imencode(".png" if name.endswith(".png") else ".jpg", img)[1].tobytes())
    msg = (rf"^{re.escape(str(photo))}: an image, not a video; image folders are a face source for `extract`, "
           r"not for `collect`$")
    with pytest.raises(FaceswapError, match=msg):
        collect.collect(str(photo), "x", tmp_path / "ws")
    assert not (tmp_path / "ws" / "clips" / "x").exists() and collect.load_manifest(tmp_path / "ws", "x") == []


def test_a_phone_clip_is_collected_upright(tmp_path):
    """A portrait phone clip (stored 96x64 with a display matrix): its record and a cut of it are 64x96."""
    img = np.full((64, 96, 3), 30, np.uint8)
    img[:20, :30] = 250  # a block at the top left and a green bar: no turn maps it onto itself
    img[:, 60:68, 1] = 220
    src = tmp_path / "phone.mp4"
    with av.open(str(src), "w") as out:
        s = out.add_stream("libx264", rate=10)
        s.width, s.height, s.pix_fmt = 96, 64, "yuv420p"
        s.set_display_rotation(-90)  # as a phone held upright writes it: turn 90 degrees clockwise to show
        for i in range(10):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = i
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    whole = collect.collect(str(src), "p", tmp_path / "ws")
    cut = collect.collect(str(src), "q", tmp_path / "ws", section="0.2-0.8")
    assert (whole.width, whole.height) == (cut.width, cut.height) == (64, 96) and cut.frames == 6
    frames, _ = media.read_frames(cut.path(tmp_path / "ws", "q"))
    assert frames.shape == (6, 96, 64, 3) and media.video_info(cut.path(tmp_path / "ws", "q")).rotation == 0
    error = [np.abs(frames.astype(int) - np.rot90(img, k)).mean() for k in (-1, 1)]
    assert error[0] < 6 < error[1]  # turned clockwise once (upright), not the other way or twice
