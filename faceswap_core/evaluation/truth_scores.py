"""Pixel scores of a swap against the ground truth (the target person rendered in the source frame's exact
conditions): masked SSIM, PSNR and L1, the L1 ratio toward the target, per frame and per yaw bin. They reward
a soft face that matches pose and light: the recogniser (`verdict`) judges identity. Taught in chapter 04
(and 05, 07); `truth_probe` gathers the frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch

from .. import media, synth
from ..faces import align
from ..training import augment
from ..training.losses import ssim


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


def l1_toward_target(swap: torch.Tensor, source: torch.Tensor, truth: torch.Tensor,
                     mask: torch.Tensor) -> float:
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
    source frame against the truth (the target rendered in that frame's conditions), and the identity
    score."""
    target = synth.get_identity(target) if isinstance(target, str) else target
    truth = synth.load_truth(clip)
    video, _ = media.read_frames(clip)
    indices = np.arange(len(swapped)) if indices is None else np.asarray(indices)
    rows = {k: [] for k in ("yaw", "swap_l1", "source_l1", "swap_ssim", "source_ssim", "l1_toward_target")}
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
        rows["l1_toward_target"].append(l1_toward_target(sw, src, tr, m))
    return {k: np.asarray(v, np.float64) for k, v in rows.items()}


YAW_BINS = (0, 15, 30, 45, 60, 75, 90)


def by_yaw(yaw: np.ndarray, values: np.ndarray, bins: tuple[float, ...] = YAW_BINS,
           stat=np.mean) -> list[dict]:
    """`stat` (mean by default) of the finite `values` per bin of |yaw| (degrees): rows of {'yaw': 'lo-hi',
    'n', 'mean'} ('mean' is None for a bin with no finite value; 'n' counts every frame in the bin)."""
    yaw, values = np.abs(np.asarray(yaw)), np.asarray(values, np.float64)
    rows = []
    for lo, hi in zip(bins[:-1], bins[1:]):
        sel = (yaw >= lo) & ((yaw < hi) | ((hi == bins[-1]) & (yaw <= hi)))
        vals = values[sel & np.isfinite(values)]
        rows.append({"yaw": f"{lo}-{hi}", "n": int(sel.sum()),
                     "mean": float(stat(vals)) if len(vals) else None})
    return rows


def frame_change(frames: np.ndarray, masks: np.ndarray) -> float:
    """Mean frame-to-frame change |frame_t - frame_t-1| (grey levels, averaged over channels) inside the
    `masks` (N, H, W) of frames t = 1..N-1 of `frames` (N, H, W, 3); 0 where no pixel is masked."""
    d = np.abs(np.diff(np.asarray(frames, np.float64), axis=0)).mean(-1)
    m = np.asarray(masks, bool)[1:]
    return float(d[m].mean()) if m.any() else 0.0


def excess_flicker(frames: np.ndarray, reference: np.ndarray, masks: np.ndarray) -> float:
    """Flicker beyond the truth's own motion: `frame_change` of `frames` minus that of `reference` (e.g.
    `synth.swap_truth`'s answers) inside the same `masks`."""
    return frame_change(frames, masks) - frame_change(reference, masks)
