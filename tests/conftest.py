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


@pytest.fixture(scope="session")
def trained_pair(tmp_path_factory):
    """A lite model trained briefly on cast face sets of ines and tomas: (workspace, model folder).
    Short, but long enough that decoder tomas draws tomas (tests of convert and the latent explorer)."""
    from faceswap_core import synth
    from faceswap_core.faces import extraction
    from faceswap_core.training import recipe, train
    from faceswap_core.training.model import FaceSwapModel

    ws = tmp_path_factory.mktemp("trained")
    for k, person in enumerate(("ines", "tomas")):
        clip = synth.render_clip(synth.CAST[person], TRAIN_FRAMES, ws / "clips" / person / f"{person}.mp4",
                                 size=160, seed=20 + k)
        extraction.extract(clip, person, ws, detector="truth", size=128, progress=False)
    faces = train.load_faces(ws, ["ines", "tomas"], crop=128)
    out = ws / "models" / "ines-tomas-lite"
    model = FaceSwapModel.create("lite", ["ines", "tomas"], seed=0)
    t = train.Trainer(model, faces, out, recipe.TrainConfig(batch_size=16, lr=5e-4, seed=0))
    t.train(TRAIN_STEPS, progress=False)
    return ws, out


TRAIN_FRAMES = 80
TRAIN_STEPS = 300


@pytest.fixture(scope="session")
def clip(tmp_path_factory):
    """A held-out clip of ines (frames the model never saw), 30 frames at 160 px, with audio and truth; head
    turns up to 45 degrees (the briefly trained test model is still poor at profiles)."""
    from faceswap_core import synth

    path = tmp_path_factory.mktemp("conv") / "ines_test.mp4"
    return synth.render_clip(synth.CAST["ines"], 30, path, size=160, seed=77, yaw_range=(-45, 45))


@pytest.fixture(scope="session")
def swapper(trained_pair, clip):
    from faceswap_core.faces import detect
    from faceswap_core.swapping import options, swap

    _, model_dir = trained_pair
    return swap.Swapper(model_dir, "tomas", detect.get_detector("truth", clip=clip),
                        options=options.SwapOptions(color="none"))


def face_region(truth, i, shape, grow=0.35):
    """A generous region around frame i's face (the swap may touch only pixels inside it)."""
    from faceswap_core.faces import align

    marks = truth.landmarks[i][:, :2]
    c = marks.mean(0)
    mask = align.face_mask(c + (marks - c) * (1 + grow), shape, forehead=0.4)
    return mask > 0
