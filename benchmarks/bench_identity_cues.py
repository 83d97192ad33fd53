"""What the judge names a person by: the classic ceiling (B's true face core pasted into A's frames) with one of
B's features at a time replaced by A's, each scored by the face recogniser (dlib's ResNet; the suite's judge).

A feature whose loss drops the share recognised as B is one a swap must draw for the judge to call it B.
Measured on the cast's truth, no model involved. Usage:

    .venv/bin/python benchmarks/bench_identity_cues.py [--pair ines tomas]
"""

from __future__ import annotations

import argparse
import dataclasses
import tempfile
import time
from pathlib import Path

from faceswap_core import collect, synth
from faceswap_core.evaluation import recognition, truth_probe
from faceswap_core.faces import extraction, identity

FEATURES = {  # a feature of a person: the Identity fields that draw it
    "brows": ("brow_thick", "brow_arch", "brow_gap"),
    "nose": ("nose_len", "nose_w", "nose_depth"),
    "eye shape and spacing": ("eye_sep", "eye_w", "eye_h"),
    "iris colour": ("iris",),
    "skin colour": ("skin",),
    "hair colour (also the brows')": ("hair",),
    "beard": ("beard",),
    "mouth width": ("mouth_w",),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pair", nargs=2, default=["ines", "tomas"], metavar=("A", "B"))
    args = ap.parse_args()
    a, b = args.pair
    t0 = time.perf_counter()
    ws = Path(tempfile.mkdtemp())
    recs = collect.collect_many({a: f"synthetic:{a}", b: f"synthetic:{b}"}, ws, frames=150, size=256, seed=0)
    for p, r in recs.items():
        extraction.extract(r.path(ws, p), p, ws, detector="truth", size=256, progress=False)
    clip = truth_probe.sweep_clip(ws, a, frames=24, seed=99)  # A turning through the whole sweep
    judge = recognition.RecognitionProbe.from_clip(clip, b, identity.person_means(ws, a, b), n=24)
    truth = synth.load_truth(clip)
    pa, pb = synth.get_identity(a), synth.get_identity(b)

    def row(label: str, verdict: dict) -> None:
        print(f"  {label:38s} recognised as {b} {verdict['recognised_as_target']:4.0%}   distance to {a} "
              f"{verdict['to_source']:.3f}, to {b} {verdict['to_target']:.3f}", flush=True)

    print(f"{a} -> {b}: 24 frames of {a} turning; {b}'s true face core pasted in, one feature at a time {a}'s")
    row("doing nothing", judge.nothing())
    row(f"the classic ceiling ({b}'s true core)", judge.ceiling())
    for name, fields in FEATURES.items():
        who = dataclasses.replace(pb, **{f: getattr(pa, f) for f in fields})
        frames = [recognition.ceiling_frame(judge.frames[k], judge.landmarks[k],
                                            synth.swap_truth(who, truth, int(i)).frame)
                  for k, i in enumerate(judge.indices)]
        row(f"... with {a}'s {name}", judge.verdict(frames))
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
