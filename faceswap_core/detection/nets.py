"""The swap detectors' small nets: a logistic regression, the boundary net (Face X-ray's blend region and
seam), a CNN classifier with Grad-CAM, and their shared training loop. Taught in chapter 09. Views are
``uint8 (N, VIEW, VIEW, 3) RGB`` at the edges (`to_input` converts them)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .features import VIEW

TOP = 0.02  # the boundary net's image score: mean of its most certain 2% of pixels

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
        return F.interpolate(self.head(self.body(x)), size=x.shape[-2:], mode="bilinear",
                             align_corners=False)[:, 0]


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
        self.features = nn.Sequential(_conv(3, c, 2), _conv(c, 2 * c, 2), _conv(2 * c, 4 * c, 2),
                                      _conv(4 * c, 4 * c))
        self.fc = nn.Linear(4 * c, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.features(x).mean((2, 3)))[:, 0]


def to_input(views: np.ndarray) -> torch.Tensor:
    """(N, V, V, 3) uint8 views -> (N, 3, V, V) float32 centred on 0."""
    return torch.from_numpy(np.ascontiguousarray(views)).permute(0, 3, 1, 2).float() / 255 - 0.5


def fit_net(net: nn.Module, views: np.ndarray, target: np.ndarray, steps: int, batch: int = 32,
            lr: float = 3e-3, seed: int = 0) -> list[float]:
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
    """(N, V, V) probability of each pixel of each view: pasted in (a region net) or on a seam
    (a seam net)."""
    return torch.sigmoid(torch.from_numpy(net_outputs(net, views))).numpy()


def seam_scores(net: BoundaryNet, views: np.ndarray) -> np.ndarray:
    """(N,) the boundary detector's score of each view: the mean of a seam net's most certain `TOP` pixels."""
    maps = boundary_maps(net, views).reshape(len(views), -1)
    return np.sort(maps, 1)[:, -max(1, int(round(TOP * maps.shape[1]))):].mean(1)


def grad_cam(net: FaceNet, views: np.ndarray) -> np.ndarray:
    """(N, V, V) in [0, 1]: where the classifier's "swapped" logit is pushed up
    (Grad-CAM on its last conv)."""
    x = to_input(views)
    feats = net.features(x).detach().requires_grad_(True)
    logit = net.fc(feats.mean((2, 3)))[:, 0]
    (grad,) = torch.autograd.grad(logit.sum(), feats)
    cam = F.relu((grad.mean((2, 3), keepdim=True) * feats).sum(1, keepdim=True))
    cam = F.interpolate(cam, size=views.shape[1:3], mode="bilinear", align_corners=False)[:, 0].detach()
    return (cam / cam.flatten(1).amax(1).clamp_min(1e-9)[:, None, None]).numpy()
