"""The detection data set of chapter 09: real and swapped cast clips with per-pixel truth, split by person
and by clip.

Two pairs of the cast take part: one pair's clips train the detectors, the other pair's clips test them,
so no person and no clip is ever on both sides (`leaks` checks it). Each person gets `clips` new clips
(motion seeds that no training face set used). Each clip is kept as a *real* copy (decoded and encoded
again, as a conversion would) and swapped into the other person of its pair, with the pair's model
(`experiments`, cached). The test pair's clips are swapped in several settings:

    base           the pair's model trained `steps`, LAB colour match, feathered blend, CRF 20 (both splits)
    poisson-hist   the same model, histogram colour match and Poisson blending
    long           a model trained `long_steps`
    crf36          the base clips, real and swapped, encoded again at CRF 36 (a lower-quality copy)

A detector trained on the base setting and tested on another measures how it generalises; the test pair
itself is always another pair than the one it trained on. Every swapped clip keeps the blend weight of
each of its pixels (``*.mask.npz``, uint8; 0 where the frame is untouched): the per-pixel truth.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .. import encode, media, synth
from ..evaluation import experiments
from ..faces import detect
from ..files import write_atomic, write_json
from ..swapping import options, swap
from . import features

SETTINGS = {  # name -> how its swapped clips are made
    "base": {"model": "short", "color": "lab", "blend": "feather", "crf": 20},
    "poisson-hist": {"model": "short", "color": "hist", "blend": "poisson", "crf": 20},
    "long": {"model": "long", "color": "lab", "blend": "feather", "crf": 20},
    "crf36": {"again": "base", "crf": 36},  # real and swapped base clips, encoded once more
}


@dataclass(frozen=True)
class Plan:
    """What the data set holds: who, how many clips and frames, how long the models train."""

    train_pair: tuple[str, str] = ("ines", "tomas")
    test_pair: tuple[str, str] = ("kofi", "mei")
    clips: int = 3  # new clips per person
    frames: int = 48  # frames per clip
    size: int = 256  # frame size of the clips (px): faces ~95 px wide, larger than the 64 px decoder
    faces: int = 300  # faces per person in the models' training sets
    steps: int = 600
    long_steps: int = 2400
    batch_size: int = 16
    base: str = ""  # the swap models start from this pretrained base ("shipped", a file) or from scratch ("")
    seed: int = 0

    def key(self) -> str:
        """Changes with every setting (and with the base file's content: its models' keys follow it)."""
        plain = {**asdict(self), "base": self.experiment(self.train_pair).key() if self.base else ""}
        return hashlib.sha1(json.dumps(plain, sort_keys=True).encode()).hexdigest()[:10]

    def experiment(self, pair: tuple[str, str], long: bool = False) -> experiments.Experiment:
        return experiments.Experiment(source=pair[0], target=pair[1], faces=self.faces,
                                      batch_size=self.batch_size, base=self.base,
                                      steps=self.long_steps if long else self.steps, seed=self.seed)


@dataclass(frozen=True)
class Clip:
    """One clip of the data set."""

    path: Path
    kind: str  # real | swap
    setting: str
    split: str  # train | test
    source: str  # the person filmed
    target: str | None  # the person drawn in (swaps)
    clip: str  # the rendered clip it comes from ("<person>-<k>")
    truth: Path  # that clip, whose sidecar holds the landmarks
    mask: Path | None = None

    @property
    def persons(self) -> set[str]:
        return {self.source} | ({self.target} if self.target else set())


def _root(workspace: str | Path, plan: Plan) -> Path:
    return Path(workspace) / "experiments" / "spot" / plan.key()


def plan_clips(workspace: str | Path, plan: Plan) -> list[Clip]:
    """Every clip of the data set, where it will be (nothing is made)."""
    root, out = _root(workspace, plan), []
    for split, pair in (("train", plan.train_pair), ("test", plan.test_pair)):
        settings = ["base"] if split == "train" else list(SETTINGS)
        for person, other in (pair, pair[::-1]):
            for k in range(plan.clips):
                name = f"{person}-{k}"
                truth = root / "sources" / f"{name}.mp4"
                for s in settings:
                    if s == "base" or "again" in SETTINGS[s]:
                        out.append(Clip(root / s / f"{name}-real.mp4", "real", s, split, person, None, name,
                                        truth))
                    swapped = root / s / f"{name}-to-{other}.mp4"
                    out.append(Clip(swapped, "swap", s, split, person, other, name, truth,
                                    swapped.with_suffix(".mask.npz")))
    return out


def leaks(clips: list[Clip]) -> dict[str, set[str]]:
    """Persons and source clips found in both the training and the test split (empty sets: no leak)."""
    side = {s: [c for c in clips if c.split == s] for s in ("train", "test")}
    persons = {s: set().union(*(c.persons for c in cs)) for s, cs in side.items()}
    names = {s: {c.clip for c in cs} for s, cs in side.items()}
    return {"persons": persons["train"] & persons["test"], "clips": names["train"] & names["test"]}


def build(workspace: str | Path, plan: Plan, progress: bool = False) -> list[Clip]:
    """Render, train, swap and encode whatever of the data set is missing (cached); returns its clips."""
    clips = plan_clips(workspace, plan)
    root = _root(workspace, plan)
    models = {}
    for c in clips:
        if c.path.exists() and (c.mask is None or c.mask.exists()):
            continue
        if not c.truth.exists():
            person, k = c.clip.rsplit("-", 1)
            synth.render_clip(synth.get_identity(person), plan.frames, c.truth, size=plan.size,
                              seed=5000 + 100 * plan.seed + int(k))
        how = SETTINGS[c.setting]
        if "again" in how:  # a lower-quality copy of the same setting's clip
            first = c.path.parent.parent / how["again"] / c.path.name
            frames, _ = media.read_frames(first)
            _write(c, frames, how["crf"],
                   None if c.mask is None else np.load(first.with_suffix(".mask.npz"))["masks"])
            continue
        frames, _ = media.read_frames(c.truth)
        if c.kind == "real":
            _write(c, frames, how["crf"], None)
            continue
        pair = plan.train_pair if c.split == "train" else plan.test_pair
        exp = plan.experiment(pair, long=how["model"] == "long")
        if exp.key() not in models:
            experiments.run(exp, workspace, progress=progress)
            models[exp.key()] = experiments.load(exp, workspace)
        swapped, masks = swap_with_truth(models[exp.key()], c.target, c.truth, frames, how["color"],
                                         how["blend"])
        _write(c, swapped, how["crf"], masks)
    write_json(root / "plan.json", asdict(plan))
    return clips


def swap_with_truth(model, to: str, clip: Path, frames: np.ndarray, color: str = "lab",
                    blend: str = "feather") -> tuple[list[np.ndarray], np.ndarray]:
    """Swap every frame of a cast clip (faces from its truth) and keep the blend weight of every pixel."""
    sw = swap.Swapper(model, to, "truth", clip=clip, options=options.SwapOptions(color=color, blend=blend),
                      device="cpu")
    aligned = sw.prepare(list(frames), list(range(len(frames))))
    out, masks = [], np.zeros(frames.shape[:3], np.uint8)
    for k, (frame, faces, decoded) in enumerate(zip(frames, aligned, sw.run_model(aligned))):
        frame = frame.copy()
        for a, d in zip(faces, decoded):
            _paste(sw, frame, a, d, masks[k])
        out.append(frame)
    return out, masks


def _paste(sw: swap.Swapper, frame: np.ndarray, aligned: swap.Aligned, face: np.ndarray,
           weight: np.ndarray) -> None:
    """Blend `face` (a model-size crop) into `frame` as the swapper does, and keep the blend weight of each of
    the frame's pixels in `weight` (uint8, the largest over the faces pasted)."""
    parts: dict = {}
    sw.blend(frame, aligned, face, parts)
    if "alpha" in parts:
        x0, y0, x1, y1 = parts["roi"]
        np.maximum(weight[y0:y1, x0:x1], (parts["alpha"] * 255 + 0.5).astype(np.uint8),
                   out=weight[y0:y1, x0:x1])


