"""Swap error against the ground truth: masked SSIM, PSNR and L1 between a swapped face and the target
person rendered in the source frame's exact conditions. Taught in chapter 04 (and 05, 07).

`SwapProbe` holds, for some frames of a cast clip of person A: A's aligned face (what the model sees),
the truth (person B rendered in those conditions, cut with the *same* transform) and B's face mask.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from . import align, augment, detect, media, synth


def ssim(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None, window: int = 7) -> torch.Tensor:
    """Mean structural similarity of two (N, C, H, W) batches in [0, 1] (box window), optionally masked."""
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    pool = lambda x: F.avg_pool2d(x, window, 1, window // 2, count_include_pad=False)  # noqa: E731
    mu_a, mu_b = pool(a), pool(b)
    va = pool(a * a) - mu_a ** 2
    vb = pool(b * b) - mu_b ** 2
    cov = pool(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (va + vb + c2))
    if mask is None:
        return s.mean()
    m = mask.expand_as(s)
    return (s * m).sum() / m.sum().clamp_min(1e-6)


def masked_psnr(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> float:
    """PSNR in dB over the mask (images in [0, 1])."""
    m = mask.expand_as(a)
    mse = float(((a - b) ** 2 * m).sum() / m.sum().clamp_min(1e-6))
    return float(10 * np.log10(1.0 / max(mse, 1e-10)))


def masked_l1(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor) -> float:
    m = mask.expand_as(a)
    return float(((a - b).abs() * m).sum() / m.sum().clamp_min(1e-6))


def scores(pred: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> dict[str, float]:
    """Masked SSIM, PSNR and L1 of a batch against the truth."""
    return {"ssim": float(ssim(pred, truth, mask)), "psnr": masked_psnr(pred, truth, mask),
            "l1": masked_l1(pred, truth, mask)}


@dataclass
class SwapProbe:
    """Fixed frames of a cast clip, ready to score a swap into another cast member against the truth."""

    source: torch.Tensor  # (N, 3, S, S) A's aligned faces
    truth: torch.Tensor  # (N, 3, S, S) B rendered in the same conditions, same transform
    mask: torch.Tensor  # (N, 1, S, S) B's face mask, eroded
    yaw: np.ndarray  # (N,) the source frames' yaw
    frames: np.ndarray  # (N,) frame indices
    own: torch.Tensor  # (N, 3, S, S) the truth aligned by B's own landmarks: what a perfect decoder B draws
    core: torch.Tensor | None = None  # (N, 1, S, S) the face core of A (whatever covers it), eroded

    @classmethod
    def from_clip(cls, clip: str | Path, target: synth.Identity | str, n: int = 16, size: int = 64,
                  coverage: float = align.CORE, frames: np.ndarray | None = None) -> SwapProbe:
        """Probe `n` evenly spread frames (or the given ones) of a cast clip for a swap into `target`; each
        face is seen as the network sees it (`align.view_matrix`)."""
        target = synth.get_identity(target) if isinstance(target, str) else target
        truth = synth.load_truth(clip)
        video, _ = media.read_frames(clip)
        idx = np.linspace(0, len(video) - 1, n).astype(int) if frames is None else np.asarray(frames)
        erode = np.ones((3, 3), np.uint8)
        src, tru, msk, own, core = [], [], [], [], []
        for i in idx:
            m = align.view_matrix(truth.landmarks[i], size, coverage)
            hull = align.core_mask(align.transform_points(truth.landmarks[i], m), (size, size))
            core.append(cv2.erode(hull, erode))
            r = synth.swap_truth(target, truth, int(i))
            src.append(align.crop(video[i], m, size))
            tru.append(align.crop(r.frame, m, size))
            own.append(align.crop(r.frame, align.view_matrix(r.landmarks, size, coverage), size))
            msk.append(cv2.erode(align.crop(r.mask.astype(np.uint8) * 255, m, size), erode))
        return cls(augment.to_tensor(np.stack(src)), augment.to_tensor(np.stack(tru)),
                   torch.from_numpy(np.stack(msk))[:, None].float() / 255,
                   np.array([truth.conditions[i].yaw for i in idx]), idx, augment.to_tensor(np.stack(own)),
                   torch.from_numpy(np.stack(core))[:, None].float() / 255)

    @torch.no_grad()
    def swap(self, model, to: str) -> torch.Tensor:
        model.eval()
        device = next(model.parameters()).device
        return model(self.source.to(device), to).float().cpu()

    def score(self, model, to: str) -> dict[str, float]:
        """Masked SSIM / PSNR / L1 of the model's swap against the truth."""
        return scores(self.swap(model, to), self.truth, self.mask)

    def core_scores(self, pred: torch.Tensor) -> dict[str, float]:
        """The same scores over A's face core whatever is in front of it (a microphone counts), for a swap
        from `swap` or for `self.source` (the no-swap baseline)."""
        return scores(pred, self.truth, self.core)

    def per_face(self, sw: torch.Tensor) -> dict[str, np.ndarray]:
        """Masked L1 and SSIM against the truth, and the identity score, of each of N faces (a swap from
        `swap`, or `self.source` for the no-swap baseline)."""
        rows = [(masked_l1(sw[i:i + 1], self.truth[i:i + 1], self.mask[i:i + 1]),
                 float(ssim(sw[i:i + 1], self.truth[i:i + 1], self.mask[i:i + 1])),
                 identity_score(sw[i:i + 1], self.source[i:i + 1], self.truth[i:i + 1], self.mask[i:i + 1]))
                for i in range(len(sw))]
        l1, ss, ident = (np.array(c, np.float64) for c in zip(*rows))
        return {"face_l1": l1, "face_ssim": ss, "face_identity": ident}

    def baseline(self) -> dict[str, float]:
        """The same scores for doing nothing (the unswapped source face): a swap must beat these."""
        return scores(self.source, self.truth, self.mask)

    def gain(self, swap_ssim: float) -> float:
        """The share of the achievable gain a swap's SSIM reached: 0 is doing nothing, 1 a perfect decoder."""
        base, top = self.baseline()["ssim"], self.ceiling()["ssim"]
        return float((swap_ssim - base) / max(top - base, 1e-9))

    def ceiling(self) -> dict[str, float]:
        """The scores of a perfect decoder B: B's face aligned on B's own landmarks, pasted where A's face
        was aligned. The gap to 1 is the face-shape mismatch that the classic method cannot remove."""
        return scores(self.own, self.truth, self.mask)


