"""Frames per second of the synthetic cast renderer at several sizes (and of a whole clip with encoding).

Run: .venv/bin/python benchmarks/bench_synth.py [--frames N]
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch

from faceswap_core import synth


def fps_of(size, conditions, identity) -> float:
    synth.render(identity, conditions[0], size)  # warm caches
    t0 = time.perf_counter()
    for c in conditions:
        synth.render(identity, c, size)
    return len(conditions) / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=150)
    args = ap.parse_args()
    conditions = synth.random_motion(args.frames, seed=1)
    print(f"threads: torch {torch.get_num_threads()} (numpy renderer), frames per size: {args.frames}")
    for size in (128, 256, 512, (720, 1280)):
        rates = [fps_of(size, conditions, synth.CAST[n]) for n in ("ines", "tomas", "kofi")]
        label = f"{size}x{size}" if isinstance(size, int) else f"{size[1]}x{size[0]}"
        print(f"render {label:>9}: {sum(rates) / len(rates):7.1f} frames/s "
              f"(ines {rates[0]:.0f}, tomas {rates[1]:.0f}, kofi {rates[2]:.0f})")
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        synth.render_clip(synth.CAST["ines"], args.frames, Path(tmp) / "c.mp4", size=256, seed=1)
        dt = time.perf_counter() - t0
    print(f"render_clip 256x256 with H.264 + AAC: {args.frames / dt:7.1f} frames/s")


if __name__ == "__main__":
    main()
