"""Small training grids that vary one factor and measure the swap against the truth. Taught in chapters 07
(missing profiles, too few faces, occlusions) and 08 (fine-tuning a trained pair for a new person).

Every experiment goes through the real pipeline: render cast clips, extract face sets with the truth
detector, train a `lite` model, score swaps of held-out frames against the truth (`truth_probe.TruthProbe`).
Face sets, models and results are cached under ``<workspace>/experiments/`` by a key of the settings, so
re-running a notebook re-uses them instead of retraining. The verdicts drawn from these results live in
`claims`.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from .. import synth
from ..errors import FaceswapError
from ..faces import extraction, faceset
from ..files import write_json
from ..training import pretrain, recipe, train
from ..training.checkpoint import load_model
from ..training.model import FaceSwapModel, fine_tune_start
from ..workspace import faces_dir
from . import truth_probe

CLIP_SIZE = 160  # frame size of the rendered clips: enough for 128 px aligned crops
CROP = 128
KEPT = recipe.recipe("lite")


@dataclass(frozen=True)
class Experiment:
    """One training of a grid: who is swapped into whom, on which data, for how long."""

    source: str = "ines"  # A: whose frames are converted
    target: str = "tomas"  # B: who is drawn
    faces: int = 300  # faces per person in the training sets
    target_yaw: float = 90.0  # B's training clips turn the head at most this far (degrees)
    source_glasses: bool | None = None  # put glasses on A (True), take them off (False), or as cast (None)
    steps: int = 600
    batch_size: int = 16
    lr: float = KEPT.lr  # the training settings kept in docs/training.md (`recipe.recipe("lite")`)
    masked: bool = KEPT.masked
    ssim_weight: float = KEPT.ssim_weight
    clip_grad: float = KEPT.clip_grad
    decay: bool = True  # cosine learning-rate decay over the steps
    eval_every: int = 100  # steps between quality measurements (0: only at the end)
    init: Experiment | None = None  # fine-tune: start from this experiment's model (B's decoder re-used)
    base: str = ""  # start from a pretrained base: "shipped" (the package's), a base file, or "" (scratch)
    seed: int = 0

    def key(self) -> str:
        """A short name that changes whenever a setting changes."""
        digest = hashlib.sha1(json.dumps(_plain(self), sort_keys=True).encode()).hexdigest()[:10]
        return f"{self.source}-{self.target}-{self.faces}f-{digest}"

    def source_identity(self) -> synth.Identity:
        who = synth.get_identity(self.source)
        if self.source_glasses is None or self.source_glasses == who.glasses:
            return who
        return replace(who, name=f"{who.name}-{'glasses' if self.source_glasses else 'noglasses'}",
                       glasses=self.source_glasses)


def _root(workspace: str | Path) -> Path:
    return Path(workspace) / "experiments"


def face_set(workspace: str | Path, who: synth.Identity, faces: int, yaw: float = 90.0,
             seed: int = 0) -> Path:
    """A face set of `faces` faces of a cast member whose head turns at most `yaw` degrees (cached)."""
    name = f"{who.name}-{faces}f-y{int(yaw)}-s{seed}"
    root = _root(workspace) / "data"
    folder = faces_dir(root, name)
    if not folder.exists():
        clip = root / "clips" / f"{name}.mp4"
        if not clip.exists():
            synth.render_clip(who, faces, clip, size=CLIP_SIZE, seed=1000 + seed, yaw_range=(-yaw, yaw))
        extraction.extract(clip, name, root, detector="truth", size=CROP, progress=False)
    return folder


def held_out_clip(workspace: str | Path, who: synth.Identity, frames: int, occluder: str | None = None,
               seed: int = 0) -> Path:
    """A held-out clip of a cast member (a motion seed no training clip uses), full head turns, at least
    `frames` and at most 10 s long (cached)."""
    n = max(frames, 250)
    kind = f"{occluder}{synth.MIC_VERSION}" if occluder == "microphone" else occluder or "plain"
    clip = _root(workspace) / "data" / "probes" / f"{who.name}-{n}f-{kind}-s{seed}.mp4"
    if not clip.exists():
        synth.render_clip(who, n, clip, size=CLIP_SIZE, seed=9000 + seed, occluder=occluder)
    return clip


def held_out_probe(workspace, exp: Experiment, frames: int = 48,
                   occluder: str | None = None) -> truth_probe.TruthProbe:
    """The held-out frames of the experiment's source, ready to score a swap into its target."""
    clip = held_out_clip(workspace, exp.source_identity(), frames, occluder, exp.seed)
    yaw = np.array([c.yaw for c in synth.load_truth(clip).conditions])
    picks = np.sort(np.argsort(yaw)[np.linspace(0, len(yaw) - 1, frames).astype(int)])  # spread over the turn
    return truth_probe.TruthProbe.from_clip(clip, synth.get_identity(exp.target), frames=picks)


