"""Training: alternate persons, warped input -> clean target, L1 (optionally masked, plus SSIM), Adam.
Checkpoints are safetensors + JSON, written atomically, and resume exactly. Taught in chapter 04.

A model folder holds ``checkpoints/step-NNNNNNN/`` (model.safetensors, optim.safetensors, state.json),
a ``latest`` pointer, ``history.json`` and ``previews/``. The two newest checkpoints are kept.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from . import augment
from .device import pick_device
from .errors import FaceswapError
from .faceset import FaceDataset, FaceSet, faces_dir
from .media import AtomicPath
from .model import FaceSwapModel, ModelConfig


@dataclass(frozen=True)
class TrainConfig:
    """The knobs of a training run (saved with every checkpoint)."""

    batch_size: int = 64
    lr: float = 5e-5
    beta1: float = 0.5
    beta2: float = 0.999
    seed: int = 0
    masked: bool = False  # L1 only inside the face mask
    ssim_weight: float = 0.0  # adds weight * (1 - SSIM)
    warp: float = 1.0  # strength of the random warp (0 = none)
    coverage: float = 0.625  # the centre of the crop the network sees (the classic 160 of 256)
    preview_every: int = 0  # steps between preview images (0 = never)
    checkpoint_every: int = 0  # steps between checkpoints (0 = only at the end)


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


def _dist():
    return torch.distributed if torch.distributed.is_available() and torch.distributed.is_initialized() else None


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
        self.dist = _dist()
        rank = self.dist.get_rank() if self.dist else 0
        self.gen = torch.Generator().manual_seed(config.seed * 1000 + rank)
        self.model.to(self.device)
        if self.dist:  # every replica starts from rank 0's weights
            for t in self.model.state_dict().values():
                self.dist.broadcast(t, 0)
        self.optims = {p: torch.optim.Adam(list(model.encoder.parameters()) + list(model.decoders[p].parameters()),
                                           lr=config.lr, betas=(config.beta1, config.beta2))
                       for p in model.persons}
        self.step = 0
        self.history: list[dict] = []
        self.autocast = self.device.startswith("cuda")  # bf16 autocast only on CUDA

    # ---------------------------------------------------------------------------------------- steps

    def batch(self, person: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """A random (warped input, target, target mask) batch of one person."""
        idx = torch.randint(len(self.images[person]), (self.cfg.batch_size,), generator=self.gen)
        imgs = self.images[person][idx].float().div_(255.0)
        masks = self.masks[person][idx].float().div_(255.0)
        x, y, m = augment.training_pair(imgs, self.gen, self.model.config.image_size, self.cfg.coverage, masks,
                                        warp=self.cfg.warp)
        return x.to(self.device), y.to(self.device), m.to(self.device)

    def loss(self, pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        if self.cfg.masked:
            err = ((pred - target).abs() * mask).sum() / (mask.sum() * 3).clamp_min(1.0)
        else:
            err = (pred - target).abs().mean()
        if self.cfg.ssim_weight:
            err = err + self.cfg.ssim_weight * (1 - ssim(pred, target, mask if self.cfg.masked else None))
        return err

    def train_step(self) -> dict[str, float]:
        """One step: each person in turn, its decoder and the shared encoder updated on its batch."""
        self.model.train()
        losses = {}
        for p in self.model.persons:
            x, y, m = self.batch(p)
            opt = self.optims[p]
            opt.zero_grad(set_to_none=True)
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.autocast):
                pred = self.model(x, p)
            loss = self.loss(pred.float(), y, m)
            loss.backward()
            if self.dist:  # data parallel: average the gradients of the replicas
                world = self.dist.get_world_size()
                for prm in opt.param_groups[0]["params"]:
                    if prm.grad is not None:
                        self.dist.all_reduce(prm.grad)
                        prm.grad /= world
            opt.step()
            losses[p] = float(loss.detach())
        self.step += 1
        self.history.append({"step": self.step, "time": round(time.time(), 3), **{p: round(v, 6) for p, v in
                                                                                   losses.items()}})
        return losses

    def train(self, steps: int, progress: bool = True, callback: Callable[[Trainer], None] | None = None,
              callback_every: int = 0) -> list[dict]:
        """Train until `self.step == steps`; Ctrl-C saves a checkpoint before stopping. Returns the history."""
        from tqdm.auto import tqdm

        is_main = not self.dist or self.dist.get_rank() == 0
        bar = tqdm(total=steps, initial=self.step, desc="train", unit="step", disable=not (progress and is_main))
        t0, s0 = time.perf_counter(), self.step
        try:
            while self.step < steps:
                losses = self.train_step()
                bar.update(1)
                rate = (self.step - s0) / (time.perf_counter() - t0)
                bar.set_postfix_str(" ".join(f"{p} {v:.4f}" for p, v in losses.items()) + f" | {rate:.2f} steps/s")
                if is_main and self.cfg.preview_every and self.step % self.cfg.preview_every == 0:
                    self.save_preview()
                if is_main and self.cfg.checkpoint_every and self.step % self.cfg.checkpoint_every == 0:
                    self.save()
                if callback is not None and callback_every and self.step % callback_every == 0:
                    callback(self)
        except KeyboardInterrupt:
            bar.close()
            if is_main:
                path = self.save()
                print(f"interrupted at step {self.step}: checkpoint saved in {path}")
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
            _, target = augment.random_warp(imgs, gen, self.model.config.image_size, self.cfg.coverage, strength=0)
            target = target.to(self.device)
            cols = [target, self.model(target, p)] + [self.model(target, q) for q in self.model.persons if q != p]
            rows.append(np.concatenate([np.concatenate(list(augment.to_images(c)), 0) for c in cols], 1))
        return np.concatenate(rows, 1)

    def save_preview(self) -> Path:
        import cv2

        path = self.out / "previews" / f"step-{self.step:07d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(path), cv2.cvtColor(self.preview_grid(), cv2.COLOR_RGB2BGR))
        return path

    def save(self) -> Path:
        """Write a checkpoint atomically (temp folder, then rename); keep the previous one."""
        ckdir = self.out / "checkpoints"
        ckdir.mkdir(parents=True, exist_ok=True)
        final = ckdir / f"step-{self.step:07d}"
        tmp = ckdir / f".step-{self.step:07d}.tmp-{os.getpid()}"
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir()
        save_file({k: v.detach().cpu().contiguous() for k, v in self.model.state_dict().items()},
                  str(tmp / "model.safetensors"))
        save_file(_optim_tensors(self.optims), str(tmp / "optim.safetensors"))
        state = {"model_config": asdict(self.model.config), "persons": self.model.persons,
                 "train_config": asdict(self.cfg), "step": self.step,
                 "generator": self.gen.get_state().tolist(), "saved": time.strftime("%Y-%m-%dT%H:%M:%S")}
        (tmp / "state.json").write_text(json.dumps(state))
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
        _write_atomic(self.out / "latest", final.name)
        _write_atomic(self.out / "history.json", json.dumps(self.history))
        for old in sorted(p for p in ckdir.iterdir() if p.name.startswith("step-"))[:-2]:
            shutil.rmtree(old, ignore_errors=True)
        return final

    @classmethod
    def resume(cls, out_dir: str | Path, faces: dict[str, tuple[np.ndarray, np.ndarray]],
               checkpoint: str | Path | None = None, device: str | None = None, **overrides) -> Trainer:
        """Continue from the latest (or a given) checkpoint exactly where it stopped."""
        out = Path(out_dir)
        ck = Path(checkpoint) if checkpoint else latest_checkpoint(out)
        model, state = load_model(ck, with_state=True)
        cfg = TrainConfig(**{**state["train_config"], **overrides})
        t = cls(model, faces, out, cfg, device)
        _load_optim(t.optims, _load_tensors(ck / "optim.safetensors"), ck)
        t.step = int(state["step"])
        t.gen.set_state(torch.tensor(state["generator"], dtype=torch.uint8))
        hist = out / "history.json"
        t.history = [h for h in json.loads(hist.read_text()) if h["step"] <= t.step] if hist.exists() else []
        return t


def _write_atomic(path: Path, text: str) -> None:
    target = AtomicPath(path, overwrite=True)
    target.tmp.write_text(text)
    target.commit()


def _optim_tensors(optims: dict[str, torch.optim.Optimizer]) -> dict[str, torch.Tensor]:
    out = {}
    for p, opt in optims.items():
        for i, st in opt.state_dict()["state"].items():
            for k, v in st.items():
                out[f"{p}.{i}.{k}"] = (v if torch.is_tensor(v) else torch.tensor(v)).detach().cpu().contiguous()
    return out


def _load_optim(optims: dict[str, torch.optim.Optimizer], tensors: dict[str, torch.Tensor], ck: Path) -> None:
    for p, opt in optims.items():
        sd = opt.state_dict()
        state: dict[int, dict] = {}
        for key, v in tensors.items():
            person, i, k = key.rsplit(".", 2)
            if person == p:
                state.setdefault(int(i), {})[k] = v
        if state and len(state) != len(sd["param_groups"][0]["params"]):
            raise FaceswapError(f"{ck}/optim.safetensors: optimizer state of {p} does not match the model")
        sd["state"] = state
        opt.load_state_dict(sd)


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise FaceswapError(f"{path}: missing; this checkpoint is incomplete, use the previous one") from None
    except (SafetensorError, OSError, ValueError) as e:
        raise FaceswapError(f"{path}: damaged checkpoint file ({str(e)[:80]}); the previous checkpoint in "
                            f"{path.parent.parent} is kept: load that one") from None


def checkpoints(out_dir: str | Path) -> list[Path]:
    """The checkpoints of a model folder, oldest first."""
    d = Path(out_dir) / "checkpoints"
    return sorted(p for p in d.iterdir() if p.name.startswith("step-")) if d.exists() else []


def latest_checkpoint(out_dir: str | Path) -> Path:
    out = Path(out_dir)
    pointer = out / "latest"
    if pointer.exists() and (out / "checkpoints" / pointer.read_text().strip()).exists():
        return out / "checkpoints" / pointer.read_text().strip()
    found = checkpoints(out)
    if not found:
        raise FaceswapError(f"{out}: no checkpoint here; train a model first (chapter 04 or faceswap-core train)")
    return found[-1]


def load_model(checkpoint: str | Path, with_state: bool = False, expect_config: str | None = None):
    """A trained `FaceSwapModel` from a checkpoint folder (or a model folder: its latest checkpoint)."""
    ck = Path(checkpoint)
    if not ck.exists():
        raise FaceswapError(f"{ck}: no checkpoint here; train a model first (chapter 04 or faceswap-core train)")
    if (ck / "checkpoints").exists():
        ck = latest_checkpoint(ck)
    try:
        state = json.loads((ck / "state.json").read_text())
        config = ModelConfig.from_dict(state["model_config"])
    except FileNotFoundError:
        raise FaceswapError(f"{ck}: not a checkpoint (no state.json)") from None
    except (ValueError, KeyError, TypeError) as e:
        raise FaceswapError(f"{ck}/state.json: damaged ({str(e)[:80]}); use the previous checkpoint") from None
    if expect_config and config.name != expect_config:
        raise FaceswapError(f"{ck}: a {config.name!r} model, not {expect_config!r}; pick the matching config")
    model = FaceSwapModel(config, state["persons"])
    tensors = _load_tensors(ck / "model.safetensors")
    try:
        model.load_state_dict(tensors)
    except RuntimeError as e:
        raise FaceswapError(f"{ck}/model.safetensors: does not fit config {config.name} "
                            f"({str(e).splitlines()[0][:80]})") from None
    return (model, state) if with_state else model


def init_distributed() -> bool:
    """Join the process group when started by torchrun (gloo on CPU, nccl on CUDA); False otherwise."""
    if "RANK" not in os.environ or _dist():
        return _dist() is not None
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    torch.distributed.init_process_group(backend)
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    return True


def load_faces(workspace: str | Path, persons: list[str], crop: int = 128) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The face sets of `persons` as training arrays: whole aligned crops resized to `crop` px, with masks."""
    out = {}
    for p in persons:
        fs = FaceSet(faces_dir(workspace, p))
        if len(fs) == 0:
            raise FaceswapError(f"{fs.path}: the face set is empty; extract faces of {p} first")
        out[p] = fs.arrays(size=crop, coverage=1.0)
    return out
