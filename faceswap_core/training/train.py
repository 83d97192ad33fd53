"""Training: alternate persons, warped input -> clean target, L1 (optionally masked, plus SSIM), Adam;
previews, history, exact resume (through `checkpoint`) and data parallel under torchrun. Taught in
chapter 04.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch

from ..device import pick_device
from ..errors import FaceswapError
from ..faces.faceset import FaceDataset, FaceSet
from ..files import lock
from ..progress import progress_bar
from ..workspace import faces_dir
from . import augment, remedies
from . import checkpoint as ckpt
from .distributed import current, init_distributed, same_everywhere  # noqa: F401 (train.init_distributed)
from .losses import reconstruction_loss
from .model import FaceSwapModel
from .recipe import TrainConfig
from .stopping import StopRequests, whole_steps

TRAIN_CROP = 128  # face-set crops are resized to this (whole padded crop) before the random transform
MIN_LR = 0.05  # the cosine schedule ends at this share of the learning rate
CRITIC = "_critic"  # the code critic's optimizer in a checkpoint (person names are words: no clash)


def scheduled_lr(cfg: TrainConfig, step: int) -> float:
    """The learning rate of step `step` (0-based) under `cfg`: linear warm-up from lr/10, then a cosine decay
    to lr * MIN_LR over `decay_steps`, then flat (constant when `decay_steps` is 0)."""
    lr = cfg.lr
    if cfg.warmup and step < cfg.warmup:
        return lr * (0.1 + 0.9 * step / cfg.warmup)
    if cfg.decay_steps:
        t = min(1.0, (step - cfg.warmup) / max(1, cfg.decay_steps - cfg.warmup))
        return lr * (MIN_LR + (1 - MIN_LR) * 0.5 * (1 + math.cos(math.pi * t)))
    return lr


class Trainer:
    """Trains a `FaceSwapModel` on face arrays {person: (images (N,H,W,3) uint8, masks (N,H,W) uint8)}."""

    def __init__(self, model: FaceSwapModel, faces: dict[str, tuple[np.ndarray, np.ndarray]],
                 out_dir: str | Path, config: TrainConfig = TrainConfig(), device: str | None = None):
        self.model, self.cfg, self.out = model, config, Path(out_dir)
        self.device = pick_device(device)
        missing = [p for p in model.persons if p not in faces]
        if missing:
            raise FaceswapError(f"no faces given for {', '.join(missing)}")
        sizes = {p: faces[p][0].shape[1:3] for p in model.persons}
        if len(set(sizes.values())) != 1:
            raise FaceswapError(f"face sets have different crop sizes {sizes}: extract them at one --size")
        for p in model.persons:
            if len(faces[p][0]) < config.batch_size:
                raise FaceswapError(f"face set {p} has {len(faces[p][0])} faces, fewer than the batch size "
                                    f"{config.batch_size}: lower the batch size or extract more faces")
        data = {p: FaceDataset(*faces[p]) for p in model.persons}
        self.images = {p: d.images for p, d in data.items()}  # (N, 3, H, W) uint8
        self.masks = {p: d.masks for p, d in data.items()}  # (N, 1, H, W) uint8
        self.color = {p: self._color_stats(p) for p in model.persons} if config.color_transfer else {}
        self.dist = current()
        # torchrun: each process its own GPU (init_distributed chose it)
        if self.dist and self.device == "cuda":
            self.device = f"cuda:{torch.cuda.current_device()}"
        self.rank = self.dist.get_rank() if self.dist else 0
        self.gen = torch.Generator()
        self.model.to(self.device)
        self.layout = torch.channels_last if config.channels_last else torch.contiguous_format
        self.model.to(memory_format=self.layout)
        # saved with the weights: conversion shows the model the same view
        self.model.coverage = config.coverage
        self.net: torch.nn.Module = self.model
        if self.dist:
            same_everywhere(self.dist, model, config, {p: len(self.images[p]) for p in model.persons})
            from torch.nn.parallel import DistributedDataParallel

            # One wrapper around the whole model (a half-step leaves the other decoder unused); DDP starts
            # every replica from rank 0's weights and averages the gradients in buckets while backward still
            # runs.
            ids = [torch.device(self.device).index] if self.device.startswith("cuda") else None
            self.net = DistributedDataParallel(self.model, device_ids=ids, find_unused_parameters=True,
                                               broadcast_buffers=False)
        self.optims = {p: remedies.person_optimizer(model, p, config) for p in model.persons}
        self.critic = remedies.CodeCritic.create(model, config, self.device) if config.code_critic else None
        self.identity = remedies.IdentityLoss(self) if config.identity_loss else None
        self.step = 0
        self.mid_step = False  # true while a step has updated some persons but not all
        self.history: list[dict] = []
        self.changed: dict[str, tuple] = {}  # on resume: setting -> (saved, given)
        self.device_type = torch.device(self.device).type
        self.autocast = (config.precision == "bf16"
                         or (config.precision == "auto" and self.device_type == "cuda"))
        self.pin = self.device_type == "cuda"  # page-locked batches copy to the GPU asynchronously

    # ---------------------------------------------------------------------------------------- steps

    def lr_at(self, step: int) -> float:
        """The learning rate of step `step` (0-based): a pure function of the step, so resume is exact."""
        return scheduled_lr(self.cfg, step)

    def warp_at(self, step: int) -> float:
        """The warp strength of step `step`: none in the last `warp_off` share of `decay_steps`."""
        cfg = self.cfg
        if cfg.warp_off and cfg.decay_steps and step >= (1 - cfg.warp_off) * cfg.decay_steps:
            return 0.0
        return cfg.warp

    def batch(self, person: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A random (warped input, target, target mask) batch of one person."""
        idx = torch.randint(len(self.images[person]), (self.cfg.batch_size,), generator=self.gen)
        imgs = self.images[person][idx].float().div_(255.0)
        masks = self.masks[person][idx].float().div_(255.0)
        if self.cfg.eyes_mouth:  # the features' map rides along as a second mask channel
            masks = torch.cat([masks, remedies.features_map(imgs.shape[-1]).expand(len(masks), 1, -1, -1)], 1)
        x, y, m = augment.training_pair(imgs, self.gen, self.model.config.image_size, self.cfg.coverage,
                                        masks, warp=self.warp_at(self.step))
        if self.cfg.color_transfer:  # the input only: the decoder still draws its own person's colours
            x = self._recolor(x, m[:, :1], person)
        if self.pin:
            x, y, m = x.pin_memory(), y.pin_memory(), m.pin_memory()
        return (x.to(self.device, memory_format=self.layout, non_blocking=self.pin),
                y.to(self.device, non_blocking=self.pin), m.to(self.device, non_blocking=self.pin))

    def _color_stats(self, person: str) -> tuple[torch.Tensor, torch.Tensor]:
        """Each face's skin colour (mean, spread per channel inside its mask), for recolouring inputs."""
        parts = [augment.color_stats(self.images[person][i:i + 256].float() / 255,
                                     self.masks[person][i:i + 256].float() / 255)
                 for i in range(0, len(self.images[person]), 256)]
        return torch.cat([p[0] for p in parts]), torch.cat([p[1] for p in parts])

    def _recolor(self, x: torch.Tensor, m: torch.Tensor, person: str) -> torch.Tensor:
        """Recolour a random share of the inputs with the colour statistics of other persons' faces, so the
        shared code cannot tell the persons apart by skin tone and must carry pose, expression and light."""
        others = [q for q in self.model.persons if q != person]
        pick = torch.rand(len(x), generator=self.gen) < self.cfg.color_transfer
        who = torch.randint(len(others), (len(x),), generator=self.gen)
        mean, std = torch.empty(len(x), 3, 1, 1), torch.empty(len(x), 3, 1, 1)
        for k, q in enumerate(others):
            idx = torch.randint(len(self.color[q][0]), (len(x),), generator=self.gen)
            sel = who == k
            mean[sel], std[sel] = self.color[q][0][idx][sel], self.color[q][1][idx][sel]
        moved = augment.color_transfer(x, m, mean, std)
        return torch.where(pick[:, None, None, None], moved, x)

    def loss(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        loss = reconstruction_loss(pred, target, mask[:, :1], self.cfg.masked, self.cfg.ssim_weight)
        if self.cfg.eyes_mouth:  # the features' map is the mask's second channel
            loss = loss + self.cfg.eyes_mouth * remedies.features_l1(pred, target, mask[:, 1:])
        return loss

    def train_step(self) -> dict[str, float]:
        """One step: each person in turn, its decoder and the shared encoder updated on its batch."""
        self.model.train()
        self.mid_step = True
        losses, codes = {}, {}
        lr = self.lr_at(self.step)
        # one random stream per (seed, rank, step): resume needs no saved generator state
        self.gen.manual_seed(int(np.random.SeedSequence([self.cfg.seed, self.rank, self.step])
                                 .generate_state(1)[0]))
        for p in self.model.persons:
            x, y, m = self.batch(p)
            opt = self.optims[p]
            for group in opt.param_groups:
                group["lr"] = lr * group.get("scale", 1.0)
            opt.zero_grad(set_to_none=True)
            with torch.autocast(self.device_type, dtype=torch.bfloat16, enabled=self.autocast):
                pred, code = self.net(x, p, with_code=True)
            loss = self.loss(pred.float(), y, m)
            if self.identity is not None:  # a swap into p must look like p to our identity net
                id_loss = self.identity(self, p)
                losses[f"{p} identity"] = float(id_loss.detach())
                loss = loss + self.cfg.identity_loss * id_loss
            if self.critic is not None:  # fool the critic: its guess should be no better than chance
                codes[p] = code.detach().float()
                loss = loss + self.cfg.code_critic * self.critic.fooled(code.float())
            loss.backward()  # under DDP this returns with the gradients averaged over the replicas
            # a rare huge step (with SSIM and a high lr) can kill the decoder for good
            if self.cfg.clip_grad:
                torch.nn.utils.clip_grad_norm_([q for g in opt.param_groups for q in g["params"]],
                                               self.cfg.clip_grad)
            opt.step()
            losses[p] = float(loss.detach())
        if self.critic is not None:
            losses["critic"] = self.critic.learn(codes, self.model.persons, lr)
        self.step += 1
        self.history.append({"step": self.step, "time": round(time.time(), 3),
                             **{p: round(v, 6) for p, v in losses.items()}})
        self.mid_step = False
        return losses

    def train(self, steps: int, progress: bool = True, callback: Callable[[Trainer], None] | None = None,
              callback_every: int = 0) -> list[dict]:
        """Train until `self.step == steps`; Ctrl-C (or SIGTERM) stops after the step under way and saves a
        checkpoint of whole steps (`stopping`). Returns the history. The model folder is locked meanwhile: a
        second trainer of the same model is refused with one line."""
        if steps < self.step:
            raise FaceswapError(f"steps {steps}: {self.out} is already at step {self.step}; give more steps "
                                "(training never goes back: its checkpoint is kept as it is)")
        if steps == self.step:
            return self.history  # nothing to train: the checkpoint stays as it is
        is_main = self.rank == 0
        with lock(self.out, "this model") if is_main else contextlib.nullcontext(), whole_steps() as stops:
            return self._train(steps, progress, callback, callback_every, is_main, stops)

    def _train(self, steps: int, progress: bool, callback: Callable[[Trainer], None] | None,
               callback_every: int, is_main: bool, stops: StopRequests) -> list[dict]:
        bar = progress_bar(total=steps, initial=self.step, desc="train", unit="step",
                           enabled=progress and is_main)
        t0, s0 = time.perf_counter(), self.step
        if self.step == 0 and self.cfg.identity_fit:
            remedies.fit_identities(self, self.cfg.identity_fit)
        try:
            while self.step < steps:
                losses = self.train_step()
                bar.update(1)
                rate = (self.step - s0) / (time.perf_counter() - t0)
                bar.set_postfix_str(" ".join(f"{p} {v:.4f}" for p, v in losses.items())
                                    + f" | {rate:.2f} steps/s")
                if is_main and self.cfg.preview_every and self.step % self.cfg.preview_every == 0:
                    self.save_preview()
                if is_main and self.cfg.checkpoint_every and self.step % self.cfg.checkpoint_every == 0:
                    self.save()
                if callback is not None and callback_every and self.step % callback_every == 0:
                    callback(self)
                stops.check()
        except KeyboardInterrupt:
            bar.close()
            if is_main and not self.mid_step:
                path = self.save()
                print(f"interrupted at step {self.step}: checkpoint saved in {path}")
            elif is_main:  # stopped twice, inside a step: the weights hold part of a step
                print(f"stopped inside step {self.step + 1}: nothing saved; the last checkpoint stands")
            raise
        bar.close()
        if is_main:
            self.save()
        return self.history

    # ---------------------------------------------------------------------------------------- output

    @torch.no_grad()
    def preview_grid(self, n: int = 4) -> np.ndarray:
        """Rows per person: target, reconstruction, swap to each other person (uint8 image)."""
        self.model.eval()
        rows = []
        gen = torch.Generator().manual_seed(12345)  # the same faces every time
        for p in self.model.persons:
            idx = torch.randint(len(self.images[p]), (n,), generator=gen)
            imgs = self.images[p][idx].float().div_(255.0)
            _, target = augment.random_warp(imgs, gen, self.model.config.image_size, self.cfg.coverage,
                                            strength=0)
            target = target.to(self.device)
            cols = ([target, self.model(target, p)]
                    + [self.model(target, q) for q in self.model.persons if q != p])
            rows.append(np.concatenate([np.concatenate(list(augment.to_images(c)), 0) for c in cols], 1))
        return np.concatenate(rows, 1)

    def save_preview(self) -> Path:
        import cv2

        path = self.out / "previews" / f"step-{self.step:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(cv2.imencode(".png",
                                      cv2.cvtColor(self.preview_grid(), cv2.COLOR_RGB2BGR))[1].tobytes())
        return path

    def save(self) -> Path:
        """Write a checkpoint atomically (temp folder, then rename); keep the previous one."""
        state = {"train_config": asdict(self.cfg), "step": self.step}
        if self.critic is None:
            return ckpt.save(self.out, self.model, self.optims, state, self.history)
        optims = {**self.optims, CRITIC: self.critic.optim}
        return ckpt.save(self.out, self.model, optims, state, self.history,
                         {f"critic.{k}": v for k, v in self.critic.state_dict().items()})

    @classmethod
    def resume(cls, out_dir: str | Path, faces: dict[str, tuple[np.ndarray, np.ndarray]],
               checkpoint: str | Path | None = None, device: str | None = None, **overrides) -> Trainer:
        """Continue from the latest (or a given) checkpoint exactly where it stopped."""
        out = Path(out_dir)
        ck = Path(checkpoint) if checkpoint else ckpt.latest(out)
        model, state = ckpt.load_model(ck, with_state=True)
        step = ckpt.read_step(state, ck)
        history = ckpt.read_history(out, step)
        try:
            saved = TrainConfig(**state["train_config"])
        except (KeyError, TypeError) as e:
            raise FaceswapError(f"{ck}/state.json: damaged training settings ({str(e)[:60]}); use the "
                                "previous checkpoint") from None
        cfg = TrainConfig(**{**asdict(saved), **overrides})
        t = cls(model, faces, out, cfg, device)
        t.changed = {k: (getattr(saved, k), v) for k, v in overrides.items() if getattr(saved, k) != v}
        if t.critic is not None and saved.code_critic:  # a critic added on resume starts afresh
            t.critic.load_state_dict({k[7:]: v for k, v in ckpt.load_extra(ck).items()
                                      if k.startswith("critic.")})
            ckpt.load_optimizers({**t.optims, CRITIC: t.critic.optim}, ck)
        else:
            ckpt.load_optimizers(t.optims, ck)
        t.step, t.history = step, history
        return t


