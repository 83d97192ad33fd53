"""Who and in which conditions: the made-up people (`Identity`, `CAST`) and a frame's `Condition`."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ..errors import FaceswapError

RGB = tuple[float, float, float]


@dataclass(frozen=True)
class Identity:
    """A made-up person: face shape, colouring and features (head units, colours RGB in [0, 1])."""

    name: str
    head_w: float = 0.86  # cranium half-width
    head_h: float = 1.15  # cranium half-height
    head_d: float = 1.0  # cranium half-depth
    jaw_w: float = 0.70  # jaw half-width (wide = square face)
    jaw_h: float = 0.62
    skin: RGB = (0.85, 0.66, 0.55)
    eye_y: float = 0.12
    eye_sep: float = 0.34  # half distance between eye centres
    eye_w: float = 0.15
    eye_h: float = 0.065
    iris: RGB = (0.30, 0.20, 0.12)
    brow_gap: float = 0.16
    brow_thick: float = 0.035
    brow_arch: float = 0.04
    nose_len: float = 0.42
    nose_w: float = 0.12
    nose_depth: float = 0.22
    mouth_y: float = -0.52
    mouth_w: float = 0.26
    lip_upper: float = 0.045
    lip_lower: float = 0.06
    lips: RGB = (0.70, 0.38, 0.38)
    hair: RGB = (0.20, 0.13, 0.08)
    hair_style: str = "short"  # short | long | buzz | bald
    hairline: float = 0.75
    beard: float = 0.0  # 0 none .. 1 full
    glasses: bool = False
    frame_color: RGB = (0.08, 0.08, 0.08)
    shirt: RGB = (0.25, 0.35, 0.55)

    @classmethod
    def random(cls, seed: int, name: str | None = None) -> Identity:
        """A new made-up person drawn from `seed` (the same seed gives the same person)."""
        rng = np.random.default_rng([0x5EED, seed])
        u = rng.uniform
        tone = u(0.0, 1.0)  # 0 = very light .. 1 = very dark skin
        skin = _lerp3((0.93, 0.76, 0.66), (0.36, 0.23, 0.16), tone)
        hair = [(0.08, 0.06, 0.05), (0.30, 0.18, 0.09), (0.80, 0.66, 0.42), (0.55, 0.25, 0.10),
                (0.60, 0.60, 0.60)][int(rng.integers(5))]
        return cls(
            name=name or f"seed{seed}", head_w=u(0.80, 0.92), head_h=u(1.08, 1.22),
            head_d=u(0.95, 1.05), jaw_w=u(0.58, 0.82), jaw_h=u(0.55, 0.70), skin=skin,
            eye_y=u(0.08, 0.16), eye_sep=u(0.31, 0.38), eye_w=u(0.13, 0.17),
            eye_h=u(0.055, 0.075),
            iris=_lerp3((0.35, 0.50, 0.70), (0.22, 0.13, 0.07), u(0, 1)),
            brow_gap=u(0.13, 0.19), brow_thick=u(0.025, 0.055), brow_arch=u(0.0, 0.06),
            nose_len=u(0.34, 0.48), nose_w=u(0.09, 0.16), nose_depth=u(0.15, 0.28),
            mouth_y=u(-0.58, -0.48), mouth_w=u(0.21, 0.31), lip_upper=u(0.03, 0.06),
            lip_lower=u(0.04, 0.08),
            lips=_lerp3((0.78, 0.42, 0.42), (0.40, 0.22, 0.20), tone * u(0.6, 1.0)),
            hair=hair, hair_style=str(rng.choice(["short", "long", "buzz", "bald"], p=[.45, .35, .12, .08])),
            hairline=u(0.62, 0.82), beard=float(rng.choice([0.0, 0.0, u(0.3, 1.0)])),
            glasses=bool(rng.uniform() < 0.25),
            shirt=tuple(float(c) for c in rng.uniform(0.1, 0.7, 3)),
        )


def _lerp3(a: Sequence[float], b: Sequence[float], t: float) -> RGB:
    return tuple(float(x + (y - x) * t) for x, y in zip(a, b))  # type: ignore[return-value]


CAST: dict[str, Identity] = {
    p.name: p
    for p in [
        Identity("ines", head_w=0.80, head_h=1.18, jaw_w=0.60, jaw_h=0.66, skin=(0.86, 0.67, 0.55),
                 eye_sep=0.33, eye_w=0.155, eye_h=0.072, iris=(0.28, 0.18, 0.10), brow_thick=0.03,
                 brow_arch=0.055, nose_len=0.38, nose_w=0.10, nose_depth=0.18, mouth_w=0.25,
                 lip_upper=0.055, lip_lower=0.075, lips=(0.75, 0.32, 0.36), hair=(0.18, 0.10, 0.06),
                 hair_style="long", hairline=0.78, shirt=(0.62, 0.18, 0.22)),
        Identity("tomas", head_w=0.90, head_h=1.12, jaw_w=0.80, jaw_h=0.58, skin=(0.94, 0.78, 0.70),
                 eye_sep=0.35, eye_w=0.14, eye_h=0.058, iris=(0.35, 0.52, 0.72), brow_thick=0.045,
                 brow_arch=0.015, nose_len=0.47, nose_w=0.15, nose_depth=0.27, mouth_w=0.27,
                 lip_upper=0.032, lip_lower=0.05, lips=(0.78, 0.48, 0.46), hair=(0.80, 0.64, 0.38),
                 hair_style="short", hairline=0.70, beard=0.85, shirt=(0.22, 0.42, 0.30)),
        Identity("kofi", head_w=0.86, head_h=1.14, jaw_w=0.74, jaw_h=0.62, skin=(0.47, 0.31, 0.21),
                 eye_sep=0.36, eye_w=0.16, eye_h=0.068, iris=(0.18, 0.10, 0.05), brow_thick=0.04,
                 brow_arch=0.03, nose_len=0.40, nose_w=0.16, nose_depth=0.19, mouth_w=0.30,
                 lip_upper=0.06, lip_lower=0.075, lips=(0.36, 0.20, 0.19), hair=(0.06, 0.05, 0.05),
                 hair_style="buzz", hairline=0.80, glasses=True, frame_color=(0.55, 0.42, 0.12),
                 shirt=(0.85, 0.80, 0.70)),
        Identity("mei", head_w=0.84, head_h=1.10, jaw_w=0.64, jaw_h=0.60, skin=(0.93, 0.80, 0.68),
                 eye_y=0.10, eye_sep=0.34, eye_w=0.14, eye_h=0.055, iris=(0.16, 0.10, 0.07),
                 brow_thick=0.03, brow_arch=0.02, nose_len=0.34, nose_w=0.11, nose_depth=0.15,
                 mouth_w=0.22, lip_upper=0.04, lip_lower=0.055, lips=(0.80, 0.45, 0.48),
                 hair=(0.05, 0.04, 0.04), hair_style="long", hairline=0.55, shirt=(0.30, 0.30, 0.34)),
        Identity("ravi", head_w=0.88, head_h=1.16, jaw_w=0.72, jaw_h=0.64, skin=(0.62, 0.43, 0.30),
                 eye_sep=0.35, eye_w=0.15, eye_h=0.062, iris=(0.20, 0.12, 0.06), brow_thick=0.05,
                 brow_arch=0.02, nose_len=0.46, nose_w=0.13, nose_depth=0.25, mouth_w=0.27,
                 lip_upper=0.04, lip_lower=0.06, lips=(0.52, 0.30, 0.28), hair=(0.08, 0.07, 0.07),
                 hair_style="bald", hairline=0.9, beard=0.45, glasses=True,
                 frame_color=(0.10, 0.10, 0.12), shirt=(0.70, 0.55, 0.20)),
    ]
}


def cast_names() -> list[str]:
    """Names of the built-in cast members."""
    return list(CAST)


def get_identity(name: str) -> Identity:
    """A cast member by name, or a seeded random person for ``seed<N>`` (e.g. ``seed7``)."""
    if name in CAST:
        return CAST[name]
    if name.startswith("seed") and name[4:].isdigit():
        return Identity.random(int(name[4:]), name)
    raise FaceswapError(f"unknown cast member {name!r}: use one of {', '.join(CAST)} or seed<N>")


@dataclass(frozen=True)
class Condition:
    """Everything about a frame that is not the person: pose, expression, light, camera, scene."""

    yaw: float = 0.0  # degrees; + turns the face towards the image right
    pitch: float = 0.0  # degrees; + looks up
    roll: float = 0.0  # degrees; + tilts counter-clockwise in the image
    mouth_open: float = 0.0  # 0..1
    smile: float = 0.0  # -0.5..1
    blink: float = 0.0  # 0 open .. 1 closed
    light_azimuth: float = 30.0  # degrees; + from the image right
    light_elevation: float = 30.0  # degrees; + from above
    light_color: RGB = (1.0, 0.97, 0.92)
    ambient: float = 0.35
    scale: float = 1.0  # head size relative to the default framing
    offset: tuple[float, float] = (0.0, 0.0)  # head shift, fraction of the frame's half-height
    bg_top: RGB = (0.62, 0.66, 0.70)
    bg_bottom: RGB = (0.32, 0.34, 0.38)
    occluder: str | None = None  # None or "microphone"


class Rendering(NamedTuple):
    """A rendered frame with its ground truth."""

    frame: np.ndarray  # (H, W, 3) uint8 RGB
    landmarks: np.ndarray  # (68, 3) float32: x, y in pixels, visible 0/1 (iBUG order)
    mask: np.ndarray  # (H, W) bool: pixels of the face (skin of cranium, jaw and nose, not hair)
