"""Curating a face set, as the peers' sort tools do: order its faces by identity, sharpness, head turn
or size, and set the worst aside in `rejected/` (moved, never deleted; moving a PNG back restores it)."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import FaceswapError
from . import identity
from .faceset import FaceSet, writer_lock

SORT_KEYS = {"identity": "distance to the set's mean face (outliers last)",
             "blur": "sharpness (blurriest last)", "yaw": "head turn, left to right",
             "size": "face size in the source (smallest last)"}


def sort_faces(fs: FaceSet, by: str) -> list[tuple[int, float]]:
    """(index, score) of every face of a set in the order `by` (SORT_KEYS); the worst come last."""
    if by == "identity":
        emb = identity.faceset_embeddings(fs)
        scores, worst_high = identity.distances(emb, emb.mean(0)), True
    elif by in ("blur", "size", "yaw"):
        scores, worst_high = (np.array([getattr(r, by) if by != "yaw" else r.pose[0] for r in fs.records]),
                              by == "yaw")
    else:
        raise FaceswapError(f"sort by {by!r}: use one of {', '.join(SORT_KEYS)}")
    order = np.argsort(scores if worst_high else -scores, kind="stable")
    return [(int(i), float(scores[i])) for i in order]


def reject(fs: FaceSet, indices: Sequence[int]) -> list[Path]:
    """Move these faces' PNGs into `rejected/` inside the set (never deleted: moving one back restores it)."""
    with writer_lock(fs.path):
        (fs.path / "rejected").mkdir(exist_ok=True)
        return [Path(shutil.move(fs.path / fs.records[i].file, fs.path / "rejected" / fs.records[i].file))
                for i in indices]


__all__ = ["SORT_KEYS", "reject", "sort_faces"]
