"""Pretraining on swaps: a base whose generic decoder learns to draw *the person its identity vector names*
whatever face the encoder read, taught with the made-up people's truth (person Q rendered in the exact
conditions of person P's frame). A pair's decoders start from it, each with its own identity vector.

Why: a decoder pretrained to redraw many people (`pretrain.pretrain`) reads who a face is from the shared
code, so a swap keeps A's identity (docs/training.md). Here every batch mixes a face's own redraw with
swaps into another made-up person, so the decoder has to take pose, expression and light from the code
and identity from its vector. Only seed<N> people are used (never the cast)."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from ..errors import FaceswapError
from . import augment, pretrain
from .losses import reconstruction_loss
from .model import FaceSwapModel, get_config
from .recipe import BASE_RECIPE, recipe
from .train import scheduled_lr

IDENTITY_DIM = 64
TABLE_LR = 10.0  # the people's vectors learn this many times faster than the weights (each is in few batches)


class SwapPairs:
    """Training pairs as uint8 tensors: `inputs` (M, 3, S, S) faces of P, `targets` (M, 3, S, S) person
    `who[i]` in the same conditions and crop, `masks` (M, 1, S, S) the target's face."""

    def __init__(self, inputs: np.ndarray, targets: np.ndarray, masks: np.ndarray, who: np.ndarray,
                 people: list[str]):
        self.inputs = torch.from_numpy(inputs).permute(0, 3, 1, 2).contiguous()
        self.targets = torch.from_numpy(targets).permute(0, 3, 1, 2).contiguous()
        self.masks = torch.from_numpy(masks)[:, None].contiguous()
        self.who = torch.from_numpy(np.asarray(who, np.int64))
        self.people = list(people)

    def batch(self, gen: torch.Generator, size: int, image_size: int, coverage: float, warp: float = 1.0):
        """(warped input, target, target mask, identity index): input and target moved by the same random
        transform, only the input warped."""
        idx = torch.randint(len(self.who), (size,), generator=gen)
        both = torch.cat([self.inputs[idx], self.targets[idx]], 1).float().div_(255)
        moved, mm = augment.random_transform(both, gen, masks=self.masks[idx].float().div_(255))
        warped, target, m = augment.random_warp(moved, gen, image_size, coverage, warp, masks=mm)
        return warped[:, :3], target[:, 3:], m, self.who[idx]


def pretrain_swaps(out: str | Path, pairs: SwapPairs, config: str = "lite", steps: int = BASE_RECIPE["steps"],
                   seed: int = BASE_RECIPE["seed"], frames: int = 0, progress: bool = True,
                   film: bool = False, tail: str = "", coverage: float | None = None) -> Path:
    """Train the encoder and one identity-conditioned generic decoder on `pairs` (one learned vector per
    made-up person) for `steps` steps of the kept recipe; save the base (its decoder's own vector: the mean
    of the people's) to `out` with a JSON record beside it. With `film` the vector also scales and shifts
    every decoder layer (`ModelConfig.identity_film`) and the people's vectors learn `TABLE_LR` times faster
    (made for many people seen in few frames each); `tail` goes on the record's rebuild command."""
    from ..progress import progress_bar

    out = Path(out)
    pretrain.check_people(pairs.people)
    pretrain.writable(out)
    shape = replace(get_config(config), identity_dim=IDENTITY_DIM, identity_film=int(film))
    cfg = recipe(config, steps, seed=seed, **({"coverage": coverage} if coverage else {}))
    if len(pairs.who) < cfg.batch_size:
        raise FaceswapError(f"{len(pairs.who)} training pairs, fewer than a batch ({cfg.batch_size})")
    model = FaceSwapModel.create(shape, [pretrain.GENERIC], seed=seed)
    model.coverage = cfg.coverage  # recorded with the base: a pair's model starts with its view
    decoder = model.decoders[pretrain.GENERIC]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        table = torch.nn.Embedding(len(pairs.people), IDENTITY_DIM)
        torch.nn.init.normal_(table.weight, std=0.1)
    params = list(model.parameters()) + list(table.parameters())
    opt = torch.optim.Adam([{"params": list(model.parameters()), "scale": 1.0},
                            {"params": list(table.parameters()), "scale": TABLE_LR if film else 1.0}],
                           lr=cfg.lr, betas=(cfg.beta1, cfg.beta2))
    gen = torch.Generator()
    started, losses = time.time(), []
    model.train()
    for step in progress_bar(range(steps), desc="pretrain swaps", unit="step", enabled=progress):
        gen.manual_seed(int(np.random.SeedSequence([seed, step]).generate_state(1)[0]))
        for g in opt.param_groups:
            g["lr"] = g["scale"] * scheduled_lr(cfg, step)  # the trainer's cosine decay over the steps
        x, y, m, who = pairs.batch(gen, cfg.batch_size, shape.image_size, cfg.coverage, cfg.warp)
        pred = decoder(model.encoder(x), table(who))
        loss = reconstruction_loss(pred, y, m, cfg.masked, cfg.ssim_weight)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, cfg.clip_grad)
        opt.step()
        losses.append(float(loss.detach()))
    with torch.no_grad():
        decoder.identity.copy_(table.weight.mean(0))  # a pair's decoders start from the average person
    return pretrain.finish(model, out, config, pairs.people, frames, steps, seed, losses[-50:], started,
                           " --swaps" + tail, kind="swaps")
