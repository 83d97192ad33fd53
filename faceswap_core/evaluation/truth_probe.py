"""Held-out frames of a cast clip ready to score a swap against the truth: A's aligned faces (what the model
sees), B rendered in the exact conditions of each frame and cut with the *same* transform, B's face mask.
Taught in chapter 04 (and 05-08)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from .. import media, synth
from ..faces import align
from ..training import augment
from ..training.losses import ssim
from .truth_scores import l1_toward_target, masked_l1, scores


@dataclass
class TruthProbe:
    """Fixed frames of a cast clip, ready to score a swap into another cast member against the truth."""

    source: torch.Tensor  # (N, 3, S, S) A's aligned faces
    truth: torch.Tensor  # (N, 3, S, S) B rendered in the same conditions, same transform
    mask: torch.Tensor  # (N, 1, S, S) B's face mask, eroded
    yaw: np.ndarray  # (N,) the source frames' yaw
    frames: np.ndarray  # (N,) frame indices
    own: torch.Tensor  # (N, 3, S, S) the truth aligned by B's own landmarks: what a perfect decoder B draws
    core: torch.Tensor | None = None  # (N, 1, S, S) the face core of A (whatever covers it), eroded

    @classmethod
    def from_clip(cls, clip: str | Path, target: synth.Identity | str, n: int = 16, size: int = 64,
                  coverage: float = align.CORE, frames: np.ndarray | None = None) -> TruthProbe:
        """Probe `n` evenly spread frames (or the given ones) of a cast clip for a swap into `target`; each
        face is seen as the network sees it (`align.view_matrix`)."""
        target = synth.get_identity(target) if isinstance(target, str) else target
        truth = synth.load_truth(clip)
        video, _ = media.read_frames(clip)
        idx = np.linspace(0, len(video) - 1, n).astype(int) if frames is None else np.asarray(frames)
        erode = np.ones((3, 3), np.uint8)
        src, tru, msk, own, core = [], [], [], [], []
        for i in idx:
            m = align.view_matrix(truth.landmarks[i], size, coverage)
            hull = align.core_mask(align.transform_points(truth.landmarks[i], m), (size, size))
            core.append(cv2.erode(hull, erode))
            r = synth.swap_truth(target, truth, int(i))
            src.append(align.crop(video[i], m, size))
            tru.append(align.crop(r.frame, m, size))
            own.append(align.crop(r.frame, align.view_matrix(r.landmarks, size, coverage), size))
            msk.append(cv2.erode(align.crop(r.mask.astype(np.uint8) * 255, m, size), erode))
        return cls(augment.to_tensor(np.stack(src)), augment.to_tensor(np.stack(tru)),
                   torch.from_numpy(np.stack(msk))[:, None].float() / 255,
                   np.array([truth.conditions[i].yaw for i in idx]), idx, augment.to_tensor(np.stack(own)),
                   torch.from_numpy(np.stack(core))[:, None].float() / 255)

    @torch.no_grad()
    def swap(self, model, to: str) -> torch.Tensor:
        model.eval()
        device = next(model.parameters()).device
        return model(self.source.to(device), to).float().cpu()

    def score(self, model, to: str) -> dict[str, float]:
        """Masked SSIM / PSNR / L1 of the model's swap against the truth."""
        return scores(self.swap(model, to), self.truth, self.mask)

    def core_scores(self, pred: torch.Tensor) -> dict[str, float]:
        """The same scores over A's face core whatever is in front of it (a microphone counts), for a swap
        from `swap` or for `self.source` (the no-swap baseline)."""
        return scores(pred, self.truth, self.core)

    def per_face(self, sw: torch.Tensor) -> dict[str, np.ndarray]:
        """Masked L1 and SSIM against the truth, and the identity score, of each of N faces (a swap from
        `swap`, or `self.source` for the no-swap baseline)."""
        rows = [(masked_l1(sw[i:i + 1], self.truth[i:i + 1], self.mask[i:i + 1]),
                 float(ssim(sw[i:i + 1], self.truth[i:i + 1], self.mask[i:i + 1])),
                 l1_toward_target(sw[i:i + 1], self.source[i:i + 1], self.truth[i:i + 1], self.mask[i:i + 1]))
                for i in range(len(sw))]
        l1, ss, ident = (np.array(c, np.float64) for c in zip(*rows))
        return {"face_l1": l1, "face_ssim": ss, "face_l1_toward_target": ident}

    def baseline(self) -> dict[str, float]:
        """The same scores for doing nothing (the unswapped source face): a swap must beat these."""
        return scores(self.source, self.truth, self.mask)

    def gain(self, swap_ssim: float) -> float:
        """The share of the achievable gain a swap's SSIM reached: 0 is doing nothing, 1 a perfect decoder."""
        base, top = self.baseline()["ssim"], self.ceiling()["ssim"]
        return float((swap_ssim - base) / max(top - base, 1e-9))

    def ceiling(self) -> dict[str, float]:
        """The scores of a perfect decoder B: B's face aligned on B's own landmarks, pasted where A's face
        was aligned. The gap to 1 is the face-shape mismatch that the classic method cannot remove."""
        return scores(self.own, self.truth, self.mask)


def sweep_probe(folder: str | Path, source: str, target: str, frames: int = 24, seed: int = 0,
                size: int = 256) -> TruthProbe:
    """A held-out probe: `source` turning the head evenly across the whole yaw range (`sweep_clip`), ready to
    score a swap into `target`."""
    return TruthProbe.from_clip(sweep_clip(folder, source, frames, seed, size), target, n=frames)


def sweep_clip(folder: str | Path, source: str, frames: int = 24, seed: int = 0, size: int = 256) -> Path:
    """A held-out clip of `source` turning the head evenly across the whole yaw range (`synth.yaw_sweep`,
    with varied expression and light), rendered once into `folder`."""
    clip = Path(folder) / f"probe_{source}_sweep_{frames}f_{size}px_s{seed}.mp4"
    if not clip.exists():
        synth.render_clip(synth.get_identity(source), frames, clip, size=size, seed=9000 + seed,
                          conditions=synth.yaw_sweep(frames, seed=seed))
    return clip
