"""The training loss: L1 between the decoded face and the clean target (optionally only inside the face
mask), plus a weighted (1 - SSIM). Taught in chapter 04. Images are float32 NCHW in [0, 1]."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def ssim(a: torch.Tensor, b: torch.Tensor, mask: torch.Tensor | None = None, window: int = 7) -> torch.Tensor:
    """Mean structural similarity of two (N, C, H, W) batches in [0, 1], optionally masked.

    A box-window SSIM (a uniform `window` x `window` mean, not the Gaussian of Wang et al. 2004), with the
    usual constants (K1 0.01, K2 0.03, data range 1) and population variances: it equals
    `skimage.metrics.structural_similarity(..., win_size=window, data_range=1)` away from the border
    (tests/test_losses.py checks it); at the border the window shrinks to the pixels inside."""
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




def reconstruction_loss(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, masked: bool = False,
                        ssim_weight: float = 0.0) -> torch.Tensor:
    """L1 (inside `mask` if `masked`) plus `ssim_weight` * (1 - SSIM) of a decoded batch
    against its target."""
    if masked:
        err = ((pred - target).abs() * mask).sum() / (mask.sum() * 3).clamp_min(1.0)
    else:
        err = (pred - target).abs().mean()
    if ssim_weight:
        err = err + ssim_weight * (1 - ssim(pred, target, mask if masked else None))
    return err
