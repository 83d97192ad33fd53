"""Data-parallel training throughput: 1 process vs 2 under torchrun (DistributedDataParallel, gloo), and the
per-step communication time.

Run: .venv/bin/python benchmarks/bench_ddp.py [--steps 30] [--batch-size 32] [--config lite]

Each launch trains `--steps` steps of the given config on random 128 px faces (batch per process), after a
warm-up of 3 steps, and prints the global samples/s. With 2 processes the machine's cores are split
between them (OMP_NUM_THREADS = cores / processes), so on a 2-core machine the figure shows what data
parallelism costs on one box; across machines it is what you gain. The communication figure is the time
of the all-reduces one step needs (the encoder and one decoder, once per person), measured alone on the
same process group, next to the step time.
"""

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch


def worker(args) -> None:
    from faceswap_core.training import model, recipe, train

    dist = train.init_distributed()
    rank = torch.distributed.get_rank() if dist else 0
    world = torch.distributed.get_world_size() if dist else 1
    rng = np.random.default_rng(rank)
    faces = {p: (rng.integers(0, 255, (64, 128, 128, 3), dtype=np.uint8), np.full((64, 128, 128), 255, np.uint8))
             for p in ("a", "b")}
    m = model.FaceSwapModel.create(args.config, ["a", "b"])
    cfg = recipe.TrainConfig(batch_size=args.batch_size, lr=1e-3, masked=True, ssim_weight=0.5, clip_grad=1.0)
    t = train.Trainer(m, faces, tempfile.mkdtemp(), cfg, "cpu")
    for _ in range(3):
        t.train_step()
    if dist:
        torch.distributed.barrier()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        t.train_step()
    if dist:
        torch.distributed.barrier()
    elapsed = time.perf_counter() - t0
    comm = 0.0
    if dist and world > 1:  # what one step sends: the encoder's and a decoder's gradients, once per person
        n = model.parameter_count(m.encoder) + model.parameter_count(m.decoders["a"])
        grads = torch.zeros(n)
        torch.distributed.all_reduce(grads)
        c0 = time.perf_counter()
        for _ in range(5):
            for _ in m.persons:
                torch.distributed.all_reduce(grads)
        comm = (time.perf_counter() - c0) / 5
    if rank == 0:
        rate = args.steps * 2 * args.batch_size * world / elapsed
        step_ms = 1000 * elapsed / args.steps
        extra = (f", all-reduce of {n * 4 / 1e6:.1f} MB x {len(m.persons)} per step: {1000 * comm:.0f} ms "
                 f"({comm * 1000 / step_ms:.0%} of the step)") if dist and world > 1 else ""
        print(f"RESULT {world} process(es), {torch.get_num_threads()} thread(s) each: {rate:.1f} samples/s, "
              f"{step_ms:.0f} ms/step{extra}", flush=True)
    if dist:
        torch.distributed.destroy_process_group()


def launch(n: int, args) -> None:
    cores = os.cpu_count() or 1
    env = {**os.environ, "OMP_NUM_THREADS": str(max(1, cores // n)), "BENCH_DDP_WORKER": "1"}
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(n), "--master_addr", "127.0.0.1",
           "--master_port", str(port), __file__, *sys.argv[1:]]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("RESULT")]
    print(lines[0] if lines else f"{n} processes failed:\n{out.stderr[-2000:]}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--config", default="lite")
    args = ap.parse_args()
    if os.environ.get("BENCH_DDP_WORKER"):
        return worker(args)
    print(f"torch {torch.__version__}, {os.cpu_count()} cores, {args.config}, batch {args.batch_size} per process")
    for n in (1, 2):
        launch(n, args)


if __name__ == "__main__":
    main()
