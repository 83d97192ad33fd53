"""Training aids for swaps that carry identity (measured one by one in docs/training.md; each is a
`TrainConfig` knob, off unless the recipe keeps it):

- `CodeCritic`: DeepFaceLab's "true face power". A small network learns whose face a shared code came from;
  the encoder is pushed until it cannot tell, so decoder B reads A's codes as it reads B's.
- `features_map` / `features_l1`: extra L1 on the eyes, brows and mouth, where a recogniser looks
  (DeepFaceLab's "eyes and mouth priority", faceswap's eye and mouth multipliers).
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import torch
from torch import nn

from ..errors import FaceswapError
from ..faces.align import PADDING, template


class CodeCritic(nn.Sequential):
    """Tells whose face a shared code came from (one logit per person), with its own Adam optimizer."""

    def __init__(self, dense: int, persons: int, hidden: int = 256):
        super().__init__(nn.Linear(dense, hidden), nn.LeakyReLU(0.1), nn.Linear(hidden, hidden),
                         nn.LeakyReLU(0.1), nn.Linear(hidden, persons))
        self.optim: torch.optim.Optimizer | None = None

    @classmethod
    def create(cls, model, config, device) -> CodeCritic:
        """A critic for `model`'s persons, seeded by the training seed, with Adam at the training settings."""
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            critic = cls(model.config.dense, len(model.persons)).to(device)
        critic.optim = torch.optim.Adam(critic.parameters(), lr=config.lr, betas=(config.beta1, config.beta2))
        return critic

    def fooled(self, code: torch.Tensor) -> torch.Tensor:
        """The encoder's extra loss: the cross-entropy of the critic's guess against "anyone" (uniform); it is
        lowest, log(persons), when the critic cannot tell."""
        return -torch.log_softmax(self(code), 1).mean()

    def learn(self, codes: dict[str, torch.Tensor], persons: list[str], lr: float) -> float:
        """One step teaching the critic whose (detached) codes these are; returns its cross-entropy."""
        for group in self.optim.param_groups:
            group["lr"] = lr
        self.optim.zero_grad(set_to_none=True)
        logits = torch.cat([self(c) for c in codes.values()])
        labels = torch.cat([torch.full((len(c),), persons.index(p), device=c.device)
                            for p, c in codes.items()])
        loss = nn.functional.cross_entropy(logits, labels)
        loss.backward()
        self.optim.step()
        return float(loss.detach())


@functools.lru_cache(maxsize=4)
def features_map(size: int) -> torch.Tensor:
    """(1, 1, size, size) weights of the eyes, brows and mouth in an aligned padded crop of `size` px (where
    alignment puts the mean face's landmarks), grown by half and softened over a few pixels."""
    pts = (PADDING + template() * (1 - 2 * PADDING)) * size
    out = np.zeros((size, size), np.float32)
    for part in (slice(17, 22), slice(22, 27), slice(36, 42), slice(42, 48), slice(48, 60)):
        p = pts[part]
        centre = p.mean(0)
        cv2.fillConvexPoly(out, cv2.convexHull(np.round(centre + (p - centre) * 1.5).astype(np.int32)), 1.0)
    out = cv2.dilate(out, np.ones((3, 3), np.uint8), iterations=max(1, size // 64))
    out = cv2.GaussianBlur(out, (0, 0), max(1.0, size / 64))
    return torch.from_numpy(out)[None, None]


def features_l1(pred: torch.Tensor, target: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """L1 between a decoded batch and its target, weighted by the features' map (moved with the batch)."""
    return ((pred - target).abs() * weights).sum() / (weights.sum() * 3).clamp_min(1.0)


def share_decoders(model) -> None:
    """Make every person's decoder one network (an identity-conditioned one: each keeps its own identity
    vector), so the only thing that tells the decoder whom to draw is that vector; with the code critic the
    code cannot tell it either, and a swap is A's code drawn with B's vector (an experiment: bench_train's
    `--shared-decoder`)."""
    first = model.decoders[model.persons[0]]
    if not hasattr(first, "identity"):
        raise FaceswapError("shared decoders need identity-conditioned ones (a base built with --swaps)")
    for p in model.persons[1:]:
        d = model.decoders[p]
        d.body, d.to_rgb, d.from_identity = first.body, first.to_rgb, first.from_identity
