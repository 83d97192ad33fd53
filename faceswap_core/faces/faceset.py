"""Face sets: aligned face crops as PNG files plus one metadata file (`extraction` makes them).

A face set is a folder ``<workspace>/faces/<person>/`` holding ``NNNNNN_K.png`` crops and ``faces.json``
(source, frame, time, box, landmarks, transform, pose, detector, blur score for every face). Delete a PNG
by hand and that face is gone from the set; the metadata of the others is untouched. Taught in chapter 02.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..errors import FaceswapError
from ..files import lock
from . import align

META = "faces.json"
VIDEO_SUFFIXES = {".mp4", ".mov", ".mkv", ".webm", ".avi", ".m4v"}


@dataclass
class FaceRecord:
    """Everything known about one face of a set (coordinates in source-frame pixels)."""

    file: str
    source: str
    frame: int
    time: float | None
    box: list[float]
    landmarks: list[list[float]]  # (68, 2)
    matrix: list[list[float]]  # 2x3, frame -> crop
    pose: list[float]  # yaw, pitch, roll in degrees
    detector: str
    score: float
    blur: float  # variance of the Laplacian of the crop: low = blurry
    size: float  # face box side in source pixels


def blur_score(crop: np.ndarray) -> float:
    """Sharpness of an aligned crop: variance of the Laplacian over its central half, at 128 px."""
    g = cv2.cvtColor(cv2.resize(crop, (128, 128), interpolation=cv2.INTER_AREA), cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(g[32:96, 32:96], cv2.CV_64F).var())


class FaceSet:
    """An extracted face set on disk; faces whose PNG was deleted are left out."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        meta = self.path / META
        if not self.path.is_dir():
            raise FaceswapError(f"{self.path}: no face set here; "
                                "run chapter 02 (or faceswap-core extract) first")
        if not meta.exists():
            raise FaceswapError(f"{meta}: missing; this folder is not a complete face set, extract it again")
        try:
            d = json.loads(meta.read_text())
            self.crop_size = int(d["crop_size"])
            self.padding = float(d["padding"])
            self.person = d.get("person", self.path.name)
            all_records = [FaceRecord(**r) for r in d["faces"]]
        except (ValueError, KeyError, TypeError) as e:
            raise FaceswapError(f"{meta}: damaged metadata ({str(e)[:100]}); extract the set again") from None
        self.records = [r for r in all_records if (self.path / r.file).exists()]
        self.deleted = len(all_records) - len(self.records)

    def __len__(self) -> int:
        return len(self.records)

    def image(self, i: int) -> np.ndarray:
        """The i-th aligned crop, RGB uint8."""
        p = self.path / self.records[i].file
        img = cv2.imread(str(p), cv2.IMREAD_COLOR)
        if img is None:
            raise FaceswapError(f"{p}: unreadable image; delete it to drop this face")
        return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)

    def crop_landmarks(self, i: int) -> np.ndarray:
        """The i-th face's landmarks in crop pixels, (68, 2)."""
        r = self.records[i]
        return align.transform_points(np.asarray(r.landmarks), np.asarray(r.matrix))

    def mask(self, i: int) -> np.ndarray:
        """The i-th face's mask in the crop (uint8 0/255), from its landmarks."""
        return align.face_mask(self.crop_landmarks(i), (self.crop_size, self.crop_size))

    def poses(self) -> np.ndarray:
        """(N, 3) yaw, pitch, roll of every face."""
        return np.array([r.pose for r in self.records], np.float64).reshape(-1, 3)

    def conditions(self) -> list:
        """The true `synth.Condition` of every face cut from a cast clip (None where there is no truth)."""
        from .. import synth

        cache: dict[str, object] = {}
        out = []
        for r in self.records:
            if r.source not in cache:
                try:
                    cache[r.source] = synth.load_truth(r.source)
                except FaceswapError:
                    cache[r.source] = None
            t = cache[r.source]
            out.append(t.conditions[r.frame] if t is not None and r.frame < len(t.conditions) else None)
        return out

    def arrays(self, size: int = 64, coverage: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """All faces and masks as uint8 arrays (N, size, size, 3) and (N, size, size), from the central
        `coverage` of each crop (default: the template box, the classic 'face core')."""
        keep = align.central(self.crop_size, 1 - 2 * self.padding if coverage is None else coverage)
        imgs = np.empty((len(self), size, size, 3), np.uint8)
        masks = np.empty((len(self), size, size), np.uint8)
        for i in range(len(self)):
            imgs[i] = cv2.resize(self.image(i)[keep, keep], (size, size), interpolation=cv2.INTER_AREA)
            masks[i] = cv2.resize(self.mask(i)[keep, keep], (size, size), interpolation=cv2.INTER_AREA)
        return imgs, masks

    def dataset(self, size: int = 64, coverage: float | None = None) -> FaceDataset:
        """A torch Dataset of (image float32 3xHxW in [0, 1], mask float32 1xHxW in [0, 1])."""
        return FaceDataset(*self.arrays(size, coverage))


class FaceDataset:
    """Faces and masks held in memory, served as float tensors (the torch edge of a face set)."""

    def __init__(self, images: np.ndarray, masks: np.ndarray):
        import torch

        self.images = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()  # (N, 3, H, W) uint8
        self.masks = torch.from_numpy(masks)[:, None].contiguous()  # (N, 1, H, W) uint8

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        return self.images[i].float() / 255.0, self.masks[i].float() / 255.0


def writer_lock(path: Path):
    """The one writer's lock of the face set at `path` (extract, and curate setting faces aside)."""
    return lock(path.parent, f"the face set of {path.name}", name=f".{path.name}.lock")


