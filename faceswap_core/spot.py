"""Spot the swap: four detectors of face swaps, and a video scan with them. Taught in chapter 09.

Every detector looks at one face of one frame, placed by its 68 landmarks (the cast's truth when the data
set is built by `spotset`, a face detector on any other video):

    frequency   `spectrum`: the azimuthally averaged power spectrum of the face's inner box, read from
                the frame's own pixels (nothing resampled, so a decoder's upsampling trace is kept), then
                a logistic regression (`Logistic`)
    boundary    two `BoundaryNet`s, small fully-convolutional nets over the face's `view` (the aligned
                face and a ring around it): one draws what was pasted in (the blend weight M), the other
                the seam of the paste (4 M (1 - M)). The idea of Face X-ray: a swap must blend a drawn
                face into a frame, and the blend leaves a boundary. With the cast's per-pixel truth the
                region is scored as localisation (IoU); the face's score is the mean of the seam map's
                most certain 2% of pixels (the seam generalises to other swaps better than the region)
    cnn         `FaceNet`: a small CNN classifier of the view; `grad_cam` shows where it looks
    flicker     `flicker`: how much the face core changes from one frame to the next, against the ring
                around it, in aligned coordinates (a decoder redraws the face every frame)

A `Spotter` holds the four with a logistic calibration of each score (so each gives a probability); it is
saved to one safetensors file with a format version (`save`, `load`) and scans a video (`scan`).
Frames are ``uint8 HxWx3 RGB``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import cv2
import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from . import align
from .errors import FaceswapError

FORMAT, VERSION = "faceswap-lab spotter", 2  # 2: a second boundary net draws the seam
VIEW = 64  # px of a face's view: the classic padded crop (face core in the central 62.5%, a ring around it)
BINS = 24  # radial frequency bins of the spectrum, from 0 to the frame's Nyquist frequency
DETECTORS = ("frequency", "boundary", "cnn", "flicker")
TOP = 0.02  # the boundary net's image score: mean of its most certain 2% of pixels
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
                                   [v[i] for i in idx] if isinstance(v, list) else v[idx]) for f in fields(self)})

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
    (x0, y0), (x1, y1) = np.round(inner.mean(0) - half).astype(int), np.round(inner.mean(0) + half).astype(int)
    h, w = frame.shape[:2]
    x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    side = min(x1 - x0, y1 - y0)
    if side < 16:
        return np.full(bins, np.nan, np.float32)
    g = cv2.cvtColor(np.ascontiguousarray(frame[y0:y0 + side, x0:x0 + side]), cv2.COLOR_RGB2GRAY).astype(np.float64)
    win = np.hanning(side)
    power = np.abs(np.fft.fft2((g - g.mean()) * np.outer(win, win))) ** 2
    f = np.fft.fftfreq(side) * 2  # 1 = Nyquist
    radius = np.hypot(*np.meshgrid(f, f))
    band = np.minimum((radius * bins).astype(int), bins)  # corners beyond Nyquist go to an extra band, dropped
    counts = np.maximum(np.bincount(band.ravel(), None, bins + 1)[:bins], 1)
    per = np.bincount(band.ravel(), power.ravel(), bins + 1)[:bins] / counts
    return np.log(per.clip(1e-12) / per.sum()).astype(np.float32)


def flicker(previous: np.ndarray | None, current: np.ndarray) -> float:
    """Mean frame-to-frame change of the face core over that of the view's border ring (views in aligned
    coordinates, so a still face and a moving head both give little change in the core)."""
    if previous is None:
        return float("nan")
    d = np.abs(current.astype(np.float32) - previous.astype(np.float32)).mean(-1)
    ring = np.ones(d.shape, bool)
    ring[_RING:-_RING, _RING:-_RING] = False
    return float(d[_CORE, _CORE].mean() / (d[ring].mean() + 1.0))


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
        flick.append(flicker(previous, v))
        if masks is not None:
            cut.append(align.crop(masks[k], m, VIEW) if masks[k] is not None else np.zeros((VIEW, VIEW), np.uint8))
        previous = v
    flick = np.asarray(flick, np.float32)
    for i in range(len(flick) - 2, -1, -1):
        flick[i] = flick[i + 1] if np.isnan(flick[i]) else flick[i]
    n = len(views)
    return Samples(np.asarray(views, np.uint8).reshape(n, VIEW, VIEW, 3),
                   np.asarray(spectra, np.float32).reshape(n, BINS),
                   flick, np.zeros(n, np.int64), np.asarray(cut, np.uint8) if masks is not None else None)


# ------------------------------------------------------------------------------------------ models

class Logistic(nn.Module):
    """Logistic regression on standardised features (`fit`: L-BFGS with an L2 penalty)."""

    def __init__(self, n: int):
        super().__init__()
        self.linear = nn.Linear(n, 1)
        self.register_buffer("mean", torch.zeros(n))
        self.register_buffer("std", torch.ones(n))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear((x - self.mean) / self.std)[:, 0]

    def fit(self, x: np.ndarray, y: np.ndarray, l2: float = 1e-2) -> Logistic:
        x, y = torch.as_tensor(x, dtype=torch.float32), torch.as_tensor(y, dtype=torch.float32)
        self.mean.copy_(x.mean(0))
        self.std.copy_(x.std(0).clamp_min(1e-6))
        opt = torch.optim.LBFGS(self.parameters(), max_iter=200, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            loss = F.binary_cross_entropy_with_logits(self(x), y) + l2 * self.linear.weight.square().sum()
            loss.backward()
            return loss

        opt.step(closure)
        return self


def _conv(i: int, o: int, stride: int = 1, dilation: int = 1) -> nn.Module:
    return nn.Sequential(nn.Conv2d(i, o, 3, stride, dilation, dilation), nn.BatchNorm2d(o), nn.ReLU())


class BoundaryNet(nn.Module):
    """Per-pixel logits over a view ("pasted in", or "on the seam of a paste"): a small dilated conv net
    (receptive field ~40 px)."""

    def __init__(self, width: int = 16):
        super().__init__()
        c = width
        self.body = nn.Sequential(_conv(3, c), _conv(c, c), _conv(c, 2 * c, 2), _conv(2 * c, 2 * c, 1, 2),
                                  _conv(2 * c, 2 * c, 1, 4), _conv(2 * c, 2 * c, 1, 8))
        self.head = nn.Conv2d(2 * c, 1, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(self.head(self.body(x)), size=x.shape[-2:], mode="bilinear", align_corners=False)[:, 0]


def region_target(masks: np.ndarray) -> np.ndarray:
    """(N, V, V) float32: the blend weight M of each pixel, from uint8 masks."""
    return np.asarray(masks, np.float32) / 255.0


def seam_target(masks: np.ndarray) -> np.ndarray:
    """(N, V, V) float32: the seam 4 M (1 - M) of the blend weight M (1 halfway through the blend)."""
    m = region_target(masks)
    return 4 * m * (1 - m)


class FaceNet(nn.Module):
    """Logit of "swapped" for a view: four strided convs, global pooling, one linear layer."""

    def __init__(self, width: int = 16):
        super().__init__()
        c = width
        self.features = nn.Sequential(_conv(3, c, 2), _conv(c, 2 * c, 2), _conv(2 * c, 4 * c, 2), _conv(4 * c, 4 * c))
        self.fc = nn.Linear(4 * c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean((2, 3)))[:, 0]


def to_input(views: np.ndarray) -> torch.Tensor:
    """(N, V, V, 3) uint8 views -> (N, 3, V, V) float32 centred on 0."""
    return torch.from_numpy(np.ascontiguousarray(views)).permute(0, 3, 1, 2).float() / 255 - 0.5


def fit_net(net: nn.Module, views: np.ndarray, target: np.ndarray, steps: int, batch: int = 32, lr: float = 3e-3,
            seed: int = 0) -> list[float]:
    """Train `net` from fresh weights (drawn from `seed`) on views against `target` (per view, or per pixel)
    with BCE, mirror-flipped at random."""
    g = torch.Generator().manual_seed(seed)
    torch.manual_seed(seed)
    for m in net.modules():
        if m is not net and hasattr(m, "reset_parameters"):
            m.reset_parameters()
    x, y = to_input(views), torch.as_tensor(target, dtype=torch.float32)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=max(steps, 1))
    losses = []
    net.train()
    for _ in range(steps):
        i = torch.randint(len(x), (min(batch, len(x)),), generator=g)
        xb, yb = x[i], y[i]
        if torch.rand((), generator=g) < 0.5:
            xb, yb = xb.flip(-1), (yb.flip(-1) if yb.ndim > 1 else yb)
        loss = F.binary_cross_entropy_with_logits(net(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
    net.eval()
    return losses


@torch.inference_mode()
def net_outputs(net: nn.Module, views: np.ndarray, batch: int = 256) -> np.ndarray:
    """A net's logits for (N, V, V, 3) uint8 views, `batch` views at a time: (N,) for a classifier, (N, V, V)
    for a boundary net."""
    if not len(views):
        return np.zeros((0, VIEW, VIEW) if isinstance(net, BoundaryNet) else (0,), np.float32)
    return np.concatenate([net(to_input(views[i:i + batch])).numpy() for i in range(0, len(views), batch)])


def boundary_maps(net: BoundaryNet, views: np.ndarray) -> np.ndarray:
    """(N, V, V) probability of each pixel of each view: pasted in (a region net) or on a seam (a seam net)."""
    return torch.sigmoid(torch.from_numpy(net_outputs(net, views))).numpy()


def seam_scores(net: BoundaryNet, views: np.ndarray) -> np.ndarray:
    """(N,) the boundary detector's score of each view: the mean of a seam net's most certain `TOP` pixels."""
    maps = boundary_maps(net, views).reshape(len(views), -1)
    return np.sort(maps, 1)[:, -max(1, int(round(TOP * maps.shape[1]))):].mean(1)


def grad_cam(net: FaceNet, views: np.ndarray) -> np.ndarray:
    """(N, V, V) in [0, 1]: where the classifier's "swapped" logit is pushed up (Grad-CAM on its last conv)."""
    x = to_input(views)
    feats = net.features(x).detach().requires_grad_(True)
    logit = net.fc(feats.mean((2, 3)))[:, 0]
    (grad,) = torch.autograd.grad(logit.sum(), feats)
    cam = F.relu((grad.mean((2, 3), keepdim=True) * feats).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=views.shape[1:3], mode="bilinear", align_corners=False)[:, 0].detach()
    return (cam / cam.flatten(1).amax(1).clamp_min(1e-9)[:, None, None]).numpy()


# ------------------------------------------------------------------------------------------ measures

def auc(scores, labels) -> float:
    """Area under the ROC curve: the chance that a swapped face scores above a real one (ties count half)."""
    s, y = np.asarray(scores, np.float64), np.asarray(labels).astype(bool)
    if y.all() or not y.any():
        raise FaceswapError("AUC needs both real and swapped faces")
    ranks = np.empty(len(s))
    order = np.argsort(s, kind="mergesort")
    sorted_s = s[order]
    ranks[order] = np.arange(1, len(s) + 1)
    for v in np.unique(sorted_s):  # average the ranks of ties
        tie = s == v
        ranks[tie] = ranks[tie].mean()
    n1, n0 = y.sum(), (~y).sum()
    return float((ranks[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Intersection over union of two boolean masks (1.0 when both are empty)."""
    p, t = np.asarray(predicted, bool), np.asarray(truth, bool)
    union = (p | t).sum()
    return float((p & t).sum() / union) if union else 1.0
