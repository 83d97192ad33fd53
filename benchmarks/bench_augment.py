"""Batched random warp (torch grid_sample) against a per-image OpenCV remap reference, same parameters.

Run: .venv/bin/python benchmarks/bench_augment.py [--batch 64] [--reps 20]
The reference below is written here only for comparison: the classic recipe, one image at a time
(5x5 control grid, bicubic-resized maps with a margin, cv2.remap), fed the same jitter.
"""

import argparse
import time

import cv2
import numpy as np
import torch

from faceswap_core.training import augment


def reference_warp(img: np.ndarray, offsets: np.ndarray, size: int = 64, coverage: float = 0.625) -> tuple:
    """One HxWx3 float32 image; offsets (2, 5, 5) in normalised units, as augment.random_warp takes them."""
    h = img.shape[0]
    margin = size // 8
    full = np.stack([cv2.resize(o, (size + 2 * margin,) * 2, interpolation=cv2.INTER_CUBIC) for o in offsets])
    field = full[:, margin:margin + size, margin:margin + size]
    lin = np.linspace(-coverage, coverage, size) * (size - 1) / size
    gx, gy = np.meshgrid(lin, lin)
    to_px = lambda g: ((g + 1) * h - 1) / 2  # noqa: E731  (align_corners=False convention)
    map_x, map_y = to_px(gx + field[0]).astype(np.float32), to_px(gy + field[1]).astype(np.float32)
    warped = cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    target = cv2.remap(img, to_px(gx).astype(np.float32), to_px(gy).astype(np.float32), cv2.INTER_LINEAR,
                       borderMode=cv2.BORDER_REPLICATE)
    return warped, target


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--reps", type=int, default=20)
    ap.add_argument("--size", type=int, default=128, help="crop size fed to the warp")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    # smooth random images (noise would turn any sub-pixel difference into a large one)
    small = rng.random((args.batch, 8, 8, 3), dtype=np.float32)
    imgs = np.stack([cv2.resize(s, (args.size, args.size), interpolation=cv2.INTER_CUBIC) for s in small])
    batch = torch.from_numpy(imgs).permute(0, 3, 1, 2).contiguous()
    gen = torch.Generator().manual_seed(0)
    offsets = augment.warp_offsets(args.batch, gen)

    # agreement first: both implementations, same offsets
    w_t, _ = augment.random_warp(batch, gen, offsets=offsets)
    w_r = np.stack([reference_warp(imgs[i], offsets[i].numpy())[0] for i in range(args.batch)])
    diff = np.abs(w_t.permute(0, 2, 3, 1).numpy() - w_r).mean()

    augment.random_warp(batch, gen, offsets=offsets)
    t0 = time.perf_counter()
    for _ in range(args.reps):
        augment.random_warp(batch, gen, offsets=offsets)
    batched = args.reps * args.batch / (time.perf_counter() - t0)
    t0 = time.perf_counter()
    for _ in range(args.reps):
        for i in range(args.batch):
            reference_warp(imgs[i], offsets[i].numpy())
    per_image = args.reps * args.batch / (time.perf_counter() - t0)
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {args.batch}, crop {args.size} px")
    print(f"mean |batched - reference| = {diff:.4f} on smooth images (same jitter; the bicubic kernels of "
          "torch and OpenCV differ slightly)")
    print(f"batched grid_sample : {batched:9.0f} images/s")
    print(f"per-image cv2.remap : {per_image:9.0f} images/s")
    print(f"ratio               : {batched / per_image:9.2f}x")


if __name__ == "__main__":
    main()