def load_faces(workspace: str | Path, persons: list[str],
               crop: int = TRAIN_CROP) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The face sets of `persons` as training arrays: whole aligned crops resized to `crop` px, with masks."""
    out = {}
    for p in persons:
        fs = FaceSet(faces_dir(workspace, p))
        if len(fs) == 0:
            raise FaceswapError(f"{fs.path}: the face set is empty; extract faces of {p} first")
        out[p] = fs.arrays(size=crop, coverage=1.0)
    return out


def checkpoints_in(model_dir: str | Path) -> bool:
    """Whether a model folder already holds a checkpoint."""
    return bool(ckpt.checkpoints(model_dir))


def open_trainer(model_dir: str | Path, faces: dict[str, tuple[np.ndarray, np.ndarray]], persons: list[str],
                 config: str = "lite", train_config: TrainConfig = TrainConfig(), resume: bool | None = None,
                 device: str | None = None, model: FaceSwapModel | None = None, **overrides) -> Trainer:
    """A Trainer for `model_dir`: a new model (`model`, or one created from `config` and the seed), or the
    saved one continued exactly. `resume` True needs a checkpoint, False refuses one (never train over a
    model by accident), None continues if there is one; `overrides` change saved training settings on
    resume."""
    model_dir = Path(model_dir)
    found = ckpt.checkpoints(model_dir)
    if resume is False and found:
        raise FaceswapError(f"{model_dir}: already has checkpoints; "
                            "pass --resume to continue, or --model NEW")
    if resume or (resume is None and found):
        trainer = Trainer.resume(model_dir, faces, device=device, **overrides)
        if trainer.model.config.name != config:
            raise FaceswapError(f"{model_dir}: holds a {trainer.model.config.name!r} model, not {config!r}")
        return trainer
    model = model if model is not None else FaceSwapModel.create(config, persons, seed=train_config.seed)
    return Trainer(model, faces, model_dir, train_config, device)
