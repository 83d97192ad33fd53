"""Extraction speed on a 720p cast clip, per detector backend (truth, cascade, dlib, fan), and alignment+crop speed.

Run: .venv/bin/python benchmarks/bench_extract.py [--frames N]
FAN runs only where its weights are in torch's hub cache; with --fan-random-weights it times the same
networks with random weights placed in a temporary cache (speed only: the landmarks are meaningless).
"""

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--fan-random-weights", action="store_true")
    ap.add_argument("--fan-frames", type=int, default=4, help="frames timed for fan (slow on CPU)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    if args.fan_random_weights:
        os.environ["TORCH_HOME"] = str(tmp / "torch")
    import torch

    from faceswap_core import media, synth
    from faceswap_core.faces import align, cascade, detect, dlibface, fan

    if args.fan_random_weights:
        from face_alignment.detection.sfd.net_s3fd import s3fd
        from face_alignment.models import FAN

        ckpt = fan.hub_checkpoints()
        ckpt.mkdir(parents=True)
        torch.save(FAN(4).state_dict(), ckpt / fan.FAN_FILES[0])
        torch.save(s3fd().state_dict(), ckpt / fan.FAN_FILES[1])

    clip = tmp / "cast720.mp4"
    t0 = time.perf_counter()
    synth.render_clip(synth.CAST["ines"], args.frames, clip, size=(720, 1280), seed=2)
    print(f"rendered a {args.frames}-frame 1280x720 cast clip in {time.perf_counter() - t0:.1f} s "
          f"(torch threads {torch.get_num_threads()})")

    t0 = time.perf_counter()
    frames, _ = media.read_frames(clip)
    decode = len(frames) / (time.perf_counter() - t0)
    print(f"decode only            : {decode:7.1f} frames/s")

    backends = {"truth": detect.TruthDetector(clip), "cascade": cascade.CascadeDetector(),
                "dlib": dlibface.DlibDetector()}
    try:
        backends["fan"] = fan.FanDetector()
    except Exception as e:
        print(f"fan: skipped ({str(e)[:100]}...)")
    marks = None
    for name, det in backends.items():
        n = len(frames) if name != "fan" else min(len(frames), args.fan_frames)
        t0 = time.perf_counter()
        found = det.detect_batch(list(frames[:n]), list(range(n)))
        rate = n / (time.perf_counter() - t0)
        hit = sum(bool(f) for f in found)
        note = " (random weights: speed only)" if name == "fan" and args.fan_random_weights else ""
        print(f"detect {name:<16}: {rate:7.2f} frames/s, faces in {hit}/{n} frames{note}", flush=True)
        if name == "fan":
            t0 = time.perf_counter()
            boxes = det.boxes(list(frames[:n]))
            t1 = time.perf_counter()
            det.landmarks_in(frames[0], [np.array([500, 200, 780, 520])])
            t2 = time.perf_counter()
            print(f"  fan split: S3FD {n / (t1 - t0):.2f} frames/s, FAN landmarks {1 / (t2 - t1):.2f} faces/s "
                  f"({sum(len(b) for b in boxes)} boxes)", flush=True)
        if name == "truth":
            marks = [f[0].landmarks for f in found]

    t0 = time.perf_counter()
    for f, m in zip(frames, marks):
        crop, mat = align.align_face(f, m, 256)
        align.face_mask(align.transform_points(m, mat), crop.shape)
    print(f"align + crop + mask    : {len(frames) / (time.perf_counter() - t0):7.1f} faces/s (256 px crops)")
    t0 = time.perf_counter()
    for f, m in zip(frames, marks):
        align.head_pose(m, f.shape)
    print(f"head pose (solvePnP)   : {len(frames) / (time.perf_counter() - t0):7.1f} faces/s")


if __name__ == "__main__":
    main()