def self_blends(workspace: str | Path, plan: Plan, split: str = "train") -> features.Samples:
    """Face X-ray's training data, made without any swap: each real face of one person of the `split`'s pair
    with the real face of the other person at the nearest head turn pasted in by the swap's own blend (the
    donor's face core, aligned as a model input, warped back, colour-matched and feathered). Labelled
    swapped, with the blend weight as mask: a detector trained on these learns the seam, not a decoder's
    look."""
    clips = [c for c in plan_clips(workspace, plan)
             if c.split == split and c.kind == "real" and c.setting == "base"]
    pair = plan.train_pair if split == "train" else plan.test_pair
    # only its input size and coverage are used
    model = experiments.load(plan.experiment(pair), workspace)
    loaded = {c.clip: (media.read_frames(c.path)[0], detect.TruthDetector(c.truth)) for c in clips}
    parts = []
    for c in clips:
        frames, truth = loaded[c.clip][0], loaded[c.clip][1].truth
        donors = [(k, i, d.truth.conditions[i].yaw) for k, (f, d) in loaded.items()
                  if k.rsplit("-", 1)[0] != c.source for i in range(len(f))]
        sw = swap.Swapper(model, pair[0], "truth", clip=c.truth, device="cpu")
        out, masks = [], np.zeros(frames.shape[:3], np.uint8)
        for i, frame in enumerate(frames):
            k, j, _ = min(donors, key=lambda d: abs(d[2] - truth.conditions[i].yaw))
            donor = loaded[k][0][j]
            face = loaded[k][1].detect(donor, j)[0]
            frame, target = frame.copy(), sw.find([frame], [i])[0]
            for t in target:
                _paste(sw, frame, sw.align(frame, t), sw.align(donor, face).crop, masks[i])
            out.append(frame)
        s = features.faces_of(out, [m[:, :2] for m in truth.landmarks[:len(out)]], list(masks))
        s.label[:] = 1
        s.meta = [{"clip": c.clip, "setting": "self-blend", "split": split, "kind": "blend", "frame": i,
                   "persons": sorted({c.source, *pair}), "path": str(c.path)} for i in range(len(s))]
        parts.append(s)
    return features.Samples.join(parts)


