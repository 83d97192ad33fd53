"""Face detection with 68 landmarks behind one small interface, with four backends:

- ``fan``: face-alignment's 2D FAN with its S3FD detector (accurate; weights from torch's hub cache),
- ``dlib``: dlib's HOG boxes and 68-point shape predictor (offline, real faces; see `dlibface`),
- ``cascade``: OpenCV Haar cascades (frontal, profile, eyes) with landmarks placed from the mean face
  (offline and coarse: good enough to align, not to measure expressions),
- ``truth``: the ground truth of a synthetic cast clip.

``detector.detect(frame, index)`` returns a list of `Face`; ``detect_batch`` does many frames at once.
Taught in chapter 02. Both 68-point models (FAN's and dlib's) were trained on iBUG 300-W data, whose
licence excludes commercial use.
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from .. import media, synth
from ..errors import FaceswapError
from . import align, dlibface

FAN_FILES = ("2DFAN4-11f355bf06.pth.tar", "s3fd-619a316812.pth")


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


def _box_of(points: np.ndarray) -> np.ndarray:
    return np.r_[points.min(0), points.max(0)].astype(np.float32)


class Detector:
    """The interface: `detect` one frame (its index matters only to the truth backend)."""

    name = "base"

    def detect(self, frame: np.ndarray, index: int | None = None) -> list[Face]:
        raise NotImplementedError

    def detect_batch(self, frames: list[np.ndarray], indices: list[int] | None = None) -> list[list[Face]]:
        indices = indices if indices is not None else [None] * len(frames)
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
        if not 0 <= index < len(self.truth.landmarks):
            raise FaceswapError(f"frame {index} is outside the ground truth ({len(self.truth.landmarks)} frames)")
        marks = self.truth.landmarks[index]
        return [Face(_box_of(marks[:, :2]), marks[:, :2].copy(), 1.0, self.name, marks[:, 2] > 0.5)]


# --------------------------------------------------------------------------------------------------
# cascade

# How the mean face sits in an OpenCV cascade box: landmarks ~= box_w * (SCALE * template) + box origin
# + box_w * OFFSET. Measured on the synthetic cast by `calibrate_cascade()` (tests re-check it).
CASCADE_FIT = {"frontal": (0.5142, 0.2399, 0.2895), "profile": (0.4871, 0.4662, 0.3373)}
PROFILE_YAW = 65.0  # the head turn the profile template stands for


@lru_cache(maxsize=1)
def _cascades() -> dict[str, cv2.CascadeClassifier]:
    if not hasattr(cv2, "CascadeClassifier"):
        raise FaceswapError("this OpenCV build has no Haar cascades (5.x); install opencv-python<5")
    root = Path(cv2.data.haarcascades)
    out = {k: cv2.CascadeClassifier(str(root / f)) for k, f in
           (("frontal", "haarcascade_frontalface_default.xml"), ("profile", "haarcascade_profileface.xml"),
            ("eye", "haarcascade_eye.xml"))}
    for k, c in out.items():
        if c.empty():
            raise FaceswapError(f"{root}: the {k} cascade did not load; reinstall opencv-python<5")
    return out


def _iou(a: np.ndarray, b: np.ndarray) -> float:
    x0, y0 = max(a[0], b[0]), max(a[1], b[1])
    x1, y1 = min(a[2], b[2]), min(a[3], b[3])
    inter = max(0.0, x1 - x0) * max(0.0, y1 - y0)
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


class CascadeDetector(Detector):
    """OpenCV Haar cascades: frontal and profile faces, eyes to refine; landmarks from the mean face."""

    name = "cascade"

    def __init__(self, min_size: int = 24, use_eyes: bool = True, profiles: bool = True, max_side: int = 640):
        self.min_size, self.use_eyes, self.profiles = min_size, use_eyes, profiles
        self.max_side = max_side  # frames are searched at most this large (faces in video are big)

    def boxes(self, gray: np.ndarray) -> list[tuple[str, np.ndarray, float]]:
        """Raw cascade boxes as (kind, (x0, y0, x1, y1), score), frontal first, overlaps removed."""
        c = _cascades()
        found = []
        ms = (self.min_size, self.min_size)
        rects, _, weights = c["frontal"].detectMultiScale3(gray, 1.1, 3, minSize=ms, outputRejectLevels=True)
        found += [("frontal", np.array([x, y, x + w, y + h], np.float32), float(s)) for (x, y, w, h), s
                  in zip(rects, np.ravel(weights))]
        if self.profiles:
            width = gray.shape[1]
            for mirrored in (False, True):
                img = gray[:, ::-1] if mirrored else gray
                rects, _, weights = c["profile"].detectMultiScale3(np.ascontiguousarray(img), 1.1, 3, minSize=ms,
                                                                   outputRejectLevels=True)
                for (x, y, w, h), s in zip(rects, np.ravel(weights)):
                    x0 = width - x - w if mirrored else x
                    found.append(("profile_r" if mirrored else "profile_l",
                                  np.array([x0, y, x0 + w, y + h], np.float32), float(s)))
        kept: list[tuple[str, np.ndarray, float]] = []
        for item in found:
            if all(_iou(item[1], k[1]) < 0.3 for k in kept):
                kept.append(item)
        return kept

    def _eyes(self, gray: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """Centres of two eyes found in the upper half of a frontal box, (image-left, image-right)."""
        x0, y0, x1, y1 = box.astype(int)
        w = x1 - x0
        roi = gray[y0:y0 + (y1 - y0) // 2 + w // 10, x0:x1]
        if roi.size == 0:
            return None
        eyes = _cascades()["eye"].detectMultiScale(roi, 1.1, 3, minSize=(max(w // 10, 5),) * 2, maxSize=(w // 3,) * 2)
        centres = np.array([[x + ew / 2, y + eh / 2] for x, y, ew, eh in eyes], np.float64).reshape(-1, 2) + [x0, y0]
        left = [c for c in centres if c[0] < x0 + 0.5 * w]
        right = [c for c in centres if c[0] >= x0 + 0.5 * w]
        if not left or not right:
            return None
        # the largest-separation plausible pair
        a = min(left, key=lambda c: abs(c[0] - (x0 + 0.3 * w)))
        b = min(right, key=lambda c: abs(c[0] - (x0 + 0.7 * w)))
        d = np.linalg.norm(b - a)
        if not 0.25 * w < d < 0.65 * w or abs(b[1] - a[1]) > 0.2 * w:
            return None
        return np.stack([a, b])

    def detect(self, frame: np.ndarray, index: int | None = None) -> list[Face]:
        gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
        s = min(1.0, self.max_side / max(gray.shape))
        if s < 1.0:
            gray = cv2.resize(gray, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
        faces = []
        for kind, box, score in self.boxes(gray):
            yaw = {"frontal": 0.0, "profile_l": -PROFILE_YAW, "profile_r": PROFILE_YAW}[kind]
            faces.append(Face(box / s, self._place(kind, box, gray, yaw) / s, score, self.name))
        return faces

    def _place(self, kind: str, box: np.ndarray, gray: np.ndarray, yaw: float) -> np.ndarray:
        tpl = align.template(yaw)
        if kind == "frontal" and self.use_eyes:
            eyes = self._eyes(gray, box)
            if eyes is not None:
                src = np.stack([tpl[36:42].mean(0), tpl[42:48].mean(0)])
                m = align.umeyama(src, eyes)
                return align.transform_points(tpl, m).astype(np.float32)
        scale, ox, oy = CASCADE_FIT["frontal" if kind == "frontal" else "profile"]
        w = box[2] - box[0]
        t = tpl.copy()
        if kind == "profile_r":  # the template turned right is placed in the box's mirror image
            t[:, 0] = -t[:, 0] + 1.0
            pts = w * scale * t + [box[0], box[1]] + w * np.array([ox, oy])
            pts[:, 0] = box[0] + box[2] - pts[:, 0]
            return pts.astype(np.float32)
        return (w * scale * t + [box[0], box[1]] + w * np.array([ox, oy])).astype(np.float32)


def calibrate_cascade(n: int = 60, seed: int = 0) -> dict[str, tuple[float, float, float]]:
    """Measure CASCADE_FIT on cast renders: how the mean face sits in frontal and profile boxes."""
    rng = np.random.default_rng(seed)
    det = CascadeDetector(use_eyes=False)
    fits: dict[str, list] = {"frontal": [], "profile": []}
    people = list(synth.CAST.values())
    for i in range(n):
        for kind, yaw in (("frontal", rng.uniform(-10, 10)), ("profile", rng.uniform(-75, -55))):
            c = synth.Condition(yaw=yaw, pitch=rng.uniform(-5, 5), scale=rng.uniform(0.8, 1.2),
                                light_azimuth=rng.uniform(-60, 60))
            r = synth.render(people[i % len(people)], c, 256)
            gray = cv2.cvtColor(r.frame, cv2.COLOR_RGB2GRAY)
            boxes = [b for k, b, _ in det.boxes(gray) if k == {"frontal": "frontal", "profile": "profile_l"}[kind]]
            if not boxes:
                continue
            box = max(boxes, key=lambda b: b[2] - b[0])
            tpl = align.template(0.0 if kind == "frontal" else -PROFILE_YAW)
            w = box[2] - box[0]
            # least squares for landmarks = w*s*tpl + origin + w*o  (inner points only)
            a = np.zeros((2 * 51, 3))
            a[0::2, 0], a[1::2, 0] = tpl[17:, 0], tpl[17:, 1]
            a[0::2, 1], a[1::2, 2] = 1, 1
            rhs = ((r.landmarks[17:, :2] - box[:2]) / w).reshape(-1)
            fits[kind].append(np.linalg.lstsq(a, rhs, rcond=None)[0])
    return {k: tuple(np.round(np.median(v, axis=0), 4)) for k, v in fits.items() if v}


# --------------------------------------------------------------------------------------------------
# fan


def hub_checkpoints() -> Path:
    """Where torch (and so face-alignment) keeps downloaded weights."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def fan_weights_present() -> bool:
    return all((hub_checkpoints() / f).exists() for f in FAN_FILES)


