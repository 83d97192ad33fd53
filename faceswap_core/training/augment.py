"""Random transform and the classic DeepFakes random warp, on batches of tensors. Taught in chapter 03.

Images here are ``float32 (N, 3, H, W)`` in [0, 1] (aligned crops). `random_warp` returns the pair the
decoders learn from: a warped input and the clean target, both cut from the crop's centre (the template
box, `coverage` of the crop) and resized to `size`. Randomness comes from a `torch.Generator`, so the
same seed gives the same batch.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch
import torch.nn.functional as F

from ..faces.align import CORE


@dataclass(frozen=True)
class TransformRange:
    """The classic ranges: rotation +-10 deg, zoom +-0.05, shift +-0.05 of the size, flip with p 0.4."""

    rotation: float = 10.0
    zoom: float = 0.05
    shift: float = 0.05
    flip: float = 0.4


def _uniform(n: int, lo: float, hi: float, gen: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=gen)


def transform_matrices(n: int, gen: torch.Generator,
                       ranges: TransformRange = TransformRange()) -> torch.Tensor:
    """(n, 2, 3) affine matrices in normalised coordinates for `affine_grid` (output -> input)."""
    angle = torch.deg2rad(_uniform(n, -ranges.rotation, ranges.rotation, gen))
    scale = 1.0 + _uniform(n, -ranges.zoom, ranges.zoom, gen)
    tx = _uniform(n, -ranges.shift, ranges.shift, gen) * 2  # a fraction of the size, in [-1, 1] units
    ty = _uniform(n, -ranges.shift, ranges.shift, gen) * 2
    flip = torch.where(torch.rand(n, generator=gen) < ranges.flip, -1.0, 1.0)
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    m = torch.zeros(n, 2, 3)
    m[:, 0, 0], m[:, 0, 1], m[:, 0, 2] = cos * flip, -sin, tx
    m[:, 1, 0], m[:, 1, 1], m[:, 1, 2] = sin * flip, cos, ty
    return m


def random_transform(images: torch.Tensor, gen: torch.Generator, ranges: TransformRange = TransformRange(),
                     masks: torch.Tensor | None = None):
    """Rotate, zoom, shift and maybe flip each image (and its mask the same way); borders replicated."""
    m = transform_matrices(len(images), gen, ranges).to(images.device, images.dtype)
    grid = F.affine_grid(m, list(images.shape), align_corners=False)
    out = F.grid_sample(images, grid, mode="bilinear", padding_mode="border", align_corners=False)
    if masks is None:
        return out
    return out, F.grid_sample(masks, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def warp_offsets(n: int, gen: torch.Generator, points: int = 5, sigma: float = 5 / 128,
                 strength: float = 1.0) -> torch.Tensor:
    """(n, 2, points, points) control-point jitter in normalised units (5 px of a 256 crop by default)."""
    return torch.randn(n, 2, points, points, generator=gen) * sigma * strength


def random_warp(images: torch.Tensor, gen: torch.Generator, size: int = 64, coverage: float = CORE,
                strength: float = 1.0, points: int = 5, masks: torch.Tensor | None = None,
                offsets: torch.Tensor | None = None):
    """The classic warp: a coarse grid of control points over the face core, each jittered by a normal
    offset, smoothly interpolated; returns (warped input, clean target[, target masks]) at `size`."""
    n = len(images)
    if offsets is None:
        offsets = warp_offsets(n, gen, points, strength=strength)
    offsets = offsets.to(images.device, images.dtype)
    k = _upsampler(offsets.shape[-1], size).to(images.device, images.dtype)  # (size, points)
    field = torch.einsum("ij,ncjl,kl->nikc", k, offsets, k)  # (n, size, size, 2): bicubic, separable
    lin = torch.linspace(-coverage, coverage, size, device=images.device, dtype=images.dtype)
    lin = lin * (size - 1) / size  # pixel centres of the output inside the covered box
    gy, gx = torch.meshgrid(lin, lin, indexing="ij")
    base = torch.stack([gx, gy], -1).expand(n, size, size, 2)
    warped = F.grid_sample(images, base + field, mode="bilinear", padding_mode="border", align_corners=False)
    target = F.grid_sample(images, base, mode="bilinear", padding_mode="border", align_corners=False)
    if masks is None:
        return warped, target
    return warped, target, F.grid_sample(masks, base, mode="bilinear", padding_mode="zeros",
                                         align_corners=False)


@lru_cache(maxsize=8)
def _upsampler(points: int, size: int) -> torch.Tensor:
    """(size, points) weights of the classic map resize: bicubic from `points` to size + 2 * size // 8
    samples (corners aligned), keeping the central `size` (the classic's 80 -> [8:72] for 64 px).
    As a matrix it costs a matmul instead of a full bicubic resize of every map."""
    margin = size // 8
    eye = torch.eye(points)[:, None, :, None].expand(points, 1, points, 1)  # one basis vector per row
    rows = F.interpolate(eye, size=(size + 2 * margin, 1), mode="bicubic", align_corners=True)
    return rows[:, 0, margin:margin + size, 0].T.contiguous()


def control_points(size: int, coverage: float = CORE, points: int = 5) -> torch.Tensor:
    """Pixel positions (points, points, 2) of the warp's control grid on a crop of `size` (for figures)."""
    lin = (torch.linspace(-coverage, coverage, points) + 1) / 2 * size
    gy, gx = torch.meshgrid(lin, lin, indexing="ij")
    return torch.stack([gx, gy], -1)


def training_pair(images: torch.Tensor, gen: torch.Generator, size: int = 64, coverage: float = CORE,
                  masks: torch.Tensor | None = None, ranges: TransformRange = TransformRange(),
                  warp: float = 1.0):
    """Random transform then random warp: (input, target, target mask or None) for one training batch."""
    if masks is None:
        moved = random_transform(images, gen, ranges)
        warped, target = random_warp(moved, gen, size, coverage, warp)
        return warped, target, None
    moved, moved_masks = random_transform(images, gen, ranges, masks)
    return random_warp(moved, gen, size, coverage, warp, masks=moved_masks)


def color_stats(images: torch.Tensor, masks: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-image, per-channel mean and standard deviation inside the mask: (N, 3, 1, 1) each."""
    w = masks / masks.sum((2, 3), keepdim=True).clamp_min(1.0)
    mean = (images * w).sum((2, 3), keepdim=True)
    std = (((images - mean) ** 2 * w).sum((2, 3), keepdim=True)).sqrt()
    return mean, std


def color_transfer(images: torch.Tensor, masks: torch.Tensor, mean: torch.Tensor,
                   std: torch.Tensor) -> torch.Tensor:
    """Give each face another face's colour statistics (mean and spread per channel inside the mask), as the
    field's "colour transfer" augmentation does: the shading pattern stays, the skin tone changes."""
    own_mean, own_std = color_stats(images, masks)
    return ((images - own_mean) * (std / own_std.clamp_min(1e-3)).clamp(0.25, 4.0) + mean).clamp(0.0, 1.0)


def to_tensor(images_uint8) -> torch.Tensor:
    """(N, H, W, 3) uint8 numpy -> (N, 3, H, W) float32 in [0, 1]."""
    return torch.from_numpy(images_uint8).permute(0, 3, 1, 2).float().div_(255.0)


def to_images(t: torch.Tensor):
    """(N, 3, H, W) float in [0, 1] -> (N, H, W, 3) uint8 numpy."""
    return (t.detach().clamp(0, 1).permute(0, 2, 3, 1).cpu().numpy() * 255 + 0.5).astype("uint8")