def sweep_probe(folder: str | Path, source: str, target: str, frames: int = 24, seed: int = 0,
                size: int = 256) -> SwapProbe:
    """A held-out probe: `source` turning the head evenly across the whole yaw range (`synth.yaw_sweep`,
    with varied expression and light), rendered once into `folder`, ready to score a swap into `target`."""
    clip = Path(folder) / f"probe_{source}_sweep_{frames}f_{size}px_s{seed}.mp4"
    if not clip.exists():
        synth.render_clip(synth.get_identity(source), frames, clip, size=size, seed=9000 + seed,
                          conditions=synth.yaw_sweep(frames, seed=seed))
    return SwapProbe.from_clip(clip, target, n=frames)


def identity_score(swap: torch.Tensor, source: torch.Tensor, truth: torch.Tensor, mask: torch.Tensor) -> float:
    """How much the swap looks like the target rather than the source, in [-1, 1]: (d_src - d_tgt) /
    (d_src + d_tgt) with d the masked L1 of the swap to the source face and to the target's truth.
    +1: the swap is the truth; -1: the swap is the unchanged source; 0: halfway."""
    d_src, d_tgt = masked_l1(swap, source, mask), masked_l1(swap, truth, mask)
    return float((d_src - d_tgt) / max(d_src + d_tgt, 1e-9))


def frame_region(landmarks: np.ndarray, target_mask: np.ndarray, erode: int = 3) -> np.ndarray:
    """Where a swap in a frame is scored (bool HxW): the face core the classic method replaces (the hull
    of the source's inner landmarks: brows, eyes, nose, mouth), eroded, inside the target's true face mask."""
    inner = align.core_mask(landmarks, target_mask.shape)
    inner = cv2.erode(inner, np.ones((erode, erode), np.uint8)) > 127
    return inner & target_mask