class FanDetector(Detector):
    """face-alignment's 2D FAN (68 points) with its S3FD face detector."""

    name = "fan"

    def __init__(self, device: str | None = None, batch_size: int = 8, max_faces: int = 4):
        try:
            import face_alignment
        except ImportError:  # an optional extra: a plain `pip install` lacks it
            raise FaceswapError("face-alignment is not installed: pip install face-alignment (scripts/setup.sh "
                                "does)") from None
        import torch

        from ..device import pick_device

        self.device = device or pick_device()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.fa = face_alignment.FaceAlignment(face_alignment.LandmarksType.TWO_D, device=self.device,
                                                       flip_input=False, compile=False, max_batch_size=batch_size)
        except (OSError, RuntimeError, ValueError, KeyError) as e:  # URLError is an OSError
            reason = str(getattr(e, "reason", e)).splitlines()[0][:120]
            raise FaceswapError(f"face-alignment weights are not in {hub_checkpoints()} and could not be fetched "
                                f"({reason}); place {' and '.join(FAN_FILES)} there, or use the cascade "
                                "detector") from None
        self._torch = torch
        self.max_faces = max_faces

    def boxes(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """S3FD boxes (K, 5: x0, y0, x1, y1, score) per frame, best first, at most `max_faces` each."""
        if len({f.shape for f in frames}) == 1:
            batch = self._torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().to(self.device)
            found = self.fa.face_detector.detect_from_batch(batch)
        else:
            found = [self.fa.face_detector.detect_from_image(f.copy()) for f in frames]
        out = []
        for b in found:
            b = np.asarray(b, np.float64).reshape(-1, 5)
            out.append(b[np.argsort(-b[:, 4])][: self.max_faces])
        return out

    def landmarks_in(self, frame: np.ndarray, boxes: np.ndarray | list) -> list[Face]:
        """FAN landmarks for given boxes (x0, y0, x1, y1[, score]), skipping the detector."""
        boxes = [np.r_[np.asarray(b, np.float64)[:4], b[4] if len(b) > 4 else 1.0] for b in boxes]
        if not boxes:
            return []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            marks = self.fa.get_landmarks_from_image(frame, detected_faces=boxes)
        return [Face(b[:4].astype(np.float32), np.asarray(m, np.float32)[:, :2], float(b[4]), self.name)
                for b, m in zip(boxes, marks)]

    def detect(self, frame: np.ndarray, index: int | None = None) -> list[Face]:
        return self.detect_batch([frame])[0]

    def detect_batch(self, frames: list[np.ndarray], indices: list[int] | None = None) -> list[list[Face]]:
        return [self.landmarks_in(f, b) for f, b in zip(frames, self.boxes(frames))]


# --------------------------------------------------------------------------------------------------
# dlib


class DlibDetector(Detector):
    """dlib's HOG face boxes (on a downscaled frame) and its 68-point shape predictor (full frame): offline."""

    name, cheap_landmarks = "dlib", True  # landmarks in a known box: 1-3 ms (a tracker may run them every frame)

    def __init__(self):
        dlibface.models()  # a missing package or model file is one line here, before any frame is read

    def detect(self, frame: np.ndarray, index: int | None = None) -> list[Face]:
        return self.landmarks_in(frame, dlibface.find_faces(media.rgb_image(frame)))

    def landmarks_in(self, frame: np.ndarray, boxes: list[tuple[np.ndarray, float]]) -> list[Face]:
        return [Face(box, dlibface.landmarks(frame, box), score, self.name) for box, score in boxes]


# --------------------------------------------------------------------------------------------------
# choosing


def get_detector(name: str = "auto", clip: str | Path | None = None, device: str | None = None,
                 quiet: bool = False) -> Detector:
    """A detector by name: fan, dlib, cascade, truth, or auto: FAN when its weights are here or can be
    fetched, else dlib, else the cascade (saying in one line which and why, unless `quiet`)."""
    if name == "truth":
        if clip is None:
            raise FaceswapError("the truth detector needs a synthetic clip (with its .truth.json)")
        return TruthDetector(clip)
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
