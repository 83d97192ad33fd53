"""Training throughput and time-to-quality.

Run: .venv/bin/python benchmarks/bench_train.py [--skip-throughput] [--ttq-minutes 15]

1. samples/s of `original` and `lite` at batch 16 and 64 (forward + backward + Adam, warped batches),
   the achieved GFLOP/s (FLOPs counted by torch's FlopCounterMode) next to a plain matmul's GFLOP/s
   measured in the same run: the ratio is the figure.
2. time-to-quality: wall time until a lite model's ines->tomas swap reaches masked SSIM 0.80 against the
   ground truth, with the quick profile's data (150-frame cast clips, truth landmarks, 256 px crops).
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.flop_counter import FlopCounterMode

from faceswap_core import collect, faceset, metrics, model, train


def matmul_gflops(n: int = 2048, reps: int = 10) -> float:
    a, b = torch.rand(n, n), torch.rand(n, n)
    a @ b
    t0 = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n ** 3 * reps / (time.perf_counter() - t0) / 1e9


def flops_per_sample(m: model.FaceSwapModel) -> float:
    x = torch.rand(4, 3, 64, 64)
    with FlopCounterMode(display=False) as fc:
        m(x, m.persons[0]).abs().mean().backward()
    m.zero_grad()
    return fc.get_total_flops() / 4


def throughput(name: str, batch: int, steps: int) -> tuple[float, float]:
    rng = np.random.default_rng(0)
    faces = {p: (rng.integers(0, 255, (batch, 128, 128, 3), dtype=np.uint8), np.full((batch, 128, 128), 255, np.uint8))
             for p in ("a", "b")}
    m = model.FaceSwapModel.create(name, ["a", "b"])
    fl = flops_per_sample(m)
    t = train.Trainer(m, faces, tempfile.mkdtemp(), train.TrainConfig(batch_size=batch), "cpu")
    t.train_step()  # warm-up
    t0 = time.perf_counter()
    for _ in range(steps):
        t.train_step()
    rate = steps * 2 * batch / (time.perf_counter() - t0)
    return rate, fl


def time_to_quality(minutes: float, target: float = 0.80) -> None:
    ws = Path(tempfile.mkdtemp())
    recs = collect.collect_many({"ines": "synthetic:ines", "tomas": "synthetic:tomas"}, ws, frames=150, size=256)
    for p, r in recs.items():
        faceset.extract(r.path(ws, p), p, ws, detector="truth", size=256, progress=False)
    probe_clip = ws / "probe.mp4"
    from faceswap_core import synth
    synth.render_clip(synth.CAST["ines"], 40, probe_clip, size=256, seed=99)  # frames never trained on
    probe = metrics.SwapProbe.from_clip(probe_clip, "tomas", n=16)
    base = probe.baseline()["ssim"]
    ceiling = probe.ceiling()["ssim"]  # a perfect decoder B on A's alignment: the face-shape mismatch remains
    halfway = base + 0.5 * (ceiling - base)
    reached_half = None
    faces = train.load_faces(ws, ["ines", "tomas"])
    m = model.FaceSwapModel.create("lite", ["ines", "tomas"])
    t = train.Trainer(m, faces, ws / "model", train.TrainConfig(batch_size=32, lr=5e-4), "cpu")
    print(f"time-to-quality: lite, batch 32, lr 5e-4; unswapped baseline SSIM {base:.3f}; perfect-decoder "
          f"ceiling {ceiling:.3f}; targets {target} (the issue's) and {halfway:.3f} (half way to the ceiling)")
    t0 = time.perf_counter()
    best = 0.0
    while time.perf_counter() - t0 < minutes * 60:
        for _ in range(50):
            t.train_step()
        s = probe.score(t.model, "tomas")["ssim"]
        best = max(best, s)
        el = time.perf_counter() - t0
        print(f"  step {t.step:5d}  {el / 60:5.1f} min  swap SSIM {s:.3f}", flush=True)
        if reached_half is None and s >= halfway:
            reached_half = el
            print(f"reached half way to the ceiling ({halfway:.3f}) after {el / 60:.1f} min ({t.step} steps)")
        if s >= target:
            print(f"reached SSIM {target} after {el / 60:.1f} min ({t.step} steps)")
            return
    print(f"not reached in {minutes} min: best SSIM {best:.3f} at step {t.step}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--skip-throughput", action="store_true")
    ap.add_argument("--ttq-minutes", type=float, default=15)
    args = ap.parse_args()
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    if not args.skip_throughput:
        mm = matmul_gflops()
        print(f"plain 2048x2048 matmul: {mm:.1f} GFLOP/s")
        for name in ("lite", "original"):
            for batch in (16, 64):
                steps = 6 if name == "lite" else 1
                rate, fl = throughput(name, batch, steps)
                gf = rate * fl / 1e9
                print(f"{name:<8} batch {batch:>2}: {rate:7.1f} samples/s, {fl / 1e9:6.2f} GFLOP/sample, "
                      f"{gf:6.1f} GFLOP/s = {gf / mm:.2f} x matmul", flush=True)
    time_to_quality(args.ttq_minutes)


if __name__ == "__main__":
    main()
