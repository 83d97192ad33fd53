"""Run by tests/test_train.py under torchrun (2 gloo processes).

`train OUT`: six data-parallel steps straight, then three steps, a checkpoint, and a resume to six; each rank
saves both final weights and lists what the model folders hold. `disagree OUT`: rank 1 asks for another
batch size, which must stop both processes with a one-line error before any step.
"""

import json
import sys
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import save_file

from faceswap_core.errors import FaceswapError
from faceswap_core.training import recipe, train
from faceswap_core.training.model import FaceSwapModel


def faces():
    rng = np.random.default_rng(0)
    return {p: (rng.integers(0, 255, (16, 96, 96, 3), dtype=np.uint8), np.full((16, 96, 96), 255, np.uint8))
            for p in ("a", "b")}


def weights(t: train.Trainer) -> dict:
    return {k: v.detach().contiguous() for k, v in t.model.state_dict().items()}


def main(mode: str, out: str) -> None:
    assert train.init_distributed()
    rank, out = torch.distributed.get_rank(), Path(out)
    cfg = recipe.TrainConfig(batch_size=4, lr=1e-3, masked=True, ssim_weight=0.5, clip_grad=1.0, preview_every=2)
    if mode == "disagree":
        cfg = recipe.TrainConfig(batch_size=4 if rank == 0 else 8)
        try:
            train.Trainer(FaceSwapModel.create("lite", ["a", "b"]), faces(), out / "m", cfg, "cpu")
        except FaceswapError as e:
            print(f"rank {rank}: {e}", file=sys.stderr)
            sys.exit(3)
        sys.exit(0)
    straight = train.Trainer(FaceSwapModel.create("lite", ["a", "b"], seed=rank), faces(), out / "straight", cfg,
                             "cpu")  # different starts on purpose: DDP must give every replica rank 0's weights
    straight.train(6, progress=False)
    first = train.Trainer(FaceSwapModel.create("lite", ["a", "b"], seed=rank), faces(), out / "resumed", cfg, "cpu")
    first.train(3, progress=False)  # writes a checkpoint at step 3 (rank 0 only)
    torch.distributed.barrier()
    resumed = train.Trainer.resume(out / "resumed", faces(), device="cpu")
    resumed.train(6, progress=False)
    save_file(weights(straight), str(out / f"straight{rank}.safetensors"))
    save_file(weights(resumed), str(out / f"resumed{rank}.safetensors"))
    (out / f"losses{rank}.json").write_text(json.dumps([[h["a"], h["b"]] for h in straight.history]))
    torch.distributed.destroy_process_group()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
