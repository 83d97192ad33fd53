"""The made-up people a pretrained base learns from, rendered and extracted like any pair's clips, and the
one call that builds a base (`faceswap-core pretrain`). The training itself is `training.pretrain`."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .. import synth
from ..faces import extraction
from ..training import pretrain, train
from ..training.recipe import BASE_RECIPE

CLIP_SEED = 7000  # the motion seed of person i's clip: CLIP_SEED + 31 * seed + i


def render_people(workspace: str | Path, names: list[str], frames: int, seed: int = 0,
                  progress: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Render a clip of each made-up person into `workspace` (256 px, 25 fps), extract its faces with the
    truth landmarks and return the training arrays (`train.load_faces`)."""
    pretrain.check_people(names)
    for i, name in enumerate(names):
        clip = Path(workspace) / "clips" / name / f"{name}_pretrain.mp4"
        clip.parent.mkdir(parents=True, exist_ok=True)
        synth.render_clip(synth.get_identity(name), frames, clip, size=256, seed=CLIP_SEED + 31 * seed + i,
                          overwrite=True)
        extraction.extract(clip, name, workspace, detector="truth", size=256, progress=False, overwrite=True)
        if progress:
            print(f"  rendered {name} ({i + 1}/{len(names)})", flush=True)
    return train.load_faces(workspace, names)


def build_base(out: str | Path, config: str = "lite", count: int = BASE_RECIPE["count"],
               frames: int = BASE_RECIPE["frames"], steps: int = BASE_RECIPE["steps"],
               seed: int = BASE_RECIPE["seed"], progress: bool = True, device: str | None = None) -> Path:
    """Render `count` made-up people (`frames` each) and train a base on them (`training.pretrain`); the
    people and clips live in a temporary workspace. About 30 minutes here for the shipped lite base."""
    names = pretrain.people(count)
    if frames < 8:
        raise pretrain.FaceswapError(f"--frames {frames}: render at least 8 frames per person")
    pretrain.writable(Path(out))
    with tempfile.TemporaryDirectory(prefix="pretrain-people-") as ws:
        faces = render_people(ws, names, frames, seed, progress)
        return pretrain.pretrain(out, faces, config, steps, seed, frames, progress, device)