def frame_errors(clip: str | Path, swapped: np.ndarray, target: synth.Identity | str,
                 indices: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per frame of a cast clip: yaw, masked L1 (0-1 scale) and SSIM of the swapped frame and of the
    source frame against the truth (the target rendered in that frame's conditions), and the identity score."""
    target = synth.get_identity(target) if isinstance(target, str) else target
    truth = synth.load_truth(clip)
    video, _ = media.read_frames(clip)
    indices = np.arange(len(swapped)) if indices is None else np.asarray(indices)
    rows = {k: [] for k in ("yaw", "swap_l1", "source_l1", "swap_ssim", "source_ssim", "identity")}
    for k, i in enumerate(indices):
        r = synth.swap_truth(target, truth, int(i))
        region = frame_region(truth.landmarks[i], r.mask)
        if region.sum() < 20:
            continue
        ys, xs = np.nonzero(region)
        box = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
        m = torch.from_numpy(region[box].astype(np.float32))[None, None]
        sw, src, tr = (augment.to_tensor(np.ascontiguousarray(img[box])[None])
                       for img in (swapped[k], video[i], r.frame))
        rows["yaw"].append(truth.conditions[i].yaw)
        rows["swap_l1"].append(masked_l1(sw, tr, m))
        rows["source_l1"].append(masked_l1(src, tr, m))
        rows["swap_ssim"].append(float(ssim(sw, tr, m)))
        rows["source_ssim"].append(float(ssim(src, tr, m)))
        rows["identity"].append(identity_score(sw, src, tr, m))
    return {k: np.asarray(v, np.float64) for k, v in rows.items()}


YAW_BINS = (0, 15, 30, 45, 60, 75, 90)


def by_yaw(yaw: np.ndarray, values: np.ndarray, bins: tuple[float, ...] = YAW_BINS, stat=np.mean) -> list[dict]:
    """`stat` (mean by default) of the finite `values` per bin of |yaw| (degrees): rows of {'yaw': 'lo-hi',
    'n', 'mean'} ('mean' is None for a bin with no finite value; 'n' counts every frame in the bin)."""
    yaw, values = np.abs(np.asarray(yaw)), np.asarray(values, np.float64)
    rows = []
    for lo, hi in zip(bins[:-1], bins[1:]):
        sel = (yaw >= lo) & ((yaw < hi) | ((hi == bins[-1]) & (yaw <= hi)))
        vals = values[sel & np.isfinite(values)]
        rows.append({"yaw": f"{lo}-{hi}", "n": int(sel.sum()), "mean": float(stat(vals)) if len(vals) else None})
    return rows


def nme(predicted: np.ndarray, truth: np.ndarray, visible: np.ndarray | None = None) -> float:
    """Normalised mean error: mean point distance over the inter-ocular distance (outer eye corners)."""
    truth = np.asarray(truth)[:, :2]
    d = np.linalg.norm(np.asarray(predicted)[:, :2] - truth, axis=1)
    if visible is not None:
        d = d[np.asarray(visible, bool)]
    return float(d.mean() / np.linalg.norm(truth[36] - truth[45]))


def landmark_errors(detector: detect.Detector, clip: str | Path, max_frames: int | None = None) -> np.ndarray:
    """Per frame of a cast clip: (true yaw, found 0/1, NME of the best-matching face over visible points)."""
    truth = synth.load_truth(clip)
    frames, _ = media.read_frames(clip, max_frames=max_frames)
    rows = []
    for i, faces in enumerate(detector.detect_batch(list(frames), list(range(len(frames))))):
        marks = truth.landmarks[i]
        yaw = truth.conditions[i].yaw
        if not faces:
            rows.append((yaw, 0.0, np.nan))
            continue
        centre = marks[:, :2].mean(0)
        f = min(faces, key=lambda f: np.linalg.norm(f.landmarks.mean(0) - centre))
        rows.append((yaw, 1.0, nme(f.landmarks, marks, marks[:, 2] > 0.5)))
    return np.array(rows, np.float64).reshape(-1, 3)
