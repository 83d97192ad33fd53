import json
import re
import shutil
import socket
import time

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
    assert media.probe(got).frames == 40 and got.read_bytes() == cast_clip.read_bytes()
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
