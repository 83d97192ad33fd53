"""Data parallel training under torchrun: joining the process group, and refusing processes that disagree
about what they train. Used by `train.Trainer`; taught in chapter 04."""

from __future__ import annotations

import os
from dataclasses import asdict

import torch

from ..errors import FaceswapError


def current():
    """torch.distributed when this process is part of a process group, else None."""
    return (torch.distributed if torch.distributed.is_available() and torch.distributed.is_initialized()
            else None)


def same_everywhere(dist, model, config, sizes: dict[str, int]) -> None:
    """Refuse a torchrun launch whose processes disagree about what they train (they would hang or mix)."""
    mine = {"persons": list(model.persons), "model": model.config.name, "config": asdict(config),
            "faces": sizes}
    everyone: list[dict] = [{} for _ in range(dist.get_world_size())]
    dist.all_gather_object(everyone, mine)
    for rank, theirs in enumerate(everyone):
        diff = sorted(k for k in mine if theirs[k] != everyone[0][k])
        if diff:
            first, other = ({k: e[k] for k in diff} for e in (everyone[0], theirs))
            raise FaceswapError(f"torchrun processes disagree about {', '.join(diff)} "
                                f"(rank 0: {first}, rank {rank}: {other}): "
                                "start every process with the same arguments and workspace")


def init_distributed() -> bool:
    """Join the process group when started by torchrun (gloo on CPU, nccl on CUDA); False otherwise."""
    if "RANK" not in os.environ or current():
        return current() is not None
    backend = "nccl" if torch.cuda.is_available() else "gloo"
    torch.distributed.init_process_group(backend)
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    return True
