"""The training loss and its SSIM, checked against an outside oracle (scikit-image)."""

import numpy as np
import pytest
import torch
from skimage.metrics import structural_similarity

from faceswap_core.training import losses


def _pair(seed=0, size=40):
    rng = np.random.default_rng(seed)
    a = rng.random((size, size, 3))
    b = np.clip(a + rng.normal(0, 0.15, a.shape), 0, 1)  # a noisy copy: SSIM well inside (0, 1)
    return a, b


def _t(x):
    return torch.from_numpy(x.transpose(2, 0, 1)[None].astype(np.float32))


@pytest.mark.parametrize("window", [3, 7, 11])
def test_ssim_is_skimage_box_window_ssim_away_from_the_border(window):
    """Ours is a box-window SSIM with population variances: skimage with the same settings, which averages
    the SSIM map without a border of window // 2 pixels, gives the same number as ours masked the same way."""
    a, b = _pair()
    want = structural_similarity(a, b, win_size=window, data_range=1.0, channel_axis=2, gaussian_weights=False,
                                 use_sample_covariance=False)
    inner = torch.zeros(1, 1, *a.shape[:2])
    r = window // 2
    inner[..., r:-r, r:-r] = 1
    assert float(losses.ssim(_t(a), _t(b), inner, window=window)) == pytest.approx(want, abs=1e-5)
    # the oracle can tell: another image pair, or a Gaussian window, gives another number
    assert abs(float(losses.ssim(_t(a), _t(a * 0.5), inner, window=window)) - want) > 0.05
    gauss = structural_similarity(a, b, data_range=1.0, channel_axis=2, gaussian_weights=True)
    assert abs(gauss - want) > 1e-3


def test_ssim_of_an_image_with_itself_is_one_and_masks_count():
    a, b = _pair(1)
    ta, tb = _t(a), _t(b)
    assert float(losses.ssim(ta, ta)) == pytest.approx(1.0, abs=1e-5)
    left = torch.zeros(1, 1, *a.shape[:2])
    left[..., :, :20] = 1
    tb_left = tb.clone()
    tb_left[..., :, :20] = ta[..., :, :20]  # equal on the left half only
    assert float(losses.ssim(ta, tb_left, left, window=1)) == pytest.approx(1.0, abs=1e-5)
    assert float(losses.ssim(ta, tb_left, window=1)) < 0.95  # the right half differs


def test_reconstruction_loss_is_l1_inside_the_mask_plus_weighted_ssim():
    a, b = _pair(2)
    ta, tb = _t(a), _t(b)
    mask = torch.zeros(1, 1, *a.shape[:2])
    mask[..., 10:30, 10:30] = 1
    plain = losses.reconstruction_loss(ta, tb, mask)
    assert float(plain) == pytest.approx(float((ta - tb).abs().mean()), rel=1e-6)
    masked = losses.reconstruction_loss(ta, tb, mask, masked=True)
    inside = (ta - tb).abs()[..., 10:30, 10:30].mean()
    assert float(masked) == pytest.approx(float(inside), rel=1e-5)
    both = losses.reconstruction_loss(ta, tb, mask, masked=True, ssim_weight=0.5)
    assert float(both) == pytest.approx(float(inside) + 0.5 * (1 - float(losses.ssim(ta, tb, mask))), rel=1e-5)
