"""The made-up people a pretrained base learns from, rendered and extracted like any pair's clips, and the
one call that builds a base (`faceswap-core pretrain`). The training itself is `training.pretrain`."""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np

from .. import synth
from ..faces import align, extraction
from ..training import pretrain, swap_pretrain, train
from ..training.recipe import BASE_RECIPE

CLIP_SEED = 7000  # the motion seed of person i's clip: CLIP_SEED + 31 * seed + i


def render_people(workspace: str | Path, names: list[str], frames: int, seed: int = 0,
                  progress: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Render a clip of each made-up person into `workspace` (256 px, 25 fps), extract its faces with the
    truth landmarks and return the training arrays (`train.load_faces`)."""
    pretrain.check_people(names)
    for i, name in enumerate(names):
        clip = Path(workspace) / "clips" / name / f"{name}_pretrain.mp4"
        clip.parent.mkdir(parents=True, exist_ok=True)
        synth.render_clip(synth.get_identity(name), frames, clip, size=256, seed=CLIP_SEED + 31 * seed + i,
                          overwrite=True)
        extraction.extract(clip, name, workspace, detector="truth", size=256, progress=False, overwrite=True)
        if progress:
            print(f"  rendered {name} ({i + 1}/{len(names)})", flush=True)
    return train.load_faces(workspace, names)


def _motion(frames: int, stride: int, seed: int) -> list:
    """`frames` conditions: every `stride`-th of a longer random clip (few frames a person, still spread over
    the turn)."""
    return synth.random_motion(frames * stride, 25.0, seed)[::stride]


def _cut(render, mat: np.ndarray, crop: int) -> tuple[np.ndarray, np.ndarray]:
    """A render's frame and face mask cut by the alignment `mat` at `crop` px."""
    return (align.crop(render.frame, mat, crop),
            align.crop(align.face_mask(render.landmarks, render.frame.shape), mat, crop))


def render_swap_pairs(names: list[str], frames: int, seed: int = 0, progress: bool = True,
                      crop: int = train.TRAIN_CROP, stride: int = 1) -> swap_pretrain.SwapPairs:
    """For each made-up person P, `frames` frames of a clip's motion; each gives two training pairs, both cut
    with P's alignment: P redrawn as P, and P swapped into another person Q (Q rendered in the exact
    conditions of P's frame, the truth). Whole padded crops of `crop` px, as `train.load_faces` gives."""
    pretrain.check_people(names)
    rng = np.random.default_rng(seed)
    people = [synth.get_identity(n) for n in names]
    xs, ys, ms, who = [], [], [], []
    for i, person in enumerate(people):
        for c in _motion(frames, stride, CLIP_SEED + 31 * seed + i):
            own = synth.render(person, c, 256)
            q = int(rng.integers(len(people) - 1))
            q += q >= i
            mat = align.alignment_matrix(own.landmarks, crop)
            x = align.crop(own.frame, mat, crop)
            for k, r in ((i, own), (q, synth.render(people[q], c, 256))):
                y, m = _cut(r, mat, crop)
                xs.append(x)
                ys.append(y)
                ms.append(m)
                who.append(k)
        if progress:
            print(f"  rendered {person.name} and its swaps ({i + 1}/{len(people)})", flush=True)
    return swap_pretrain.SwapPairs(np.stack(xs), np.stack(ys), np.stack(ms), np.array(who), names)


def render_faces(names: list[str], frames: int, seed: int = 0, stride: int = 12, first: int = 0,
                 crop: int = train.TRAIN_CROP) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(crops (N, crop, crop, 3), face masks (N, crop, crop), person index (N,)): `frames` frames of each
    person, every `stride`-th of a random clip's motion (spread over the turn), aligned on the true
    landmarks. The identity net learns from these."""
    xs, ms, who = [], [], []
    for i, name in enumerate(names):
        person = synth.get_identity(name)
        for c in _motion(frames, stride, CLIP_SEED + 31 * seed + first + i):
            r = synth.render(person, c, 256)
            x, m = _cut(r, align.alignment_matrix(r.landmarks, crop), crop)
            xs.append(x)
            ms.append(m)
            who.append(i)
    return np.stack(xs), np.stack(ms), np.asarray(who)


def build_base(out: str | Path, config: str = "lite", count: int = BASE_RECIPE["count"],
               frames: int = BASE_RECIPE["frames"], steps: int = BASE_RECIPE["steps"],
               seed: int = BASE_RECIPE["seed"], progress: bool = True, device: str | None = None,
               swaps: bool = False, film: bool = False, stride: int = 1) -> Path:
    """Render `count` made-up people (`frames` each) and train a base on them: one generic decoder
    (`training.pretrain`), or with `swaps` an identity-conditioned one taught by swaps between them
    (`training.swap_pretrain`). The generic base's clips live in a temporary workspace. The shipped lite
    base (`swaps`, 3000 steps) took 15.6 minutes here. `film` and `stride` (every stride-th frame of a longer
    clip) are for a FiLM swap base of many people (`swap_pretrain.pretrain_swaps`)."""
    names = pretrain.people(count)
    if frames < 8:
        raise pretrain.FaceswapError(f"--frames {frames}: render at least 8 frames per person")
    pretrain.writable(Path(out))
    if swaps:
        pairs = render_swap_pairs(names, frames, seed, progress, stride=stride)
        tail = (" --film" if film else "") + (f" --stride {stride}" if stride != 1 else "")
        return swap_pretrain.pretrain_swaps(out, pairs, config, steps, seed, frames, progress, film, tail)
    with tempfile.TemporaryDirectory(prefix="pretrain-people-") as ws:
        faces = render_people(ws, names, frames, seed, progress)
        return pretrain.pretrain(out, faces, config, steps, seed, frames, progress, device)


def build_identity_net(out: str | Path, count: int = 800, frames: int = 8, steps: int = 1500, seed: int = 0,
                       progress: bool = True) -> Path:
    """Render `frames` faces of each of `count` made-up people (never the cast) and train our identity net on
    them (`training.identity_net`); the shipped one (800 people, 1500 steps) took 17.3 minutes here."""
    import time

    from ..training import identity_net

    names = pretrain.people(count)
    pretrain.writable(Path(out))
    started = time.time()
    images, masks, who = render_faces(names, frames, seed)
    net, accuracy = identity_net.train_net(images, masks, who, steps, seed=seed, progress=progress)
    command = (f"faceswap-core pretrain --identity-net --people {count} --frames {frames} --steps {steps} "
               f"--seed {seed}")
    return identity_net.save(net, out, {"people": str(count), "frames": str(frames), "steps": str(steps),
                                        "seed": str(seed), "accuracy": f"{accuracy:.3f}", "command": command,
                                        "minutes": f"{(time.time() - started) / 60:.1f}"})
