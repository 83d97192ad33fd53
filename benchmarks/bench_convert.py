"""Conversion speed: the pipelined, batched `convert_video` against a naive loop written here (one frame at a
time: decode, detect, swap a batch of one, blend, encode), same model, detector and options, in one run.

    .venv/bin/python benchmarks/bench_convert.py [--frames 150] [--height 720] [--detector truth|cascade|dlib]
                                                 [--detect-every N] [--compare-every N]

With --compare-every N the pipelined conversion also runs detecting on every Nth frame only (boxes moved
in between; dlib's landmarks still placed on every frame), side by side with the every-frame path.

Prints frames/s of both, their ratio, and where the time goes. The model is a freshly initialised `lite`
(or `--model DIR`): speed does not depend on the weights. The cast clip is rendered once and cached.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from faceswap_core import encode, media, synth
from faceswap_core.faces import detect
from faceswap_core.provenance import labelling
from faceswap_core.swapping import convert, options, swap
from faceswap_core.training.model import FaceSwapModel


def naive(source: Path, output: Path, swapper: swap.Swapper, fps: float) -> tuple[int, dict[str, float]]:
    """The reference: every stage for one frame before the next frame starts; the model sees one face."""
    spent = dict.fromkeys(("decode", "detect+align", "model", "blend+label", "encode"), 0.0)
    n = 0
    track = swapper.start()  # detections of this video (when detecting every Nth frame)
    with encode.VideoWriter(output, fps, audio_from=source, overwrite=True, metadata=labelling.PROVENANCE) as w:
        frames = media.iter_frames(source)
        while True:
            t0 = time.perf_counter()
            item = next(frames, None)
            if item is None:
                break
            t, frame = item
            t1 = time.perf_counter()
            faces = swapper.find([frame], [int(round(t * fps))], track)[0]
            aligned = [swapper.align(frame, f) for f in faces]
            t2 = time.perf_counter()
            decoded = [swapper.decode(a.crop[None])[0] for a in aligned]  # the model sees one face at a time
            t3 = time.perf_counter()
            out = frame.copy()
            for a, d in zip(aligned, decoded):
                swapper.blend(out, a, d)
            labelling.label_frame(out)
            t4 = time.perf_counter()
            w.write(out)
            t5 = time.perf_counter()
            for k, dt in zip(spent, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4)):
                spent[k] += dt
            n += 1
    return n, spent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=150)
    ap.add_argument("--height", type=int, default=720)
    ap.add_argument("--detector", default="truth", choices=["truth", "cascade", "dlib"])
    ap.add_argument("--model", help="a trained model folder (default: a fresh lite model)")
    ap.add_argument("--detect-every", type=int, default=1, help="detect on every Nth frame (both loops)")
    ap.add_argument("--compare-every", type=int, default=0,
                    help="also time the pipeline detecting on every Nth frame only (side by side)")
    ap.add_argument("--chunk", type=int, default=16, help="frames per model batch in the pipeline")
    ap.add_argument("--repeats", type=int, default=2, help="runs of each; the best is reported")
    ap.add_argument("--cache", default=str(Path(tempfile.gettempdir()) / "faceswap-bench"))
    args = ap.parse_args()

    h = args.height
    w = int(round(h * 16 / 9 / 2)) * 2
    cache = Path(args.cache)
    clip = cache / f"ines_{args.frames}f_{w}x{h}.mp4"
    if not clip.exists():
        t0 = time.perf_counter()
        synth.render_clip(synth.CAST["ines"], args.frames, clip, size=(h, w), seed=5, progress=True)
        print(f"rendered {clip.name} in {time.perf_counter() - t0:.0f} s")
    model = args.model or FaceSwapModel.create("lite", ["ines", "tomas"], seed=0)
    det = detect.get_detector(args.detector, clip=clip)
    opts = options.SwapOptions(color="lab", detect_every=args.detect_every)
    swapper = swap.Swapper(model, "tomas", det, options=opts)
    info = media.video_info(clip)
    print(f"clip {info.width}x{info.height}, {info.frames} frames; detector {det.name} every "
          f"{args.detect_every} frame(s); "
          f"torch threads {torch.get_num_threads()}")

    best_naive, best_pipe = None, None
    for r in range(args.repeats):
        t0 = time.perf_counter()
        n, spent = naive(clip, cache / "naive.mp4", swapper, info.fps)
        dt = time.perf_counter() - t0
        if best_naive is None or dt < best_naive[0]:
            best_naive = (dt, n, spent)
        t0 = time.perf_counter()
        s = convert.convert_video(clip, cache / "pipelined.mp4", swapper, overwrite=True, progress=False,
                                  chunk=args.chunk)
        dt = time.perf_counter() - t0
        if best_pipe is None or dt < best_pipe[0]:
            best_pipe = (dt, s)
        print(f"run {r + 1}: naive {n / best_naive[0]:.1f} frames/s, pipelined {s.frames / dt:.1f} frames/s")
    dt_n, n, spent = best_naive
    dt_p, s = best_pipe
    fps_n, fps_p = n / dt_n, s.frames / dt_p
    print(f"\nnaive loop:  {fps_n:6.1f} frames/s  ({1000 / fps_n:.1f} ms/frame)")
    print("  per frame: " + ", ".join(f"{k} {1000 * v / n:.1f} ms" for k, v in spent.items()))
    print(f"pipelined:   {fps_p:6.1f} frames/s  ({1000 / fps_p:.1f} ms/frame), chunk {args.chunk}")
    print("  busy per frame: " + ", ".join(f"{k} {1000 * v / s.frames:.1f} ms" for k, v in s.stage_seconds.items()))
    print(f"ratio pipelined / naive: {fps_p / fps_n:.2f}x")
    a, _ = media.read_frames(cache / "naive.mp4", max_frames=10)
    b, _ = media.read_frames(cache / "pipelined.mp4", max_frames=10)
    print(f"same output: mean |naive - pipelined| over 10 frames = {np.abs(a.astype(int) - b).mean():.3f} (0-255)")
    if args.compare_every > 1:
        sparse = swap.Swapper(model, "tomas", det, options=options.SwapOptions(color="lab",
                                                                            detect_every=args.compare_every))
        best = None
        for _ in range(args.repeats):
            t0 = time.perf_counter()
            s2 = convert.convert_video(clip, cache / "sparse.mp4", sparse, overwrite=True, progress=False,
                                       chunk=args.chunk)
            best = min(best or 1e9, time.perf_counter() - t0)
        fps_s = s2.frames / best
        print(f"\npipelined, detecting every {args.compare_every}th frame: {fps_s:6.1f} frames/s "
              f"({fps_s / fps_p:.2f}x the every-frame pipeline)")
        busy = ", ".join(f"{k} {1000 * v / s2.frames:.1f} ms" for k, v in s2.stage_seconds.items())
        print(f"  busy per frame: {busy}")
        c, _ = media.read_frames(cache / "sparse.mp4")
        d, _ = media.read_frames(cache / "pipelined.mp4")
        print(f"  mean |sparse - every-frame| over {len(c)} frames = {np.abs(c.astype(int) - d).mean():.3f} (0-255)")


if __name__ == "__main__":
    main()
