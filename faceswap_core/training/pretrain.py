"""A pretrained base: the shared encoder and one generic decoder trained on many made-up people, so that a
pair's model starts from an encoder that already reads faces and decoders that already draw them
(DeepFaceLab's pretrain mode). Taught in chapter 08; `faceswap-core pretrain` builds one
(`evaluation.pretraining.build_base` renders the people, then `pretrain` trains).

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
from ..faces.align import CORE
from ..files import lock, usual_mode, write_json
from .model import FaceSwapModel, ModelConfig, get_config
from .recipe import BASE_RECIPE, FIRST_SEED, recipe

FORMAT = "faceswap-lab base"
VERSION = 1
SHIPPED = Path(__file__).resolve().parent.parent / "bases"  # the shipped bases: bases/<config>.safetensors
GENERIC = "generic"  # the name of the pretraining's one decoder


def people(count: int, first: int = FIRST_SEED) -> list[str]:
    """The made-up people a base is trained on: seed<first> ... seed<first + count - 1>."""
    names = [f"seed{first + i}" for i in range(count)]
    check_people(names)
    return names


def rebuild_command(config: str, count: int, frames: int, steps: int, seed: int) -> str:
    return (f"faceswap-core pretrain --config {config} --people {count} --frames {frames} --steps {steps} "
            f"--seed {seed}")


def pretrain(out: str | Path, faces: dict[str, tuple[np.ndarray, np.ndarray]], config: str = "lite",
             steps: int = BASE_RECIPE["steps"], seed: int = BASE_RECIPE["seed"], frames: int = 0,
             progress: bool = True, device: str | None = None) -> Path:
    """Train a base on the faces of made-up people ({seed<N>: training arrays}, `evaluation.pretraining`
    renders them) for `steps` steps of the kept recipe, one generic decoder for all; write it to `out` (a
    .safetensors file; temp file, then rename) with a JSON record beside it. Seeded: the same arguments give
    the same base on the same machine."""
    from .train import Trainer

    out = Path(out)
    names = list(faces)
    check_people(names)
    if steps < 1:
        raise FaceswapError(f"steps {steps}: give --steps 1 or more")
    shape = get_config(config)
    settings = recipe(config, steps, seed=seed)
    pooled = (np.concatenate([faces[p][0] for p in names]), np.concatenate([faces[p][1] for p in names]))
    if len(pooled[0]) < settings.batch_size:
        raise FaceswapError(f"{len(names)} people with {len(pooled[0])} faces in all, fewer than a batch "
                            f"({settings.batch_size}): give more people or frames")
    writable(out)
    started = time.time()
    with tempfile.TemporaryDirectory(prefix="pretrain-") as tmp:
        model = FaceSwapModel.create(shape, [GENERIC], seed=seed)
        trainer = Trainer(model, {GENERIC: pooled}, Path(tmp) / "model", settings, device)
        trainer.train(steps, progress=progress)
        losses = [h[GENERIC] for h in trainer.history[-50:]]
    return finish(model, out, config, names, frames, steps, seed, losses, started)


def finish(model: FaceSwapModel, out: Path, config: str, names: list[str], frames: int, steps: int, seed: int,
           losses: list[float], started: float, command_tail: str = "", **extra: str) -> Path:
    """Save a trained base to `out` with its metadata (how it was made; `extra` keys on top) and write its
    JSON record beside it."""
    meta = {"format": FORMAT, "version": str(VERSION), "model_config": model.config.to_json(), **extra,
            "people": json.dumps(names), "frames": str(frames), "steps": str(steps), "seed": str(seed),
            "final_loss": f"{float(np.mean(losses)):.4f}", "minutes": f"{(time.time() - started) / 60:.1f}",
            "command": rebuild_command(config, len(names), frames, steps, seed) + command_tail,
            "coverage": str(model.coverage)}
    save_base(model, out, meta)
    write_json(out.with_suffix(".json"), record(out), indent=1)
    return out


def check_people(names: list[str]) -> None:
    """A base is trained on seed<N> people (N >= FIRST_SEED) only, never the named cast, at least 2."""
    if len(names) < 2:
        raise FaceswapError(f"--people {len(names)}: a base needs at least 2 people (16 or more is usual)")
    wrong = [n for n in names if not (n.startswith("seed") and n[4:].isdigit() and int(n[4:]) >= FIRST_SEED)]
    if wrong:
        raise FaceswapError(f"{', '.join(wrong)}: a base is trained on seed<N> people with N >= {FIRST_SEED} "
                            "only, never the named cast nor a pair the docs measure")


def writable(out: Path) -> None:
    """Refuse, in one line, a name or place the base cannot be written to (before any training time is
    spent)."""
    if out.suffix != ".safetensors":
        raise FaceswapError(f"{out}: a base is a .safetensors file; give a name ending in .safetensors")
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        tempfile.NamedTemporaryFile(dir=out.parent, prefix=".write-test-").close()
    except OSError as e:
        raise FaceswapError(f"{out.parent}: cannot write the base there ({e.strerror}); "
                            "choose another --out") from None


def record(path: Path) -> dict:
    """What a base's JSON record (beside it) says: its hash and size, and how it was made."""
    meta = load_base(path, json.loads(_metadata(path)["model_config"])["name"])[0]
    return {"file": path.name, "sha256": file_hash(path), "bytes": path.stat().st_size,
            **{k: meta[k] for k in ("command", "minutes", "final_loss", "steps", "frames", "seed")},
            "people": json.loads(meta["people"])}


def _metadata(path: Path) -> dict:
    with safe_open(str(path), "pt") as f:
        return dict(f.metadata() or {})


def save_base(model: FaceSwapModel, out: Path, meta: dict[str, str]) -> None:
    """The encoder and the generic decoder as float16, with `meta`, written atomically to `out`."""
    tensors = {f"encoder.{k}": v for k, v in model.encoder.state_dict().items()}
    tensors.update({f"decoder.{k}": v for k, v in model.decoders[GENERIC].state_dict().items()})
    tensors = {k: v.detach().to("cpu", torch.float16).contiguous() for k, v in tensors.items()}
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    with lock(out.parent, f"the base {out.name}"):
        try:
            save_file(tensors, str(tmp), metadata=meta)
            usual_mode(tmp)  # (safetensors writes it private to its owner)
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
        meta = _metadata(path)
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
    if {**asdict(shape), "identity_dim": 0, "identity_film": 0} != asdict(get_config(config)):
        raise FaceswapError(f"{path}: a base of model config {shape.name!r} with other layer sizes, not "
                            f"today's {config!r}; {rebuild}")
    return meta, tensors


def from_base(persons: list[str], config: str = "lite", path: str | Path | None = None) -> FaceSwapModel:
    """A model for `persons` that starts from a base: its encoder, and every decoder a copy of the generic
    one."""
    meta, tensors = load_base(path, config)
    shape = ModelConfig.from_dict(json.loads(meta["model_config"]))  # the base's (maybe identity-conditioned)
    model = FaceSwapModel(shape, persons, coverage=float(meta.get("coverage", CORE)))
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


def file_hash(path: str | Path) -> str:
    """The SHA-256 of a base file, as docs and tests record it."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
