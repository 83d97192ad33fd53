"""Cast clips: render a clip to MP4 with a ground-truth sidecar, read the truth back,
render a swap's answer."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from .. import encode
from ..errors import FaceswapError
from ..files import AtomicPath
from ..progress import progress_bar
from .cast import Condition, Identity, Rendering
from .motion import random_motion, voice_track
from .raycast import _size_hw, render


def truth_path(clip: str | Path) -> Path:
    """Where the ground-truth sidecar of a clip lives."""
    clip = Path(clip)
    return clip.with_name(clip.stem + ".truth.json")


def render_clip(identity: Identity, n_frames: int, path: str | Path, *, fps: float = 25.0,
                size: int | tuple[int, int] = 256, seed: int = 0,
                conditions: Sequence[Condition] | None = None, overwrite: bool = False,
                progress: bool = False, **motion) -> Path:
    """Render a talking, turning clip of `identity` to an MP4 with audio plus a ground-truth sidecar."""
    conditions = list(conditions) if conditions is not None else random_motion(n_frames, fps, seed, **motion)
    h, w = _size_hw(size)
    mouth = np.array([c.mouth_open for c in conditions])
    audio = voice_track(mouth, fps, seed=seed, pitch_hz=110 + 80 * ((sum(map(ord, identity.name)) % 7) / 6))
    marks = []
    frames = iter(conditions)
    if progress:
        frames = progress_bar(frames, total=len(conditions), desc=f"render {identity.name}", leave=False)
    truth_tmp, placed = AtomicPath(truth_path(path), overwrite), False
    try:
        with encode.VideoWriter(path, fps, audio=(audio, 24000), overwrite=overwrite,
                                metadata={"comment": "synthetic face: faceswap-lab cast member "
                                                     f"{identity.name}"}) as wr:
            for c in frames:
                r = render(identity, c, (h, w))
                wr.write(r.frame)
                marks.append(np.round(r.landmarks, 2).tolist())
            truth = {"identity": asdict(identity), "fps": fps, "size": [h, w], "seed": seed,
                     "conditions": [asdict(c) for c in conditions], "landmarks": marks}
            # the sidecar goes into place before the clip does (the writer renames the clip on leaving this
            # block): a clip under its final name always has its truth, and a failed close removes both
            truth_tmp.tmp.write_text(json.dumps(truth))
            placed = truth_tmp.commit()
    except BaseException:
        truth_tmp.discard()
        if placed:  # the clip never went into place: its truth goes too
            truth_tmp.final.unlink(missing_ok=True)
        raise
    return Path(path)


@dataclass
class Truth:
    """A cast clip's per-frame ground truth."""

    identity: Identity
    fps: float
    size: tuple[int, int]
    conditions: list[Condition]
    landmarks: np.ndarray  # (N, 68, 3)


def _condition_from(d: dict) -> Condition:
    names = {f.name for f in fields(Condition)}
    d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names}
    return Condition(**d)


def load_truth(clip_or_sidecar: str | Path) -> Truth:
    """Read the ground truth of a cast clip (give the clip or its .truth.json)."""
    p = Path(clip_or_sidecar)
    p = p if p.name.endswith(".truth.json") else truth_path(p)
    try:
        d = json.loads(p.read_text())
        ident = d["identity"]
        ident = Identity(**{k: tuple(v) if isinstance(v, list) else v for k, v in ident.items()})
        return Truth(ident, float(d["fps"]), tuple(d["size"]), [_condition_from(c) for c in d["conditions"]],
                     np.asarray(d["landmarks"], np.float32))
    except FileNotFoundError:
        raise FaceswapError(f"{p}: no ground truth here; it exists only for synthetic cast clips") from None
    except (ValueError, KeyError, TypeError) as e:
        raise FaceswapError(f"{p}: damaged ground-truth file ({e}); re-render the clip") from None


def swap_truth(target: Identity, truth: Truth, index: int,
               size: int | tuple[int, int] | None = None) -> Rendering:
    """The right answer of a swap: `target` rendered in the exact conditions of frame `index`."""
    return render(target, truth.conditions[index], size or truth.size)
