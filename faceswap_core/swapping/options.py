"""How a decoded face goes back into its frame: colour matching, blending, mask erosion and feather, which
faces are left alone, batching and detection cadence. Taught in chapter 05; the CLI's `convert` flags take
their defaults from here."""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import FaceswapError

COLOR_MODES = ("none", "lab", "hist")
BLEND_MODES = ("feather", "poisson")


@dataclass(frozen=True)
class SwapOptions:
    """How a decoded face goes back into its frame."""

    color: str = "lab"  # none | lab (mean/std in LAB) | hist (per-channel histogram matching)
    blend: str = "feather"  # feather | poisson (seamless clone, then feathered)
    erode: float = 0.02  # shrink the face mask by this fraction of the face-core side
    feather: float = 0.08  # soften its edge over this fraction of the face-core side
    min_size: float = 24.0  # faces with a smaller box side (pixels) are left untouched
    min_score: float = 0.0  # ... and faces the detector is less sure of
    batch_size: int = 32  # faces per model call
    detect_every: int = 1  # run the detector on every Nth frame; landmarks in between are interpolated
    # filter a video's landmarks over time (less shake); detect_every > 1 interpolates instead
    steady: bool = True

    def __post_init__(self):
        if self.color not in COLOR_MODES:
            raise FaceswapError(f"colour matching {self.color!r}: use one of {', '.join(COLOR_MODES)}")
        if self.blend not in BLEND_MODES:
            raise FaceswapError(f"blending {self.blend!r}: use one of {', '.join(BLEND_MODES)}")
        if self.batch_size < 1:
            raise FaceswapError(f"batch size {self.batch_size}: give at least 1")
        if self.detect_every < 1:
            raise FaceswapError(f"detect every {self.detect_every} frames: give at least 1")
