import functools
import http.server
import os
import threading
from pathlib import Path

import pytest

os.environ.setdefault("MPLBACKEND", "agg")
os.environ.setdefault("TQDM_DISABLE", "1")

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def cast_clip(tmp_path_factory) -> Path:
    """A short synthetic clip of ines with audio and ground truth (shared, read-only)."""
    from faceswap_core import synth

    path = tmp_path_factory.mktemp("clips") / "ines.mp4"
    synth.render_clip(synth.CAST["ines"], 40, path, size=128, seed=3)
    return path


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture()
def http_root(tmp_path):
    """A folder served over HTTP on 127.0.0.1; yields (folder, base_url)."""
    root = tmp_path / "www"
    root.mkdir()
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield root, f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()
