"""A pretrained base: the shared encoder and one generic decoder trained on many made-up people, so that a
pair's model starts from an encoder that already reads faces and decoders that already draw them
(DeepFaceLab's pretrain mode). Taught in chapter 08; `faceswap-core pretrain` builds one.

Only seeded random people (``seed<N>``, N >= `FIRST_SEED`) are used, never the named cast nor the pair kept
aside for measurements (seed3 -> seed8), so no chapter's pair is seen in pretraining. The base is one
safetensors file (weights stored as float16 to keep it small) whose metadata records its format version,
model config, people, steps and the command that rebuilds it.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from ..errors import FaceswapError
from ..files import lock
from .model import FaceSwapModel, ModelConfig, get_config
from .recipe import BASE_RECIPE, FIRST_SEED, recipe

FORMAT = "faceswap-lab base"
VERSION = 1
SHIPPED = Path(__file__).resolve().parent.parent / "bases"  # the shipped bases: bases/<config>.safetensors
GENERIC = "generic"  # the name of the pretraining's one decoder


def people(count: int, first: int = FIRST_SEED) -> list[str]:
    """The made-up people a base is trained on: seed<first> ... seed<first + count - 1>."""
    if count < 2:
        raise FaceswapError(f"--people {count}: a base needs at least 2 people (16 or more is usual)")
    return [f"seed{first + i}" for i in range(count)]


def rebuild_command(config: str, count: int, frames: int, steps: int, seed: int) -> str:
    return (f"faceswap-core pretrain --config {config} --people {count} --frames {frames} --steps {steps} "
            f"--seed {seed}")


def render_faces(workspace: str | Path, names: list[str], frames: int, seed: int = 0,
                 progress: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Render a clip of each made-up person into `workspace`, extract its faces (truth landmarks, 256 px)
    and return the training arrays (`train.load_faces`)."""
    from .. import collect
    from ..faces import extraction
    from .train import load_faces

    for i, name in enumerate(names):
        if not name.startswith("seed"):
            raise FaceswapError(f"{name}: a base is trained on seed<N> people only, never the named cast")
        rec = collect.collect(f"synthetic:{name}", name, workspace, frames=frames, size=256,
                              seed=7000 + 31 * seed + i)
        extraction.extract(rec.path(workspace, name), name, workspace, detector="truth", size=256,
                           progress=False, overwrite=True)
        if progress:
            print(f"  rendered {name} ({i + 1}/{len(names)})", flush=True)
    return load_faces(workspace, names)


def pretrain(out: str | Path, config: str = "lite", count: int = BASE_RECIPE["count"],
             frames: int = BASE_RECIPE["frames"], steps: int = BASE_RECIPE["steps"],
             seed: int = BASE_RECIPE["seed"], workspace: str | Path | None = None, progress: bool = True,
             device: str | None = None) -> Path:
    """Train a base on `count` made-up people (`frames` each) for `steps` steps of the kept recipe, one
    generic decoder for all; write it to `out` (a .safetensors file; temp file, then rename). Seeded:
    the same arguments give the same base on the same machine."""
    from .train import Trainer

    out = Path(out)
    if out.suffix != ".safetensors":
        raise FaceswapError(f"{out}: a base is a .safetensors file; give a name ending in .safetensors")
    if steps < 1 or frames < 8:
        raise FaceswapError(f"steps {steps}, frames {frames}: give --steps 1 or more and --frames 8 or more")
    names = people(count)
    shape = get_config(config)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        probe = tempfile.NamedTemporaryFile(dir=out.parent, prefix=".write-test-")
        probe.close()
    except OSError as e:
        raise FaceswapError(f"{out.parent}: cannot write the base there ({e.strerror}); "
                            "choose another --out") from None
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="pretrain-") as tmp:
        ws = Path(workspace) if workspace else Path(tmp) / "workspace"
        faces = render_faces(ws, names, frames, seed, progress)
        pooled = (np.concatenate([faces[p][0] for p in names]), np.concatenate([faces[p][1] for p in names]))
        model = FaceSwapModel.create(shape, [GENERIC], seed=seed)
        trainer = Trainer(model, {GENERIC: pooled}, Path(tmp) / "model", recipe(config, steps, seed=seed),
                          device)
        trainer.train(steps, progress=progress)
        losses = [h[GENERIC] for h in trainer.history[-50:]]
    meta = {"format": FORMAT, "version": str(VERSION), "model_config": shape.to_json(),
            "people": json.dumps(names), "frames": str(frames), "steps": str(steps), "seed": str(seed),
            "final_loss": f"{float(np.mean(losses)):.4f}", "minutes": f"{(time.time() - started) / 60:.1f}",
            "command": rebuild_command(config, count, frames, steps, seed), "coverage": str(model.coverage)}
    save_base(model, out, meta)
    return out


