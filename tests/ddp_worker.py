"""Run by tests/test_train.py under torchrun: a few data-parallel steps, then each rank saves its weights."""

import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from faceswap_core import train
from faceswap_core.model import FaceSwapModel


def main(out: str) -> None:
    assert train.init_distributed()
    rank = torch.distributed.get_rank()
    rng = np.random.default_rng(0)
    faces = {p: (rng.integers(0, 255, (16, 96, 96, 3), dtype=np.uint8), np.full((16, 96, 96), 255, np.uint8))
             for p in ("a", "b")}
    model = FaceSwapModel.create("lite", ["a", "b"], seed=rank)  # different starts: rank 0's must win
    t = train.Trainer(model, faces, Path(out) / "model", train.TrainConfig(batch_size=4, lr=1e-3), "cpu")
    for _ in range(3):
        t.train_step()
    save_file({k: v.contiguous() for k, v in t.model.state_dict().items()}, str(Path(out) / f"rank{rank}.safetensors"))
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1])
