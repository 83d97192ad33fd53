"""The coarse offline face detector: OpenCV Haar cascades (frontal, profile, eyes) with the 68 landmarks
placed from the mean face (good enough to align, not to measure expressions). Taught in chapter 02."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from .. import media, synth
from ..errors import FaceswapError
from . import align
from .detect import Detector, Face, box_iou

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


class CascadeDetector(Detector):
    """OpenCV Haar cascades: frontal and profile faces, eyes to refine; landmarks from the mean face."""

    name = "cascade"

    def __init__(self, min_size: int = 24, use_eyes: bool = True, profiles: bool = True, max_side: int = 640):
        self.min_size = media.positive_int(min_size, "min_size")
        self.use_eyes, self.profiles = use_eyes, profiles
        # frames are searched at most this large (faces in video are big)
        self.max_side = media.positive_int(max_side, "max_side")

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
                rects, _, weights = c["profile"].detectMultiScale3(np.ascontiguousarray(img), 1.1, 3,
                                                                   minSize=ms, outputRejectLevels=True)
                for (x, y, w, h), s in zip(rects, np.ravel(weights)):
                    x0 = width - x - w if mirrored else x
                    found.append(("profile_r" if mirrored else "profile_l",
                                  np.array([x0, y, x0 + w, y + h], np.float32), float(s)))
        kept: list[tuple[str, np.ndarray, float]] = []
        for item in found:
            if all(box_iou(item[1], k[1]) < 0.3 for k in kept):
                kept.append(item)
        return kept

    def _eyes(self, gray: np.ndarray, box: np.ndarray) -> np.ndarray | None:
        """Centres of two eyes found in the upper half of a frontal box, (image-left, image-right)."""
        x0, y0, x1, y1 = box.astype(int)
        w = x1 - x0
        roi = gray[y0:y0 + (y1 - y0) // 2 + w // 10, x0:x1]
        if roi.size == 0:
            return None
        eyes = _cascades()["eye"].detectMultiScale(roi, 1.1, 3, minSize=(max(w // 10, 5),) * 2,
                                                   maxSize=(w // 3,) * 2)
        centres = np.array([[x + ew / 2, y + eh / 2] for x, y, ew, eh in eyes], np.float64).reshape(-1, 2)
        centres = centres + [x0, y0]
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
        gray = cv2.cvtColor(media.rgb_image(frame), cv2.COLOR_RGB2GRAY)
        h, w = gray.shape
        s = min(1.0, self.max_side / max(h, w))
        if s < 1.0:
            size = (max(1, round(w * s)), max(1, round(h * s)))
            gray = cv2.resize(gray, size, interpolation=cv2.INTER_AREA)
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
            wanted = {"frontal": "frontal", "profile": "profile_l"}[kind]
            boxes = [b for k, b, _ in det.boxes(gray) if k == wanted]
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
