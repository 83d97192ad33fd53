"""The accurate face detector: face-alignment's 2D FAN (68 points) with its S3FD face detector; weights
come from torch's hub cache (downloaded on first use). Taught in chapter 02."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from ..errors import FaceswapError
from .detect import Detector, Face

FAN_FILES = ("2DFAN4-11f355bf06.pth.tar", "s3fd-619a316812.pth")


def hub_checkpoints() -> Path:
    """Where torch (and so face-alignment) keeps downloaded weights."""
    import torch

    return Path(torch.hub.get_dir()) / "checkpoints"


def fan_weights_present() -> bool:
    return all((hub_checkpoints() / f).exists() for f in FAN_FILES)


class FanDetector(Detector):
    """face-alignment's 2D FAN (68 points) with its S3FD face detector."""

    name = "fan"

    def __init__(self, device: str | None = None, batch_size: int = 8, max_faces: int = 4):
        try:
            import face_alignment
        except ImportError:  # an optional extra: a plain `pip install` lacks it
            raise FaceswapError("face-alignment is not installed: pip install face-alignment "
                                "(scripts/setup.sh does)") from None
        import torch

        from ..device import pick_device

        self.device = device or pick_device()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                self.fa = face_alignment.FaceAlignment(face_alignment.LandmarksType.TWO_D,
                                                       device=self.device, flip_input=False, compile=False,
                                                       max_batch_size=batch_size)
        except (OSError, RuntimeError, ValueError, KeyError) as e:  # URLError is an OSError
            reason = str(getattr(e, "reason", e)).splitlines()[0][:120]
            raise FaceswapError(f"face-alignment weights are not in {hub_checkpoints()} and could not be "
                                f"fetched ({reason}); place {' and '.join(FAN_FILES)} there, or use the "
                                "cascade detector") from None
        self._torch = torch
        self.max_faces = max_faces

    def boxes(self, frames: list[np.ndarray]) -> list[np.ndarray]:
        """S3FD boxes (K, 5: x0, y0, x1, y1, score) per frame, best first, at most `max_faces` each."""
        if len({f.shape for f in frames}) == 1:
            batch = self._torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).float().to(self.device)
            found = self.fa.face_detector.detect_from_batch(batch)
        else:
            found = [self.fa.face_detector.detect_from_image(f.copy()) for f in frames]
        out = []
        for b in found:
            b = np.asarray(b, np.float64).reshape(-1, 5)
            out.append(b[np.argsort(-b[:, 4])][: self.max_faces])
        return out

    def landmarks_in(self, frame: np.ndarray, boxes: np.ndarray | list) -> list[Face]:
        """FAN landmarks for given boxes (x0, y0, x1, y1[, score]), skipping the detector."""
        boxes = [np.r_[np.asarray(b, np.float64)[:4], b[4] if len(b) > 4 else 1.0] for b in boxes]
        if not boxes:
            return []
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            marks = self.fa.get_landmarks_from_image(frame, detected_faces=boxes)
        return [Face(b[:4].astype(np.float32), np.asarray(m, np.float32)[:, :2], float(b[4]), self.name)
                for b, m in zip(boxes, marks)]

    def detect(self, frame: np.ndarray, index: int | None = None) -> list[Face]:
        return self.detect_batch([frame])[0]

    def detect_batch(self, frames: list[np.ndarray], indices: list[int] | None = None) -> list[list[Face]]:
        return [self.landmarks_in(f, b) for f, b in zip(frames, self.boxes(frames))]