def save_base(model: FaceSwapModel, out: Path, meta: dict[str, str]) -> None:
    """The encoder and the generic decoder as float16, with `meta`, written atomically to `out`."""
    tensors = {f"encoder.{k}": v for k, v in model.encoder.state_dict().items()}
    tensors.update({f"decoder.{k}": v for k, v in model.decoders[GENERIC].state_dict().items()})
    tensors = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in tensors.items()}
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    with lock(out.parent, f"the base {out.name}"):
        try:
            save_file(tensors, str(tmp), metadata=meta)
            os.replace(tmp, out)
        finally:
            tmp.unlink(missing_ok=True)


def shipped(config: str = "lite") -> Path:
    """The base that ships with the package for `config`."""
    return SHIPPED / f"{config}.safetensors"


def load_base(path: str | Path | None = None, config: str = "lite") -> tuple[dict, dict[str, torch.Tensor]]:
    """(metadata, float32 tensors) of a base file (default: the shipped one for `config`), checked: its
    format, version and model config must match, else one line naming the file and the rebuild command."""
    path = Path(path) if path else shipped(config)
    rebuild = f"rebuild it with `faceswap-core pretrain --config {config} --out {path}`"
    if not path.exists():
        raise FaceswapError(f"{path}: no base here; {rebuild}, or train from scratch (--from-scratch)")
    try:
        with safe_open(str(path), "pt") as f:
            meta = dict(f.metadata() or {})
        tensors = {k: v.float() for k, v in load_file(str(path)).items()}
    except (SafetensorError, OSError, ValueError) as e:
        raise FaceswapError(f"{path}: a damaged base file ({str(e)[:60]}); {rebuild}") from None
    if meta.get("format") != FORMAT or meta.get("version") != str(VERSION):
        raise FaceswapError(f"{path}: not a version-{VERSION} base (format {meta.get('format')!r}, version "
                            f"{meta.get('version')!r}); {rebuild}")
    try:
        shape = ModelConfig.from_dict(json.loads(meta["model_config"]))
    except (KeyError, ValueError, TypeError):
        raise FaceswapError(f"{path}: its model config is damaged; {rebuild}") from None
    if asdict(shape) != asdict(get_config(config)):
        raise FaceswapError(f"{path}: a base of model config {shape.name!r} with other layer sizes, not "
                            f"today's {config!r}; {rebuild}")
    return meta, tensors


def from_base(persons: list[str], config: str = "lite", path: str | Path | None = None) -> FaceSwapModel:
    """A model for `persons` that starts from a base: its encoder, and every decoder a copy of the generic
    one."""
    meta, tensors = load_base(path, config)
    model = FaceSwapModel(get_config(config), persons, coverage=float(meta.get("coverage", model_coverage())))
    try:
        model.encoder.load_state_dict({k[8:]: v for k, v in tensors.items() if k.startswith("encoder.")})
        decoder = {k[8:]: v for k, v in tensors.items() if k.startswith("decoder.")}
        for p in persons:
            model.decoders[p].load_state_dict(decoder)
    except RuntimeError as e:
        raise FaceswapError(f"{path or shipped(config)}: its weights do not fit config {config} "
                            f"({str(e).splitlines()[0][:60]}); rebuild it with faceswap-core pretrain"
                            ) from None
    return model


def model_coverage() -> float:
    from ..faces.align import CORE

    return CORE


def file_hash(path: str | Path) -> str:
    """The SHA-256 of a base file, as docs and tests record it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
