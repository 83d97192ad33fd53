"""Face detection with 68 landmarks behind one small interface, with four backends:

- ``fan``: face-alignment's 2D FAN with its S3FD detector (accurate; weights from torch's hub cache; `fan`),
- ``dlib``: dlib's HOG boxes and 68-point shape predictor (offline, real faces; `dlibface`),
- ``cascade``: OpenCV Haar cascades (frontal, profile, eyes) with landmarks placed from the mean face
  (offline and coarse: good enough to align, not to measure expressions; `cascade`),
- ``truth``: the ground truth of a synthetic cast clip (here).

``detector.detect(frame, index)`` returns a list of `Face`; ``detect_batch`` does many frames at once.
Taught in chapter 02. Both 68-point models (FAN's and dlib's) were trained on iBUG 300-W data, whose
licence excludes commercial use.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import synth
from ..errors import FaceswapError


@dataclass
class Face:
    """One detected face: box (x0, y0, x1, y1), 68 landmarks (x, y), a score and who found it."""

    box: np.ndarray
    landmarks: np.ndarray  # (68, 2) float32, iBUG order
    score: float
    detector: str
    visible: np.ndarray | None = field(default=None, repr=False)  # (68,) bool, known only for the truth

    @property
    def size(self) -> float:
        """The side of the box (geometric mean of width and height) in pixels."""
        w, h = self.box[2] - self.box[0], self.box[3] - self.box[1]
        return float(np.sqrt(max(w, 0) * max(h, 0)))


def box_of(points: np.ndarray) -> np.ndarray:
    """The bounding box (x0, y0, x1, y1) of points (K, 2)."""
    return np.r_[points.min(0), points.max(0)].astype(np.float32)


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two boxes (x0, y0, x1, y1)."""
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class Detector:
    """The interface: `detect` one frame (its index matters only to the truth backend)."""

    name = "base"

    def detect(self, frame: np.ndarray, index: int | None = None) -> list[Face]:
        raise NotImplementedError

    def detect_batch(self, frames: list[np.ndarray], indices: list[int] | None = None) -> list[list[Face]]:
        indices = indices if indices is not None else [None] * len(frames)
        if len(indices) != len(frames):
            raise FaceswapError(f"{len(frames)} frames but {len(indices)} frame indices: give one index "
                                "per frame")
        return [self.detect(f, i) for f, i in zip(frames, indices)]


# --------------------------------------------------------------------------------------------------
# truth


class TruthDetector(Detector):
    """Faces read from a synthetic clip's ground-truth sidecar (the frame index is required)."""

    name = "truth"

    def __init__(self, clip: str | Path):
        self.truth = synth.load_truth(clip)

    def detect(self, frame: np.ndarray, index: int | None = None) -> list[Face]:
        if index is None:
            raise FaceswapError("the truth detector needs the frame index of the clip it was made for")
        if not isinstance(index, (int, np.integer)) or not 0 <= index < len(self.truth.landmarks):
            raise FaceswapError(f"frame {index!r} is outside the ground truth ({len(self.truth.landmarks)} "
                                "frames)")
        marks = self.truth.landmarks[index]
        return [Face(box_of(marks[:, :2]), marks[:, :2].copy(), 1.0, self.name, marks[:, 2] > 0.5)]


# --------------------------------------------------------------------------------------------------
# choosing


def get_detector(name: str = "auto", clip: str | Path | None = None, device: str | None = None,
                 quiet: bool = False) -> Detector:
    """A detector by name: fan, dlib, cascade, truth, or auto: FAN when its weights are here or can be
    fetched, else dlib, else the cascade (saying in one line which and why, unless `quiet`)."""
    if not isinstance(name, str):
        raise FaceswapError(f"detector {name!r}: give a name (auto, fan, dlib, cascade or truth)")
    if name == "truth":
        if clip is None:
            raise FaceswapError("the truth detector needs a synthetic clip (with its .truth.json)")
        return TruthDetector(clip)
    from .cascade import CascadeDetector  # the backends import this module (Face, Detector)
    from .dlibface import DlibDetector
    from .fan import FanDetector

    make = {"fan": lambda: FanDetector(device), "dlib": DlibDetector, "cascade": CascadeDetector}
    if name in make:
        return make[name]()
    if name != "auto":
        raise FaceswapError(f"unknown detector {name!r}: use auto, fan, dlib, cascade or truth")
    reasons = []
    for kind in ("fan", "dlib"):
        try:
            chosen = make[kind]()
        except FaceswapError as e:
            reasons.append(f"{kind}: {e}")
            continue
        if reasons and not quiet:
            print(f"note: using the {kind} detector ({'; '.join(reasons)})", file=sys.stderr)
        return chosen
    if not quiet:
        print(f"note: using the coarse cascade detector ({'; '.join(reasons)})", file=sys.stderr)
    return CascadeDetector()


def choose(name: str, clips: Sequence[str | Path]) -> str:
    """The detector to use on `clips`: `name`, except that "truth" needs every clip to be a cast clip with
    its truth file; for any other clip (real footage) it becomes "auto"."""
    if name == "truth" and not all(synth.truth_path(c).exists() for c in clips):
        return "auto"
    return name
