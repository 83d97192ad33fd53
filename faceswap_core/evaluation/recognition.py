"""The face recogniser's verdict on swaps of cast frames, the judge of identity, beside its verdict on the
classic ceiling and on doing nothing. Taught in chapters 04 and 05.

A `RecognitionProbe` holds frames of a cast clip of A with their true landmarks, the mean embeddings of A's
and B's face sets, and two references, each judged by `identity.recogniser_verdict`:

- doing nothing: A's frames as they are;
- the classic ceiling: B's true face core (B rendered in the frame's exact conditions) pasted into A's frame
  inside the hull of A's inner landmarks, grown 10% and feathered. It is what a perfect decoder B could give
  while A's hair, jaw and head stay.

A swap's faces are embedded at A's true landmarks, as a conversion embeds them at the detected ones. No
training loss may use this network: it judges. Frames are ``uint8 HxWx3 RGB``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .. import media, synth
from ..faces import align, detect, identity
from ..swapping.options import SwapOptions
from ..swapping.swap import Swapper

GROW = 0.1  # the ceiling's paste region: A's inner-landmark hull grown by this share
FEATHER = 0.08  # ... feathered over this share of the face size


def ceiling_frame(frame: np.ndarray, landmarks: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """A's `frame` with the face core of `truth` (B rendered in the same conditions) pasted in: the hull of
    A's inner landmarks grown by `GROW`, feathered."""
    hull = align.core_mask(landmarks, frame.shape, grow=GROW).astype(np.float32) / 255
    size = float(np.ptp(np.asarray(landmarks)[:, :2], axis=0).max())
    sigma = max(1.0, FEATHER * size / 2)
    weight = cv2.GaussianBlur(hull, (0, 0), sigma)[..., None]
    return (frame * (1 - weight) + truth * weight).round().clip(0, 255).astype(np.uint8)


def _at_size(frame: np.ndarray, landmarks: np.ndarray, size: int) -> np.ndarray:
    """`frame` with the network's view of its face (the classic face core) cut at `size` px and scaled back
    in place: the detail a decoder of that output size can give."""
    mat = align.view_matrix(landmarks, size)
    back = align.uncrop(align.crop(frame, mat, size), mat, frame.shape)
    inside = align.uncrop(np.full((size, size), 255, np.uint8), mat, frame.shape)[..., None] > 127
    return np.where(inside, back, frame)


@dataclass
class RecognitionProbe:
    """Frames of a cast clip of A, ready to ask the recogniser whether a swap into B looks like B."""

    clip: Path
    target: str
    indices: np.ndarray  # (N,) frame indices in the clip
    frames: list[np.ndarray]  # A's frames
    landmarks: list[np.ndarray]  # (68, 2) A's true landmarks in each
    ceilings: list[np.ndarray]  # B's true face core pasted into each
    means: tuple[np.ndarray, np.ndarray]  # mean embeddings (128,) of A's and B's face sets

    @classmethod
    def from_clip(cls, clip: str | Path, target: str, means: tuple[np.ndarray, np.ndarray],
                  n: int = 24) -> RecognitionProbe:
        """`n` frames spread evenly over a cast clip of A, for swaps into cast member `target`; `means` as
        `identity.person_means` gives them."""
        truth = synth.load_truth(clip)
        video, _ = media.read_frames(clip)
        idx = np.unique(np.linspace(0, len(video) - 1, n).round().astype(int))
        who = synth.get_identity(target)
        marks = [truth.landmarks[i][:, :2].astype(np.float32) for i in idx]
        ceilings = [ceiling_frame(video[i], m, synth.swap_truth(who, truth, int(i)).frame)
                    for i, m in zip(idx, marks)]
        return cls(Path(clip), target, idx, [video[i] for i in idx], marks, ceilings, means)

    def verdict(self, frames: list[np.ndarray]) -> dict:
        """The recogniser's verdict on these frames' faces (at A's landmarks): share recognised as B and mean
        distances to A and B (`identity.recogniser_verdict`)."""
        emb = np.concatenate([identity.embed(f, [m]) for f, m in zip(frames, self.landmarks)])
        return identity.recogniser_verdict(emb, *self.means)

    def nothing(self) -> dict:
        """The verdict on A's unswapped frames: a swap must move away from this."""
        return self.verdict(self.frames)

    def ceiling(self, size: int | None = None) -> dict:
        """The verdict on the classic ceiling: B's true face core pasted into A's frames; with `size`, as a
        decoder of that output size could at best draw it (the core cut at `size` px, then scaled back)."""
        if size is None:
            return self.verdict(self.ceilings)
        return self.verdict([_at_size(c, m, size) for c, m in zip(self.ceilings, self.landmarks)])

    def swap(self, model, options: SwapOptions = SwapOptions(color="none")) -> list[np.ndarray]:
        """A's frames swapped into B by `model` (faces found by the truth; on the cast colour "none" scores
        best)."""
        training = model.training
        swapper = Swapper(model, self.target, detect.TruthDetector(self.clip), options=options)
        out = [swapper.swap_frame(f, int(i)) for f, i in zip(self.frames, self.indices)]
        model.train(training)  # the Swapper put it in eval mode
        return out

    def score(self, model, options: SwapOptions = SwapOptions(color="none")) -> dict:
        """The verdict on `model`'s swaps of the probe's frames."""
        return self.verdict(self.swap(model, options))


def summary(verdict: dict) -> dict:
    """The headline figures of a verdict (no per-face lists), rounded for a chapter's record."""
    return {k: (round(v, 4) if isinstance(v, float) else v) for k, v in verdict.items() if k != "per_face"}
