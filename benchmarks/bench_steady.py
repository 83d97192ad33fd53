"""Steady landmarks on cast clips: jitter, lag and NME of a simulated noisy detector, without and with the
filter, on talking/turning clips of several people and seeds and on a fast head turn; and its speed.

Run: .venv/bin/python benchmarks/bench_steady.py [--frames N] [--size PX] [--seeds K] [--noise F] [--shake F]
The detector is the clip's truth plus Gaussian noise of `--noise` face sizes per point and a shift of
`--shake` per frame (steady.simulate_detector). Jitter is the frame-to-frame motion beyond the truth's own,
in face sizes; NME is over the eye distance; lag is the delay (frames) that best aligns the steadied
landmarks with the truth during the fastest frames; "exact" is the truth itself steadied.
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from faceswap_core import media, synth
from faceswap_core.evaluation import truth_scores
from faceswap_core.faces import align, detect, steady
from faceswap_core.swapping import convert, options, swap

COLUMNS = ("jitter_raw", "jitter_steady", "jitter_ratio", "lag_frames", "nme_raw", "nme_steady", "nme_exact",
           "turn_nme_raw", "turn_nme_steady")
HEADERS = ("jit raw", "jit steady", "ratio", "lag fr", "nme raw", "nme steady", "nme exact", "turn raw", "turn steady")


def row(label: str, m: dict) -> str:
    return f"{label:<16}" + "".join(f"{m[k]:>12.4f}" for k in COLUMNS)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--size", type=int, default=160)
    ap.add_argument("--seeds", type=int, default=3, help="noise seeds per clip")
    ap.add_argument("--noise", type=float, default=steady.NOISE)
    ap.add_argument("--shake", type=float, default=steady.SHAKE)
    ap.add_argument("--model", help="a trained ines-tomas model folder for the flicker figure (default: a fresh "
                                    "lite model, whose flat output makes the figure meaningless)")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    clips = {f"{p} seed {s}": synth.render_clip(synth.CAST[p], args.frames, tmp / f"{p}{s}.mp4", size=args.size, seed=s)
             for p, s in (("ines", 3), ("tomas", 5), ("kofi", 7), ("mei", 11))}
    clips["ravi fast turn"] = synth.render_clip(synth.CAST["ravi"], 45, tmp / "turn.mp4", size=args.size,
                                                conditions=steady.head_turn(45))
    print(f"{args.size}px cast clips at 25 fps, detector noise {args.noise} + shake {args.shake} of the face size, "
          f"{args.seeds} noise seeds each (mean shown)")
    print(f"{'clip':<16}" + "".join(f"{h:>12}" for h in HEADERS))
    everything = []
    for label, clip in clips.items():
        truth = synth.load_truth(clip)
        ms = [steady.measure(truth, seed=s, noise=args.noise, shake=args.shake) for s in range(args.seeds)]
        everything += ms
        print(row(label, {k: float(np.mean([m[k] for m in ms])) for k in COLUMNS}))
    print(row("all (mean)", {k: float(np.mean([m[k] for m in everything])) for k in COLUMNS}))
    print(row("all (highest)", {k: float(np.max([m[k] for m in everything])) for k in COLUMNS}))

    truth = synth.load_truth(clips["ines seed 3"])
    marks = steady.simulate_detector(truth.landmarks, args.noise, args.shake)
    t0 = time.perf_counter()
    steady.steady_points(marks)
    per_face = (time.perf_counter() - t0) / len(marks)
    print(f"speed: {per_face * 1e6:.0f} us per face per frame (numpy, one thread)")
    converted_flicker(clips["ines seed 3"], tmp, args)


class NoisyTruth(detect.Detector):
    """The clip's truth with simulated detector noise: what `convert` sees from a real detector."""

    name = "truth+noise"

    def __init__(self, clip: Path, noise: float, shake: float):
        self.marks = steady.simulate_detector(synth.load_truth(clip).landmarks[:, :, :2], noise, shake)

    def detect(self, frame: np.ndarray, index: int | None = None) -> list[detect.Face]:
        m = self.marks[index].astype(np.float32)
        return [detect.Face(np.r_[m.min(0), m.max(0)], m, 1.0, self.name)]


def converted_flicker(clip: Path, tmp: Path, args) -> None:
    """Flicker of the converted face region (frame-to-frame change beyond the source's own), steadied or not."""
    from faceswap_core.training.model import FaceSwapModel

    model = args.model or FaceSwapModel.create("lite", ["ines", "tomas"], seed=0)
    truth = synth.load_truth(clip)
    right = np.stack([synth.swap_truth(synth.CAST["tomas"], truth, i).frame for i in range(len(truth.landmarks))])
    masks = np.stack([align.face_mask(m, right.shape[1:3]) > 0 for m in truth.landmarks])
    out = {}
    for on in (False, True):
        sw = swap.Swapper(model, "tomas", NoisyTruth(clip, args.noise, args.shake),
                          options=options.SwapOptions(color="none", steady=on))
        convert.convert_video(clip, tmp / f"flicker{on}.mp4", sw, progress=False, provenance=False, overwrite=True)
        out[on] = truth_scores.excess_flicker(media.read_frames(tmp / f"flicker{on}.mp4")[0], right, masks)
    print(f"converted face flicker beyond the true swap's own change (ines seed 3 as tomas, mean |frame_t - "
          f"frame_t-1| inside the face, 0-255): raw {out[False]:.2f}, steadied {out[True]:.2f}")


if __name__ == "__main__":
    main()