def run(exp: Experiment, workspace: str | Path, probes: dict[str, str | None] | None = None,
        probe_frames: int = 48, progress: bool = False) -> dict:
    """Train (or load from the cache) one experiment and score it on held-out probes.

    `probes` maps a label to an occluder (None: plain frames); default {"plain": None}. The result holds the
    quality curve (masked SSIM and L1 on the plain probe every `eval_every` steps), per-face scores and
    summary scores for each probe, and the baseline (no swap) and ceiling (a perfect decoder) of each.
    Scores are over B's visible skin; "core" scores cover A's whole face core, occluders included.
    """
    probes = probes or {"plain": None}
    folder = _root(workspace) / "runs" / exp.key()
    result_file = folder / "result.json"
    result = json.loads(result_file.read_text()) if result_file.exists() else None
    if result is None:
        result = _train(exp, workspace, folder, probe_frames, progress)
    model = load_model(folder / "model")
    for label, occluder in probes.items():
        clip = held_out_clip(workspace, exp.source_identity(), probe_frames, occluder, exp.seed)
        if result["probes"].get(label, {}).get("clip") == clip.name:
            continue  # scored before, on the same probe clip
        pr = held_out_probe(workspace, exp, probe_frames, occluder)
        swapped = pr.swap(model, exp.target)
        per = pr.per_face(swapped)
        result["probes"][label] = {"occluder": occluder, "clip": clip.name, **pr.score(model, exp.target),
                                   "baseline": pr.baseline(), "ceiling": pr.ceiling(),
                                   "core": pr.core_scores(swapped),
                                   "core_baseline": pr.core_scores(pr.source),
                                   "yaw": pr.yaw.round(2).tolist(),
                                   **{k: np.round(v, 5).tolist() for k, v in per.items()}}
    write_json(result_file, result)
    return result


def load(exp: Experiment, workspace: str | Path) -> FaceSwapModel:
    """The trained model of an experiment that `run` has finished."""
    return load_model(_root(workspace) / "runs" / exp.key() / "model")


def _train(exp: Experiment, workspace, folder: Path, probe_frames: int, progress: bool) -> dict:
    a, b = exp.source_identity(), synth.get_identity(exp.target)
    sets = {exp.source: face_set(workspace, a, exp.faces, 90.0, exp.seed),
            exp.target: face_set(workspace, b, exp.faces, exp.target_yaw, exp.seed + 1)}
    faces = {p: faceset.FaceSet(path).arrays(size=CROP, coverage=1.0) for p, path in sets.items()}
    if exp.batch_size > min(len(f[0]) for f in faces.values()):
        raise FaceswapError(f"batch size {exp.batch_size} is larger than a face set ({exp.faces} faces): "
                            "lower it")
    persons = [exp.source, exp.target]
    if exp.init is not None:
        base = run(exp.init, workspace, probe_frames=probe_frames, progress=progress)
        model = fine_tune_start(load_model(_root(workspace) / "runs" / base["key"] / "model"), exp.source,
                                exp.target)
    elif exp.base:
        model = pretrain.from_base(persons, "lite", _base_file(exp.base))
    else:
        model = FaceSwapModel.create("lite", persons, seed=exp.seed)
    cfg = recipe.recipe("lite", exp.steps if exp.decay else 0, batch_size=exp.batch_size, lr=exp.lr,
                        seed=exp.seed, masked=exp.masked, ssim_weight=exp.ssim_weight,
                        clip_grad=exp.clip_grad)
    model_dir = folder / "model"
    if model_dir.exists():  # an earlier run was interrupted before its result was written: start over
        shutil.rmtree(model_dir)
    trainer = train.Trainer(model, faces, model_dir, cfg)
    pr = held_out_probe(workspace, exp, probe_frames)
    curve: list[dict] = []

    def measure(t: train.Trainer) -> None:
        s = pr.score(t.model, exp.target)
        curve.append({"step": t.step, "seconds": round(time.perf_counter() - t0, 2),
                      "ssim": round(s["ssim"], 5), "l1": round(s["l1"], 5)})
        t.model.train()

    t0 = time.perf_counter()
    measure(trainer)
    trainer.train(exp.steps, progress=progress, callback=measure, callback_every=exp.eval_every)
    if curve[-1]["step"] != trainer.step:
        measure(trainer)
    return {"key": exp.key(), "experiment": _plain(exp), "seconds": round(time.perf_counter() - t0, 1),
            "faces": {p: int(len(f[0])) for p, f in faces.items()}, "curve": curve, "probes": {},
            "baseline": pr.baseline(), "ceiling": pr.ceiling()}


def _base_file(base: str) -> Path:
    return pretrain.shipped("lite") if base == "shipped" else Path(base)


def _plain(exp: Experiment) -> dict:
    d = asdict(exp)
    d["init"] = exp.init.key() if exp.init else None
    if exp.base:  # a rebuilt base is another starting point: the cache key follows the file's hash
        d["base"] = pretrain.file_hash(_base_file(exp.base))[:16]
    else:
        d.pop("base")  # (the keys of from-scratch runs cached before this field existed stay valid)
    return d


__all__ = ["Experiment", "face_set", "load", "held_out_clip", "held_out_probe", "run"]