def _write(c: Clip, frames, crf: int, masks: np.ndarray | None) -> None:
    if masks is not None:  # the truth first: a clip under its final name always has its mask
        buf = io.BytesIO()
        np.savez_compressed(buf, masks=masks)
        c.mask.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(c.mask, buf.getvalue())
    # the source clip's truth goes beside it too, so that the truth face detector works on it
    write_atomic(synth.truth_path(c.path), synth.truth_path(c.truth).read_bytes())
    encode.write_video(c.path, list(frames), 25.0, crf=crf, overwrite=True)


def samples(clips: list[Clip]) -> features.Samples:
    """The faces of these clips as the detectors see them (landmarks from each source clip's truth)."""
    parts = []
    for c in clips:
        frames, _ = media.read_frames(c.path)
        marks = [m[:, :2] for m in synth.load_truth(c.truth).landmarks[:len(frames)]]
        masks = list(np.load(c.mask)["masks"]) if c.mask is not None else [None] * len(frames)
        s = features.faces_of(list(frames), marks, masks)
        s.label[:] = int(c.kind == "swap")
        s.meta = [{"clip": c.clip, "setting": c.setting, "split": c.split, "kind": c.kind, "frame": i,
                   "persons": sorted(c.persons), "path": str(c.path)} for i in range(len(s))]
        parts.append(s)
    return features.Samples.join(parts)


def test_set(data: features.Samples, setting: str) -> features.Samples:
    """The held-out faces of one setting: its swapped faces, and the real faces of the same quality."""
    real_from = setting if "again" in SETTINGS[setting] else "base"
    keep = [m["split"] == "test" and ((m["kind"] == "swap" and m["setting"] == setting) or
                                      (m["kind"] == "real" and m["setting"] == real_from)) for m in data.meta]
    return data.take(np.array(keep))


def train_set(data: features.Samples) -> features.Samples:
    return data.take(np.array([m["split"] == "train" for m in data.meta]))


def split_summary(clips: list[Clip], data: features.Samples) -> list[dict]:
    """One row per split (train, test): its persons, source clips, settings, and real and swapped faces."""
    rows = []
    for split in ("train", "test"):
        mine = [c for c in clips if c.split == split]
        faces = [m["kind"] for m in data.meta if m["split"] == split]
        rows.append({"split": split, "persons": " ".join(sorted(set().union(*(c.persons for c in mine)))),
                     "source clips": len({c.clip for c in mine}),
                     "settings": " ".join(dict.fromkeys(c.setting for c in mine)),
                     "real faces": faces.count("real"), "swapped faces": faces.count("swap")})
    return rows


__all__ = ["Clip", "Plan", "SETTINGS", "build", "leaks", "plan_clips", "samples", "self_blends",
           "split_summary", "swap_with_truth", "test_set", "train_set"]
