"""The invisible watermark (watermark.mark_frame): how visible, how fast, how robust, on cast clips.

Run: .venv/bin/python benchmarks/bench_watermark.py [--frames N] [--size PX] [--hd-frames N] [--votes K]
Per clip: PSNR of marked vs original frames, ms per frame to mark, and bit accuracy of the 32-bit payload
read back (per frame: mean and lowest; voted: soft votes summed over `--votes` frames spread over the clip,
as `verify` does) after: no change; one H.264 encode at CRF 28; that file decoded, resized to half size
and encoded again at CRF 28. "unmarked" is the voted accuracy of the original frames (a fair coin per bit
gives 0.5 +- 0.09); verify calls a mark found at >= watermark.FOUND_ACCURACY. Last, ms/frame at 720p of
marking and reading beside the x264 encode that convert pays anyway.
"""

import argparse
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from faceswap_core import encode, media, synth
from faceswap_core.provenance import watermark


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255 ** 2 / np.mean((a.astype(np.float64) - b) ** 2)))


def reencode(frames, path: Path, size=None) -> np.ndarray:
    if size is not None:
        frames = [cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in frames]
    encode.write_video(path, frames, 25.0, crf=28, overwrite=True)
    return media.read_frames(path)[0]


def accuracy(frames, votes: int) -> tuple[float, float, float]:
    """(mean per frame, lowest per frame, voted over `votes` frames spread over the clip)."""
    reads = [watermark.extract(f) for f in frames]
    per = [watermark.bit_accuracy(r) for r in reads]
    picked = np.linspace(0, len(reads) - 1, min(votes, len(reads))).round().astype(int)
    return float(np.mean(per)), float(np.min(per)), watermark.bit_accuracy(sum(reads[i] for i in picked))


def ms_per_frame(fn, frames, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):  # the best of a few runs: the machine is shared
        t0 = time.perf_counter()
        for f in frames:
            fn(f)
        best = min(best, (time.perf_counter() - t0) / len(frames) * 1000)
    return best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=50)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--hd-frames", type=int, default=25, help="frames of the 720p clip")
    ap.add_argument("--votes", type=int, default=16)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    clips = {f"{p} {s}": synth.render_clip(synth.CAST[p], args.frames, tmp / f"{p}{s}.mp4", size=args.size, seed=s)
             for p, s in (("ines", 3), ("tomas", 5), ("kofi", 7), ("mei", 11), ("ravi", 13))}
    clips["mei 2 (720p)"] = synth.render_clip(synth.CAST["mei"], args.hd_frames, tmp / "hd.mp4", size=(720, 1280),
                                              seed=2)
    print(f"{args.size}px cast clips of {args.frames} frames (and one 720p clip of {args.hd_frames}); payload "
          f"{len(watermark.PAYLOAD)} bits, step {watermark.STEP:g}; bit accuracy as mean/lowest per frame | voted "
          f"over {args.votes} frames")
    print(f"{'clip':<14}{'PSNR dB':>8}{'ms/fr':>7}{'no change':>20}{'CRF 28':>20}{'half + CRF 28':>20}{'unmarked':>10}")
    fmt = lambda a: f"{a[0]:.2f}/{a[1]:.2f} | {a[2]:.2f}"
    voted_half = []
    for label, clip in clips.items():
        frames = media.read_frames(clip)[0]
        h, w = frames.shape[1:3]
        marked = [watermark.mark_frame(f) for f in frames]
        ms = ms_per_frame(watermark.mark_frame, frames[:10], repeat=2)
        crf28 = reencode(marked, tmp / "crf28.mp4")
        half = reencode(crf28, tmp / "half.mp4", (w // 4 * 2, h // 4 * 2))
        a_half = accuracy(half, args.votes)
        voted_half.append(a_half[2])
        print(f"{label:<14}{np.mean([psnr(a, b) for a, b in zip(frames, marked)]):>8.1f}{ms:>7.1f}"
              f"{fmt(accuracy(marked, args.votes)):>20}{fmt(accuracy(crf28, args.votes)):>20}{fmt(a_half):>20}"
              f"{accuracy(frames, args.votes)[2]:>10.2f}")
    print(f"half + CRF 28, voted: lowest {min(voted_half):.2f}; found (>= {watermark.FOUND_ACCURACY}) in "
          f"{sum(v >= watermark.FOUND_ACCURACY for v in voted_half)} of {len(voted_half)} clips")

    hd = media.read_frames(clips["mei 2 (720p)"], max_frames=10)[0]
    mark = ms_per_frame(watermark.mark_frame, hd)
    read = ms_per_frame(watermark.extract, hd)
    t0 = time.perf_counter()
    encode.write_video(tmp / "enc.mp4", hd, 25.0, crf=20, preset="veryfast", overwrite=True)
    enc = (time.perf_counter() - t0) / len(hd) * 1000
    print(f"720p: mark_frame {mark:.1f} ms/frame, extract {read:.1f} ms/frame; x264 veryfast CRF 20 encode "
          f"{enc:.1f} ms/frame (for scale)")


if __name__ == "__main__":
    main()
