"""Checkpoints: a model's weights and its optimizers' state as safetensors, the rest as JSON, written
atomically; `load_model` reads one back. Taught in chapter 04 (and used by 05, 06, 08).

A model folder holds ``checkpoints/step-NNNNNNN/`` (model.safetensors, optim.safetensors, state.json),
a ``latest`` pointer, ``history.json`` and ``previews/``. A checkpoint is written into a temp folder
named with the writer's pid and renamed into place; the two newest are kept.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import FaceswapError
from ..faces.align import CORE
from ..files import remove_dead_temps, usual_mode, write_atomic, write_json
from .model import FaceSwapModel, ModelConfig

KEEP = 2  # checkpoints kept per model folder


def save(out_dir: str | Path, model: FaceSwapModel, optims: dict[str, torch.optim.Optimizer], state: dict,
         history: list[dict], extra: dict[str, torch.Tensor] | None = None) -> Path:
    """Write a checkpoint of `model` at `state["step"]` (temp folder, then rename) and point `latest` at it;
    `state` holds the JSON-able rest (train config, generator state), `extra` other training tensors (the
    code critic's weights) for extra.safetensors."""
    out = Path(out_dir)
    ckdir = out / "checkpoints"
    ckdir.mkdir(parents=True, exist_ok=True)
    step = int(state["step"])
    final = ckdir / f"step-{step:07d}"
    remove_dead_temps(ckdir, ".step-*.tmp-*")  # a save that was killed (or a full disk) left its temp folder
    tmp = ckdir / f".step-{step:07d}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        # (clone: decoders that share layers, `remedies.share_decoders`, list one tensor under two names)
        save_file({k: v.detach().cpu().clone() for k, v in model.state_dict().items()},
                  str(tmp / "model.safetensors"))
        save_file(_optim_tensors(optims), str(tmp / "optim.safetensors"))
        if extra:
            save_file({k: v.detach().cpu().contiguous() for k, v in extra.items()},
                      str(tmp / "extra.safetensors"))
        full = {"model_config": asdict(model.config), "persons": model.persons, **state,
                "saved": time.strftime("%Y-%m-%dT%H:%M:%S")}
        (tmp / "state.json").write_text(json.dumps(full))
    except SafetensorError as e:  # its I/O errors (a full disk) are not OSErrors: say what and where
        shutil.rmtree(tmp, ignore_errors=True)
        raise FaceswapError(f"{ckdir}: the checkpoint of step {step} could not be written ({e}); free some "
                            "space and resume") from None
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    usual_mode(tmp)
    if final.exists():
        shutil.rmtree(final)
    os.replace(tmp, final)
    write_atomic(out / "latest", final.name)
    write_json(out / "history.json", history)
    for old in checkpoints(out)[:-KEEP]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def checkpoints(out_dir: str | Path) -> list[Path]:
    """The checkpoints of a model folder, oldest first."""
    d = Path(out_dir) / "checkpoints"
    return sorted(p for p in d.iterdir() if p.name.startswith("step-")) if d.exists() else []


def latest(out_dir: str | Path) -> Path:
    """The checkpoint `latest` points at (or the newest one, if the pointer is missing or stale)."""
    out = Path(out_dir)
    pointer = out / "latest"
    named = out / "checkpoints" / pointer.read_text().strip() if pointer.exists() else None
    if named is not None and named.exists():
        return named
    found = checkpoints(out)
    if not found:
        raise FaceswapError(f"{out}: no checkpoint here; "
                            "train a model first (chapter 04 or faceswap-core train)")
    return found[-1]


def load_model(checkpoint: str | Path, with_state: bool = False, expect_config: str | None = None):
    """A trained `FaceSwapModel` from a checkpoint folder (or a model folder: its latest checkpoint); its
    `coverage` is the one it was trained with. With `with_state`, also the checkpoint's JSON state."""
    ck = Path(checkpoint)
    if not ck.exists():
        raise FaceswapError(f"{ck}: no checkpoint here; "
                            "train a model first (chapter 04 or faceswap-core train)")
    if (ck / "checkpoints").exists():
        ck = latest(ck)
    try:
        state = json.loads((ck / "state.json").read_text())
        config = ModelConfig.from_dict(state["model_config"])
    except FileNotFoundError:
        raise FaceswapError(f"{ck}: not a checkpoint (no state.json)") from None
    except (ValueError, KeyError, TypeError) as e:
        raise FaceswapError(f"{ck}/state.json: damaged ({str(e)[:80]}); "
                            "use the previous checkpoint") from None
    if expect_config and config.name != expect_config:
        raise FaceswapError(f"{ck}: a {config.name!r} model, not {expect_config!r}; pick the matching config")
    model = FaceSwapModel(config, state["persons"],
                          coverage=state.get("train_config", {}).get("coverage", CORE))
    tensors = _load_tensors(ck / "model.safetensors")
    try:
        model.load_state_dict(tensors)
    except RuntimeError as e:
        raise FaceswapError(f"{ck}/model.safetensors: does not fit config {config.name} "
                            f"({str(e).splitlines()[0][:80]})") from None
    return (model, state) if with_state else model


def read_step(state: dict, checkpoint: str | Path) -> int:
    """The step a checkpoint's state records, checked (a whole number from 0)."""
    step = state.get("step")
    if not isinstance(step, int) or isinstance(step, bool) or step < 0:
        raise FaceswapError(f"{Path(checkpoint) / 'state.json'}: damaged (step {step!r}); use the previous "
                            "checkpoint")
    return step


def read_history(out_dir: str | Path, step: int) -> list[dict]:
    """The loss history of a model folder up to `step` (empty if there is none), checked."""
    path = Path(out_dir) / "history.json"
    if not path.exists():
        return []
    try:
        history = json.loads(path.read_text())
        return [h for h in history if int(h["step"]) <= step]
    except (ValueError, TypeError, KeyError) as e:
        raise FaceswapError(f"{path}: damaged ({str(e)[:60] or type(e).__name__}); restore it, or move it "
                            "away to resume without the loss history") from None


def load_optimizers(optims: dict[str, torch.optim.Optimizer], checkpoint: str | Path) -> None:
    """Restore the optimizers' state saved in a checkpoint folder."""
    ck = Path(checkpoint)
    tensors = _load_tensors(ck / "optim.safetensors")
    for p, opt in optims.items():
        sd = opt.state_dict()
        state: dict[int, dict] = {}
        for key, v in tensors.items():
            person, i, k = key.rsplit(".", 2)
            if person == p:
                state.setdefault(int(i), {})[k] = v
        params = [q for g in opt.param_groups for q in g["params"]]  # Adam numbers them across its groups
        if state and (len(state) != len(params) or any(
                not 0 <= i < len(params) or ("exp_avg" in st and st["exp_avg"].shape != params[i].shape)
                for i, st in state.items())):
            raise FaceswapError(f"{ck}/optim.safetensors: optimizer state of {p} does not match the model "
                                "(saved by another version or with other settings); resume with the same "
                                "settings, or start a new run from this model")
        sd["state"] = state
        opt.load_state_dict(sd)


def load_extra(checkpoint: str | Path) -> dict[str, torch.Tensor]:
    """The extra training tensors saved with a checkpoint (see `save`)."""
    return _load_tensors(Path(checkpoint) / "extra.safetensors")


def _optim_tensors(optims: dict[str, torch.optim.Optimizer]) -> dict[str, torch.Tensor]:
    out = {}
    for p, opt in optims.items():
        for i, st in opt.state_dict()["state"].items():
            for k, v in st.items():
                out[f"{p}.{i}.{k}"] = ((v if torch.is_tensor(v) else torch.tensor(v))
                                       .detach().cpu().contiguous())
    return out


def _load_tensors(path: Path) -> dict[str, torch.Tensor]:
    try:
        return load_file(str(path))
    except FileNotFoundError:
        raise FaceswapError(f"{path}: missing; this checkpoint is incomplete, use the previous one") from None
    except (SafetensorError, OSError, ValueError) as e:
        raise FaceswapError(f"{path}: damaged checkpoint file ({str(e)[:80]}); the previous checkpoint in "
                            f"{path.parent.parent} is kept: load that one") from None


__all__ = ["checkpoints", "latest", "load_extra", "load_model", "load_optimizers", "read_history",
           "read_step", "save"]
