"""What swap detectors look at: four kinds of evidence in one face of one frame. Taught in chapter 09.

Every detector looks at one face of one frame, placed by its 68 landmarks (the cast's truth when the data
set is built by `dataset`, a face detector on any other video):

    frequency   `spectrum`: the azimuthally averaged power spectrum of the face's inner box, read from
                the frame's own pixels (nothing resampled, so a decoder's upsampling trace is kept), then
                a logistic regression (`nets.Logistic`)
    boundary    two `nets.BoundaryNet`s, small fully-convolutional nets over the face's `view` (the aligned
                face and a ring around it): one draws what was pasted in (the blend weight M), the other
                the seam of the paste (4 M (1 - M)). The idea of Face X-ray: a swap must blend a drawn
                face into a frame, and the blend leaves a boundary. With the cast's per-pixel truth the
                region is scored as localisation (IoU); the face's score is the mean of the seam map's
                most certain 2% of pixels (the seam generalises to other swaps better than the region)
    cnn         `nets.FaceNet`: a small CNN classifier of the view; `nets.grad_cam` shows where it looks
    flicker     `flicker_ratio`: how much the face core changes from one frame to the next, against the ring
                around it, in aligned coordinates (a decoder redraws the face every frame)

`swap_detector.SwapDetector` holds the four with a logistic calibration of each score (so each gives a
probability); it is saved to one safetensors file with a format version and scans a video.
Frames are ``uint8 HxWx3 RGB``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import cv2
import numpy as np

from ..evaluation.truth_scores import frame_change
from ..faces import align

FORMAT, VERSION = "faceswap-lab spotter", 2  # 2: a second boundary net draws the seam
VIEW = 64  # px of a face's view: the classic padded crop (face core in the central 62.5%, a ring around it)
BINS = 24  # radial frequency bins of the spectrum, from 0 to the frame's Nyquist frequency
DETECTORS = ("frequency", "boundary", "cnn", "flicker")
_CORE = align.central(VIEW, align.CORE * 0.8)  # well inside the pasted region
_RING = 6  # px along the view's border: well outside it


@dataclass
class Samples:
    """Faces as the detectors see them, one row each, with what is known of them."""

    views: np.ndarray  # (N, VIEW, VIEW, 3) uint8
    spectra: np.ndarray  # (N, BINS) float32
    flicker: np.ndarray  # (N,) float32
    label: np.ndarray  # (N,) 1 = swapped
    masks: np.ndarray | None = None  # (N, VIEW, VIEW) uint8: the swap's blend weight (0 where untouched)
    meta: list[dict] = field(default_factory=list)  # per face: clip, setting, persons, frame

    def __len__(self) -> int:
        return len(self.label)

    def take(self, keep) -> Samples:
        idx = np.flatnonzero(keep) if np.asarray(keep).dtype == bool else np.asarray(keep, int)
        return Samples(**{f.name: (None if (v := getattr(self, f.name)) is None else
                                   [v[i] for i in idx] if isinstance(v, list) else v[idx])
                          for f in fields(self)})

    @staticmethod
    def join(parts: list[Samples]) -> Samples:
        cat = lambda name: None if any(getattr(p, name) is None for p in parts) else \
            np.concatenate([getattr(p, name) for p in parts])
        return Samples(*(cat(n) for n in ("views", "spectra", "flicker", "label", "masks")),
                       meta=[m for p in parts for m in p.meta])


# ------------------------------------------------------------------------------------------ features

def view(frame: np.ndarray, landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The face's view (VIEW px: the padded aligned crop) and the frame -> view transform."""
    m = align.view_matrix(landmarks, VIEW, 1.0)
    return align.crop(frame, m, VIEW), m


def spectrum(frame: np.ndarray, landmarks: np.ndarray, bins: int = BINS) -> np.ndarray:
    """Log power per radial frequency band of the face's inner box (brows to mouth, frame pixels),
    relative to its total power: (bins,) float32, from low to the Nyquist frequency."""
    inner = np.asarray(landmarks, np.float64)[align.INNER, :2]
    half = 0.3 * np.ptp(inner, axis=0).max()
    (x0, y0), (x1, y1) = (np.round(inner.mean(0) - half).astype(int),
                          np.round(inner.mean(0) + half).astype(int))
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    side = min(x1 - x0, y1 - y0)
    if side < 16:
        return np.full(bins, np.nan, np.float32)
    g = cv2.cvtColor(np.ascontiguousarray(frame[y0:y0 + side, x0:x0 + side]),
                     cv2.COLOR_RGB2GRAY).astype(np.float64)
    win = np.hanning(side)
    power = np.abs(np.fft.fft2((g - g.mean()) * np.outer(win, win))) ** 2
    f = np.fft.fftfreq(side) * 2  # 1 = Nyquist
    radius = np.hypot(*np.meshgrid(f, f))
    # corners beyond Nyquist go to an extra band, dropped
    band = np.minimum((radius * bins).astype(int), bins)
    counts = np.maximum(np.bincount(band.ravel(), None, bins + 1)[:bins], 1)
    per = np.bincount(band.ravel(), power.ravel(), bins + 1)[:bins] / counts
    return np.log(per.clip(1e-12) / per.sum()).astype(np.float32)


def flicker_ratio(previous: np.ndarray | None, current: np.ndarray) -> float:
    """The face core's frame-to-frame change over that of the view's border ring, plus one grey level
    (`truth_scores.frame_change`; views in aligned coordinates, so a still face and a moving head both give
    little change in the core): a swap redrawn each frame flickers in its core."""
    if previous is None:
        return float("nan")
    core = np.zeros(current.shape[:2], bool)
    core[_CORE, _CORE] = True
    ring = np.ones(current.shape[:2], bool)
    ring[_RING:-_RING, _RING:-_RING] = False
    pair = np.stack([previous, current])
    return frame_change(pair, np.stack([core, core])) / (frame_change(pair, np.stack([ring, ring])) + 1.0)


def faces_of(frames: list[np.ndarray], landmarks: list[np.ndarray | None],
             masks: list[np.ndarray | None] | None = None) -> Samples:
    """Samples of consecutive frames of one clip (a frame without a face gives no row; the flicker of a
    face after a gap, or of the first, is its next frame's)."""
    views, spectra, flick, cut = [], [], [], []
    previous = None
    for k, (frame, marks) in enumerate(zip(frames, landmarks)):
        if marks is None:
            previous = None
            continue
        v, m = view(frame, marks)
        views.append(v)
        spectra.append(spectrum(frame, marks))
        flick.append(flicker_ratio(previous, v))
        if masks is not None:
            cut.append(align.crop(masks[k], m, VIEW) if masks[k] is not None
                       else np.zeros((VIEW, VIEW), np.uint8))
        previous = v
    flick = np.asarray(flick, np.float32)
    for i in range(len(flick) - 2, -1, -1):
        flick[i] = flick[i + 1] if np.isnan(flick[i]) else flick[i]
    n = len(views)
    return Samples(np.asarray(views, np.uint8).reshape(n, VIEW, VIEW, 3),
                   np.asarray(spectra, np.float32).reshape(n, BINS),
                   flick, np.zeros(n, np.int64), np.asarray(cut, np.uint8) if masks is not None else None)
