"""Training aids for swaps that carry identity (measured one by one in docs/training.md; each is a
`TrainConfig` knob, off unless the recipe keeps it):

- `CodeCritic`: DeepFaceLab's "true face power". A small network learns whose face a shared code came from;
  the encoder is pushed until it cannot tell, so decoder B reads A's codes as it reads B's.
- `features_map` / `features_l1`: extra L1 on the eyes, brows and mouth, where a recogniser looks
  (DeepFaceLab's "eyes and mouth priority", faceswap's eye and mouth multipliers).
- `fit_identities` / `person_optimizer`: with identity-conditioned decoders (a `--swaps` base), each person's
  vector is first fitted alone on its own faces, so decoder B starts out drawing B (the few-shot start of
  identity-conditioned swappers), and may learn faster than the weights afterwards.
- `IdentityLoss`: each step also swaps a clean face of the other person into this one and asks our own
  identity net (`identity_net`) that the swap look like this person (SimSwap's identity loss): the one loss
  in the recipe that ever shows decoder B a face of A.
"""

from __future__ import annotations

import functools

import cv2
import numpy as np
import torch
from torch import nn

from ..errors import FaceswapError
from ..faces.align import PADDING, template
from . import identity_net


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


def person_optimizer(model, person: str, cfg) -> torch.optim.Adam:
    """Adam over the shared encoder and `person`'s decoder: the decoder's weights at `cfg.decoder_lr` times
    the schedule's rate, its identity vector (if any) at `cfg.identity_lr` times ("scale" in each group)."""
    decoder = model.decoders[person]
    vector = [decoder.identity] if hasattr(decoder, "identity") else []
    if cfg.decoder_lr == 1.0 and cfg.identity_lr == 1.0:  # one group, in the order older checkpoints keep
        return torch.optim.Adam([{"params": list(model.encoder.parameters()) + list(decoder.parameters()),
                                  "scale": 1.0}], lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    weights = [q for q in decoder.parameters() if all(q is not v for v in vector)]
    groups = [{"params": list(model.encoder.parameters()), "scale": 1.0},
              {"params": weights, "scale": cfg.decoder_lr}]
    if vector:
        groups.append({"params": vector, "scale": cfg.identity_lr})
    return torch.optim.Adam(groups, lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))


FIT_LR = 0.03  # Adam's step on an identity vector while it is fitted alone


def fit_identities(trainer, steps: int) -> None:
    """Fit each person's identity vector alone on its own (warped) faces for `steps` steps, the encoder and
    every weight frozen: decoder B then draws the made-up person nearest to B before any weight moves.
    Seeded by the run's seed, so a run stays repeatable."""
    model = trainer.model
    for k, person in enumerate(model.persons):
        decoder = model.decoders[person]
        if not hasattr(decoder, "identity"):
            continue
        opt = torch.optim.Adam([decoder.identity], lr=FIT_LR)
        model.eval()
        for step in range(steps):
            trainer.gen.manual_seed(int(np.random.SeedSequence([trainer.cfg.seed, 7001, k, step])
                                        .generate_state(1)[0]))
            x, y, m = trainer.batch(person)
            with torch.no_grad():
                h = model.encoder(x)
            loss = trainer.loss(decoder(h).float(), y, m)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        for q in model.parameters():  # the frozen weights' gradients are not kept
            q.grad = None


class IdentityLoss:
    """1 - cosine between our identity net's vector of a swap into `person` and `person`'s mean vector."""

    def __init__(self, trainer):
        path = trainer.cfg.identity_net or identity_net.shipped()
        self.net = identity_net.load(path).to(trainer.device)
        self.share = 0.5  # of the batch: the swaps ride on half a batch of the other person's faces
        # the net sees the swap at this size only: identity that survives it (colours, shapes; dlib still
        # names the true face at 24 px) cannot be faked by the fine patterns that fool a small network
        self.view = trainer.cfg.identity_view
        self.target = {p: identity_net.person_vector(self.net, trainer.images[p].float() / 255,
                                                     trainer.masks[p].float() / 255, trainer.cfg.coverage)
                       .to(trainer.device) for p in trainer.model.persons}

    def __call__(self, trainer, person: str) -> torch.Tensor:
        persons = trainer.model.persons
        other = persons[(persons.index(person) + 1) % len(persons)]
        _, clean, mask = trainer.batch(other)  # the other person's unwarped faces, as conversion gives them
        n = max(1, int(len(clean) * self.share))
        with torch.autocast(trainer.device_type, dtype=torch.bfloat16, enabled=trainer.autocast):
            swap = trainer.net(clean[:n].contiguous(memory_format=trainer.layout), person)
        vectors = self.net(identity_net.soften(swap.float() * mask[:n, :1], self.view))
        return (1 - vectors @ self.target[person]).mean()

