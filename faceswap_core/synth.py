"""The synthetic cast: made-up people rendered with known pose, expression, lighting and landmarks.

Every face is a handful of ellipsoids (cranium, jaw, nose, ears, hair) ray-cast orthographically over
all pixels at once, with the features (eyes, brows, lips, beard, glasses) painted on the surface in the
head's own frame. Because the head frame is explicit, we know exactly where each of the 68 iBUG
landmarks is, whether it is hidden, and which pixels are face: the ground truth later chapters measure
against. Taught in chapter 01.

Frames are ``uint8 HxWx3 RGB``. Head frame: x to the image right of a frontal face, y up, z out of the
face; lengths in "head units" (the cranium is about 1.15 tall from centre to crown).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

RGB = tuple[float, float, float]

# --------------------------------------------------------------------------------------------------
# Who and in which conditions


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
    from .errors import FaceswapError

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


# --------------------------------------------------------------------------------------------------
# Geometry helpers


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """Head-to-camera rotation for angles in degrees (roll after pitch after yaw)."""
    y, p, r = np.radians([yaw, pitch, roll])
    ry = np.array([[math.cos(y), 0, math.sin(y)], [0, 1, 0], [-math.sin(y), 0, math.cos(y)]])
    rx = np.array([[1, 0, 0], [0, math.cos(p), math.sin(p)], [0, -math.sin(p), math.cos(p)]])
    rz = np.array([[math.cos(r), -math.sin(r), 0], [math.sin(r), math.cos(r), 0], [0, 0, 1]])
    return rz @ rx @ ry


def _rot_x(deg: float) -> np.ndarray:
    return rotation(0.0, deg, 0.0)


@dataclass
class _Ellipsoid:
    """An ellipsoid in the head frame: centre, radii and its own rotation."""

    name: str
    kind: str  # skin | face (skin that belongs to the face mask) | hair | shirt | mic
    centre: tuple[float, float, float]
    radii: tuple[float, float, float]
    turn: np.ndarray = field(default_factory=lambda: np.eye(3))
    clip: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None  # on sphere coords
    back_faces: bool = False  # may show its inside where the outside is clipped away

    def to_sphere(self, rot: np.ndarray, scale: float, origin: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(Q, C) so that a camera point p maps to the unit sphere as Q @ (p - C)."""
        q = np.diag(1.0 / np.asarray(self.radii)) @ self.turn.T @ rot.T / scale
        c = origin + scale * rot @ np.asarray(self.centre)
        return q, c


def _roots(q: np.ndarray, c: np.ndarray, u: np.ndarray, v: np.ndarray):
    """Ray-ellipsoid intersection along +z for pixel coordinates u (1, w) and v (h, 1)."""
    ox = q[0, 0] * (u - c[0]) + q[0, 1] * (v - c[1]) - q[0, 2] * c[2]
    oy = q[1, 0] * (u - c[0]) + q[1, 1] * (v - c[1]) - q[1, 2] * c[2]
    oz = q[2, 0] * (u - c[0]) + q[2, 1] * (v - c[1]) - q[2, 2] * c[2]
    d = q[:, 2]
    a = float(d @ d)
    b = 2 * (ox * d[0] + oy * d[1] + oz * d[2])
    cc = ox * ox + oy * oy + oz * oz - 1
    disc = b * b - 4 * a * cc
    hit = disc > 0
    sq = np.sqrt(np.where(hit, disc, 0.0))
    return hit, (-b + sq) / (2 * a), (-b - sq) / (2 * a), (ox, oy, oz), d


def _smooth(d: np.ndarray, width: float) -> np.ndarray:
    """Coverage of a shape from a signed distance (negative inside), anti-aliased over `width`."""
    return np.clip(0.5 - d / width, 0.0, 1.0)


# --------------------------------------------------------------------------------------------------
# The head model


def _head_parts(p: Identity) -> list[_Ellipsoid]:
    """The ellipsoids of a person's head in the head frame."""
    cy = 0.1
    parts = [
        _Ellipsoid("cranium", "face", (0.0, cy, 0.0), (p.head_w, p.head_h, p.head_d)),
        _Ellipsoid("jaw", "face", (0.0, cy - p.head_h + p.jaw_h, 0.12), (p.jaw_w, p.jaw_h, 0.84 * p.head_d)),
        _Ellipsoid("nose", "face", (0.0, p.eye_y - 0.55 * p.nose_len, 0.86 * p.head_d),
                   (p.nose_w, 0.55 * p.nose_len, p.nose_depth + 0.14), _rot_x(-14.0)),
        _Ellipsoid("ear_r", "skin", (-0.97 * p.head_w, p.eye_y - 0.18, -0.08), (0.09, 0.22, 0.13)),
        _Ellipsoid("ear_l", "skin", (0.97 * p.head_w, p.eye_y - 0.18, -0.08), (0.09, 0.22, 0.13)),
    ]
    if p.hair_style != "bald":
        pad = 0.025 if p.hair_style == "buzz" else 0.08
        hr = (p.head_w + pad, p.head_h + 0.6 * pad, p.head_d + pad)
        hc = (0.0, cy + 0.4 * pad, -0.02)
        front = (p.hairline - hc[1]) / hr[1]
        side = {"long": -0.95, "short": (p.eye_y + 0.12 - hc[1]) / hr[1], "buzz": (p.eye_y + 0.1 - hc[1]) / hr[1]}[
            p.hair_style]
        back = -0.95 if p.hair_style == "long" else -0.55

        def hair_clip(x: np.ndarray, y: np.ndarray, z: np.ndarray, front=front, side=side, back=back) -> np.ndarray:
            level = np.where(z > 0, side + (front - side) * np.clip(z * 1.6, 0, 1) ** 1.5,
                             side + (back - side) * np.clip(-z, 0, 1))
            return y > level

        parts.append(_Ellipsoid("hair", "hair", hc, hr, clip=hair_clip, back_faces=p.hair_style == "long"))
        if p.hair_style == "long":
            parts.append(_Ellipsoid("hair_back", "hair", (0.0, -0.55, -0.32), (p.head_w + 0.14, 1.15, 0.62),
                                    clip=lambda x, y, z: z < 0.25, back_faces=True))
    return parts


def _body_parts(p: Identity) -> list[_Ellipsoid]:
    """Neck and shoulders: they follow the head's position but not its rotation."""
    return [
        _Ellipsoid("neck", "skin", (0.0, -1.25, -0.15), (0.48, 0.9, 0.45)),
        _Ellipsoid("shoulders", "shirt", (0.0, -2.55, -0.2), (2.0, 0.95, 0.8)),
    ]


def _mic_parts(p: Identity, rot: np.ndarray) -> list[_Ellipsoid]:
    """A hand-held microphone in front of the mouth (camera-aligned, placed from the head pose); its head
    hides the middle of the lips from the camera."""
    mouth = rot @ np.array([0.0, p.mouth_y - 0.05, p.head_d * 0.9])
    x, y, z = mouth[0], mouth[1] + 0.02, mouth[2] + 0.45
    return [
        _Ellipsoid("mic_head", "mic", (x, y, z), (0.17, 0.17, 0.17)),
        _Ellipsoid("mic_handle", "mic_handle", (x, y - 0.75, z - 0.1), (0.07, 0.65, 0.07)),
    ]


MIC_VERSION = 2  # bumped when the microphone moves, so cached renders with the old one are not reused


def _lid_curves(p: Identity, s: np.ndarray, blink: float) -> tuple[np.ndarray, np.ndarray]:
    """Upper and lower eyelid heights (relative to the eye centre) at normalised position s in [-1, 1]."""
    k = np.clip(1 - s * s, 0, 1)
    openness = 1.0 - blink
    return p.eye_h * k ** 0.8 * openness, -0.75 * p.eye_h * k * openness


def _mouth_curves(p: Identity, c: Condition, s: np.ndarray):
    """Mouth outlines at normalised position s in [-1, 1]: (line, inner up, inner down, outer up, outer down)."""
    k = np.sqrt(np.clip(1 - s * s, 0, 1))
    line = p.mouth_y + 0.06 * c.smile * s * s
    gap = 0.15 * c.mouth_open * k
    inner_up = line + 0.35 * gap
    inner_down = line - 0.65 * gap
    outer_up = inner_up + p.lip_upper * k + 0.004
    outer_down = inner_down - p.lip_lower * k - 0.004
    return line, inner_up, inner_down, outer_up, outer_down


def _brow_line(p: Identity, s: np.ndarray) -> np.ndarray:
    return p.eye_y + p.brow_gap + p.brow_arch * (1 - s * s)


def _landmarks_head(p: Identity, c: Condition) -> np.ndarray:
    """The 68 iBUG landmarks as (x, y) in the head frame; z comes from the surface."""
    pts = np.zeros((68, 2))
    # jaw 0..16: from the subject's right ear (image left) over the chin to the left ear
    phi = np.linspace(0, np.pi, 17)
    top, chin = p.eye_y - 0.08, 0.1 - p.head_h + 0.05
    pts[0:17, 0] = -0.93 * p.head_w * np.cos(phi) * np.where(np.sin(phi) > 0.5, 0.95, 1.0)
    pts[0:17, 1] = top - (top - chin) * np.sin(phi) ** 1.3
    # brows 17..26
    s5 = np.linspace(-0.9, 0.9, 5)
    bw = 1.25 * p.eye_w
    pts[17:22] = np.stack([-p.eye_sep + s5 * bw, _brow_line(p, s5)], 1)
    pts[22:27] = np.stack([p.eye_sep + s5 * bw, _brow_line(p, s5)], 1)
    # nose 27..35: bridge top to tip, then the base from image left to right
    tip_y = p.eye_y - 0.55 * p.nose_len - 0.30 * p.nose_len
    pts[27:31, 0] = 0.0
    pts[27:31, 1] = np.linspace(p.eye_y + 0.02, tip_y, 4)
    base_y = p.eye_y - 1.08 * p.nose_len
    pts[31:36] = np.stack([np.linspace(-0.9, 0.9, 5) * p.nose_w, np.full(5, base_y)], 1)
    # eyes 36..47 (right eye at image left): corner, two upper lid points, corner, two lower lid points
    for start, ex, order in ((36, -p.eye_sep, (-1, -1 / 3, 1 / 3, 1, 1 / 3, -1 / 3)),
                             (42, p.eye_sep, (-1, -1 / 3, 1 / 3, 1, 1 / 3, -1 / 3))):
        s = np.array(order)
        up, down = _lid_curves(p, s, c.blink)
        ys = np.where(np.arange(6) < 3, up, down)
        ys[[0, 3]] = 0.0
        pts[start:start + 6] = np.stack([ex + s * p.eye_w, p.eye_y + ys], 1)
    # mouth 48..59 outer, 60..67 inner
    so = np.array([-1, -2 / 3, -1 / 3, 0, 1 / 3, 2 / 3, 1, 2 / 3, 1 / 3, 0, -1 / 3, -2 / 3])
    line, iu, idn, ou, od = _mouth_curves(p, c, so)
    pts[48:60] = np.stack([so * p.mouth_w, np.where(np.arange(12) <= 6, ou, od)], 1)
    pts[[48, 54], 1] = line[[0, 6]]
    si = np.array([-0.9, -0.4, 0, 0.4, 0.9, 0.4, 0, -0.4])
    line, iu, idn, ou, od = _mouth_curves(p, c, si)
    pts[60:68] = np.stack([si * p.mouth_w, np.where(np.arange(8) <= 4, iu, idn)], 1)
    pts[[60, 64], 1] = line[[0, 4]]
    return pts


def _surface_z(parts: list[_Ellipsoid], xy: np.ndarray) -> np.ndarray:
    """Front-most z of the face surface at head-frame points (x, y), along the head's own z axis."""
    z = np.full(len(xy), -np.inf)
    for part in parts:
        if part.kind != "face":
            continue
        q, c = part.to_sphere(np.eye(3), 1.0, np.zeros(3))
        hit, front, _, _, _ = _roots(q, c, xy[:, 0], xy[:, 1])
        z = np.where(hit, np.maximum(z, front), z)
    return z


# --------------------------------------------------------------------------------------------------
# Rendering

HEAD_SCALE = 0.46  # head units to frame half-heights at condition.scale == 1
EXPOSURE_TARGET = 0.42  # mean face brightness the virtual camera exposes for, at least


def _size_hw(size: int | tuple[int, int]) -> tuple[int, int]:
    return (size, size) if isinstance(size, (int, np.integer)) else (int(size[0]), int(size[1]))


def render(identity: Identity, condition: Condition, size: int | tuple[int, int] = 256) -> Rendering:
    """Render `identity` in `condition` as a frame of `size` (int for square, or (height, width))."""
    p, c = identity, condition
    h, w = _size_hw(size)
    half = h / 2
    us = ((np.arange(w) + 0.5 - w / 2) / half)[None, :]
    vs = ((half - (np.arange(h) + 0.5)) / half)[:, None]
    rot = rotation(c.yaw, c.pitch, c.roll)
    scale = HEAD_SCALE * c.scale
    origin = np.array([c.offset[0], -c.offset[1] + 0.12 * c.scale, 0.0])
    body_rot = rotation(0.35 * c.yaw, 0.0, 0.3 * c.roll)

    head = _head_parts(p)
    scene: list[tuple[_Ellipsoid, np.ndarray, np.ndarray]] = [(e, *e.to_sphere(rot, scale, origin)) for e in head]
    scene += [(e, *e.to_sphere(body_rot, scale, origin)) for e in _body_parts(p)]
    if c.occluder == "microphone":
        scene += [(e, *e.to_sphere(np.eye(3), scale, origin)) for e in _mic_parts(p, rot)]
    elif c.occluder is not None:
        from .errors import FaceswapError
        raise FaceswapError(f"unknown occluder {c.occluder!r}: use None or 'microphone'")

    zbuf = np.full((h, w), -np.inf)
    owner = np.full((h, w), -1, np.int16)
    normal = np.zeros((3, h, w))
    for i, (part, q, cen) in enumerate(scene):
        qi = np.linalg.inv(q)
        ex, ey = np.linalg.norm(qi[0]), np.linalg.norm(qi[1])
        c0 = max(int((cen[0] - ex) * half + w / 2) - 1, 0)
        c1 = min(int((cen[0] + ex) * half + w / 2) + 2, w)
        r0 = max(int(half - (cen[1] + ey) * half) - 1, 0)
        r1 = min(int(half - (cen[1] - ey) * half) + 2, h)
        if c0 >= c1 or r0 >= r1:
            continue
        hit, t, t_back, (ox, oy, oz), d = _roots(q, cen, us[:, c0:c1], vs[r0:r1])
        sx, sy, sz = ox + t * d[0], oy + t * d[1], oz + t * d[2]
        sign = 1.0
        if part.clip is not None:
            keep = part.clip(sx, sy, sz)
            if part.back_faces:
                bx, by, bz = ox + t_back * d[0], oy + t_back * d[1], oz + t_back * d[2]
                use_back = ~keep & part.clip(bx, by, bz)
                t = np.where(use_back, t_back, t)
                sx, sy, sz = (np.where(use_back, b, f) for b, f in ((bx, sx), (by, sy), (bz, sz)))
                sign = np.where(use_back, -1.0, 1.0)
                keep = keep | use_back
            hit = hit & keep
        zb = zbuf[r0:r1, c0:c1]
        win = hit & (t > zb)
        if not win.any():
            continue
        zb[win] = t[win]
        owner[r0:r1, c0:c1][win] = i
        g = np.einsum("ji,jhw->ihw", q, np.stack([sx, sy, sz])) * sign  # gradient of |Q(p-C)|^2
        g /= np.linalg.norm(g, axis=0, keepdims=True) + 1e-12
        normal[:, r0:r1, c0:c1][:, win] = g[:, win]

    kinds = np.array([e.kind for e, _, _ in scene] + ["bg"])
    kind = kinds[owner]  # owner -1 picks "bg"
    face = kind == "face"
    albedo = np.empty((h, w, 3))
    t = np.clip(vs, -1, 1) * 0.5 + 0.5
    albedo[:] = (np.asarray(c.bg_bottom) + (np.asarray(c.bg_top) - np.asarray(c.bg_bottom)) * t[..., None])
    ao = np.ones((h, w))
    gloss = np.zeros((h, w))

    # head-frame coordinates of every pixel that belongs to the head or the body
    albedo[kind == "skin"] = p.skin  # ears and neck: plain skin
    ys, xs = np.nonzero(face)
    pc = np.stack([us[0, xs], vs[ys, 0], zbuf[ys, xs]], 1)
    hx, hy, hz = ((pc - origin) @ rot / scale).T  # rot.T applied to row vectors
    px = 2.0 / (h * scale)  # one pixel in head units
    col = np.tile(np.asarray(p.skin), (len(xs), 1))
    tex = 1.0 + 0.035 * np.sin(23 * hx + 3 * np.sin(17 * hy)) * np.sin(19 * hy + 2 * hz)
    col *= tex[:, None]
    occl = np.ones(len(xs))
    _paint_face(p, c, hx, hy, hz, px, col, occl)
    albedo[ys, xs] = col
    ao[ys, xs] = occl
    gloss[ys, xs] = 0.08

    hair = kind == "hair"
    if hair.any():
        yh, xh = np.nonzero(hair)
        pch = np.stack([us[0, xh], vs[yh, 0], zbuf[yh, xh]], 1)
        gx, gy, gz = ((pch - origin) @ rot / scale).T
        strands = 0.82 + 0.18 * np.sin(60 * np.arctan2(gx, gy + 0.3) + 4 * np.sin(9 * gz))
        albedo[yh, xh] = np.asarray(p.hair) * strands[:, None]
        gloss[yh, xh] = 0.12
    albedo[kind == "shirt"] = p.shirt
    mic = (kind == "mic") | (kind == "mic_handle")
    if mic.any():
        ym, xm = np.nonzero(mic)
        mesh = 0.75 + 0.25 * np.sign(np.sin(us[0, xm] * h * 0.9) * np.sin(vs[ym, 0] * h * 0.9))
        albedo[ym, xm] = np.where((kind[ym, xm] == "mic")[:, None], 0.35 * mesh[:, None], 0.08)
        gloss[ym, xm] = 0.3

    # light: wrapped Lambert + ambient + a little specular (view direction is +z)
    az, el = np.radians([c.light_azimuth, c.light_elevation])
    light = np.array([math.sin(az) * math.cos(el), math.sin(el), math.cos(az) * math.cos(el)])
    ndl = np.einsum("i,ihw->hw", light, normal)
    diffuse = np.clip((ndl + 0.15) / 1.15, 0, 1)
    half_vec = light + np.array([0, 0, 1.0])
    half_vec /= np.linalg.norm(half_vec)
    spec = gloss * np.clip(np.einsum("i,ihw->hw", half_vec, normal), 0, 1) ** 24
    shade = (c.ambient + (1 - c.ambient) * diffuse) * ao
    lit = albedo * shade[..., None] * np.asarray(c.light_color) + spec[..., None]
    bg = owner < 0
    lit[bg] = albedo[bg]
    # camera auto-exposure: a dark face in the frame makes the camera open up (as real ones do)
    if face.any():
        level = float(lit[face].mean())
        lit *= min(max(EXPOSURE_TARGET / max(level, 1e-3), 1.0), 1.8)
    frame = (np.clip(lit, 0, 1) * 255 + 0.5).astype(np.uint8)

    # landmarks: head frame -> surface -> camera -> pixels, visible where nothing is in front
    xy = _landmarks_head(p, c)
    z = _surface_z(head, xy) - 0.005
    pts = np.concatenate([xy, z[:, None]], 1)
    cam = origin + scale * pts @ rot.T
    lx = cam[:, 0] * half + w / 2
    ly = half - cam[:, 1] * half
    ix = np.clip(np.floor(lx).astype(int), 0, w - 1)
    iy = np.clip(np.floor(ly).astype(int), 0, h - 1)
    inside = (lx >= 0) & (lx < w) & (ly >= 0) & (ly < h)
    vis = inside & (cam[:, 2] >= zbuf[iy, ix] - 0.03 * scale) & np.isfinite(z)
    marks = np.stack([lx, ly, vis.astype(float)], 1).astype(np.float32)
    return Rendering(frame, marks, face)


def _paint_face(p: Identity, c: Condition, x, y, z, px: float, col: np.ndarray, occl: np.ndarray) -> None:
    """Paint eyes, brows, lips, beard and glasses onto skin pixels at head-frame points (in place)."""
    front = z > 0.15

    def put(alpha: np.ndarray, colour) -> None:
        a = alpha[:, None]
        col[:] = col * (1 - a) + np.asarray(colour) * a

    # eye sockets darken the skin around the eyes (a cheap ambient occlusion)
    for ex in (-p.eye_sep, p.eye_sep):
        occl *= 1 - 0.45 * np.exp(-((x - ex) / (1.4 * p.eye_w)) ** 2 - ((y - p.eye_y - 0.04) / 0.13) ** 2)
    occl *= 1 - 0.18 * np.exp(-(x / 0.25) ** 2 - ((y - (p.mouth_y - p.lip_lower - 0.07)) / 0.05) ** 2)

    if p.beard > 0:
        top = p.mouth_y + 0.11 + 0.45 * np.clip((np.abs(x) - 0.35) / 0.45, 0, 1)
        grain = 0.75 + 0.25 * np.sin(97 * x) * np.sin(89 * y + 13 * x)
        cover = _smooth(y - top, 0.04) * np.clip((z + 0.15) / 0.35, 0, 1)  # fades out towards the ears
        cover *= 1 - np.exp(-(x / 0.1) ** 2 - ((y - p.mouth_y - 0.06) / 0.03) ** 2) * 0.7  # thin under nose
        put(np.clip(p.beard * cover * grain, 0, 1) * 0.92, p.hair)

    # mouth: lips, then the dark inside, then a hint of teeth, then the line where the lips meet
    s = x / p.mouth_w
    line, iu, idn, ou, od = _mouth_curves(p, c, np.clip(s, -1, 1))
    across = (np.abs(s) - 1) * p.mouth_w
    lips = _smooth(np.maximum(np.maximum(y - ou, od - y), across), px) * front
    put(lips, p.lips)
    if c.mouth_open > 0.02:
        inside = _smooth(np.maximum(np.maximum(y - iu, idn - y), across), px) * front
        put(inside, (0.18, 0.05, 0.06))
        teeth = inside * _smooth(np.abs(y - (iu - 0.018)) - 0.018, px) * (np.abs(s) < 0.7)
        put(teeth * 0.85, (0.92, 0.90, 0.84))
    put(_smooth(np.maximum(np.abs(y - line) - 0.006 * (1 - c.mouth_open * 6), across), px) * front * 0.7,
        (0.25, 0.08, 0.08))

    # eyes: white, iris, pupil, then the dark upper lid line (which is all that shows in a blink)
    for ex in (-p.eye_sep, p.eye_sep):
        s = (x - ex) / p.eye_w
        up, down = _lid_curves(p, np.clip(s, -1, 1), c.blink)
        dy = y - p.eye_y
        across = (np.abs(s) - 1) * p.eye_w
        eye = _smooth(np.maximum(np.maximum(dy - up, down - dy), across), px) * front
        put(eye, (0.90, 0.88, 0.85))
        r = np.hypot(x - ex, dy)
        put(eye * _smooth(r - 0.85 * p.eye_h, px), p.iris)
        put(eye * _smooth(r - 0.38 * p.eye_h, px), (0.03, 0.03, 0.03))
        lid = _smooth(np.maximum(np.abs(dy - up - 0.006) - 0.011, (np.abs(s) - 1.08) * p.eye_w), px) * front
        put(lid * 0.9, (0.10, 0.07, 0.06))
        # brows
        sb = (x - ex * 1.04) / (1.25 * p.eye_w)
        outer = np.clip(sb * np.sign(ex), 0, 1)
        thick = p.brow_thick * (1 - 0.45 * outer)
        brow = _smooth(np.maximum(np.abs(y - _brow_line(p, np.clip(sb, -1, 1))) - thick,
                                  (np.abs(sb) - 1) * 1.25 * p.eye_w), px) * front
        put(brow * 0.92, tuple(0.8 * np.asarray(p.hair)))

    # nostrils
    base_y = p.eye_y - 1.08 * p.nose_len
    for nx in (-0.5 * p.nose_w, 0.5 * p.nose_w):
        nost = np.exp(-((x - nx) / (0.35 * p.nose_w)) ** 2 - ((y - base_y - 0.03) / 0.025) ** 2)
        put(nost * 0.6 * front, (0.18, 0.08, 0.07))

    if p.glasses:
        ya = p.eye_y + 0.02
        rim = np.zeros_like(x)
        for ex in (-p.eye_sep, p.eye_sep):
            e = np.hypot((x - ex) / (1.45 * p.eye_w), (y - ya) / (2.6 * p.eye_h))
            rim = np.maximum(rim, _smooth(np.abs(e - 1) * 1.45 * p.eye_w - 0.012, px))
            col *= (1 - 0.12 * _smooth((e - 1) * p.eye_w, px) * front)[:, None]  # tinted lenses
        lens_edge = p.eye_sep - 1.45 * p.eye_w
        bridge = _smooth(np.maximum(np.abs(y - ya - 0.03) - 0.012, np.abs(x) - lens_edge), px)
        arms = _smooth(np.abs(y - ya - 0.03) - 0.014, px) * (np.abs(x) > p.eye_sep + 1.4 * p.eye_w) * (z > -0.3)
        put(np.maximum(np.maximum(rim * front, bridge * front), arms), p.frame_color)


# --------------------------------------------------------------------------------------------------
# Clips: smooth motion, a voice that follows the mouth, MP4 + ground-truth sidecar


def _smooth_keys(rng: np.random.Generator, n: int, fps: float, every: float, draw: Callable[[], float]) -> np.ndarray:
    """A smooth curve over n frames through random keys drawn every `every` seconds (smoothstep ease)."""
    n_keys = int(n / (fps * every)) + 2
    keys = np.array([draw() for _ in range(n_keys)])
    pos = np.arange(n) / (fps * every)
    i = np.minimum(pos.astype(int), n_keys - 2)
    f = pos - i
    f = f * f * (3 - 2 * f)
    return keys[i] * (1 - f) + keys[i + 1] * f


def random_motion(n_frames: int, fps: float = 25.0, seed: int = 0, yaw_range: tuple[float, float] = (-90, 90),
                  profile_share: float = 0.35, occluder: str | None = None) -> list[Condition]:
    """Smooth, varied conditions for a clip: head turns (some to profile), talking, blinks, moving light."""
    rng = np.random.default_rng([0xC11B, seed])
    lo, hi = yaw_range

    def yaw_key() -> float:
        if rng.uniform() < profile_share:
            return float(rng.choice([lo, hi]) * rng.uniform(0.75, 1.0))
        return float(np.clip(rng.normal(0, 20), lo, hi))

    yaw = _smooth_keys(rng, n_frames, fps, 1.6, yaw_key)
    pitch = _smooth_keys(rng, n_frames, fps, 1.3, lambda: rng.normal(0, 7))
    roll = _smooth_keys(rng, n_frames, fps, 1.9, lambda: rng.normal(0, 5))
    smile = _smooth_keys(rng, n_frames, fps, 2.5, lambda: max(0.0, rng.normal(0.2, 0.35)))
    az = _smooth_keys(rng, n_frames, fps, 4.0, lambda: rng.uniform(-70, 70))
    el = _smooth_keys(rng, n_frames, fps, 4.0, lambda: rng.uniform(5, 50))
    amb = _smooth_keys(rng, n_frames, fps, 4.0, lambda: rng.uniform(0.28, 0.45))
    warm = _smooth_keys(rng, n_frames, fps, 5.0, lambda: rng.uniform(-1, 1))
    scale = _smooth_keys(rng, n_frames, fps, 3.0, lambda: rng.uniform(0.9, 1.1))
    dx = _smooth_keys(rng, n_frames, fps, 2.5, lambda: rng.uniform(-0.12, 0.12))
    dy = _smooth_keys(rng, n_frames, fps, 2.5, lambda: rng.uniform(-0.08, 0.08))
    # talking: syllables of ~0.2 s inside phrases separated by pauses
    t = np.arange(n_frames) / fps
    phrase = _smooth_keys(rng, n_frames, fps, 1.2, lambda: float(rng.uniform() < 0.7)) > 0.5
    syll = np.abs(np.sin(np.pi * t * rng.uniform(4.0, 5.0) + 2 * np.sin(t * 1.7))) ** 1.5
    mouth = np.clip(syll * phrase * _smooth_keys(rng, n_frames, fps, 0.4, lambda: rng.uniform(0.3, 0.9)), 0, 1)
    # blinks: 0.15 s every 2-6 s
    blink = np.zeros(n_frames)
    tb = rng.uniform(0.5, 3.0)
    while tb < t[-1] + 1:
        blink = np.maximum(blink, np.clip(1 - np.abs(t - tb) / 0.08, 0, 1))
        tb += rng.uniform(2.0, 6.0)
    bg = rng.uniform(0.25, 0.75, 3)
    out = []
    for k in range(n_frames):
        light = (1.0, 0.97 - 0.04 * warm[k], 0.92 - 0.10 * warm[k])
        out.append(Condition(
            yaw=float(yaw[k]), pitch=float(pitch[k]), roll=float(roll[k]), mouth_open=float(mouth[k]),
            smile=float(smile[k]), blink=float(blink[k]), light_azimuth=float(az[k]), light_elevation=float(el[k]),
            light_color=light, ambient=float(amb[k]), scale=float(scale[k]), offset=(float(dx[k]), float(dy[k])),
            bg_top=tuple(float(v) for v in np.clip(bg + 0.12, 0, 1)),
            bg_bottom=tuple(float(v) for v in np.clip(bg - 0.2, 0, 1)), occluder=occluder))
    return out


def voice_track(mouth_open: np.ndarray, fps: float, sample_rate: int = 24000, seed: int = 0,
                pitch_hz: float = 140.0) -> np.ndarray:
    """A voice-like mono signal (harmonics with moving formants) whose loudness follows mouth opening."""
    rng = np.random.default_rng([0xA0D10, seed])
    n = int(round(len(mouth_open) / fps * sample_rate))
    t = np.arange(n) / sample_rate
    frame_t = np.arange(len(mouth_open)) / fps
    env = np.interp(t, frame_t, mouth_open)
    f0 = pitch_hz * (1 + 0.08 * np.sin(2 * np.pi * 0.7 * t) + 0.03 * np.sin(2 * np.pi * 5.5 * t))
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    formant = 500 + 900 * env  # an open mouth raises the first formant
    sig = np.zeros(n)
    for k in range(1, 16):
        fk = k * f0
        gain = np.exp(-((fk - formant) / 300) ** 2) + 0.5 * np.exp(-((fk - 1800) / 400) ** 2) + 0.05
        sig += gain * np.sin(k * phase) / k
    sig += 0.02 * rng.standard_normal(n)
    sig *= env ** 1.2
    return (0.5 * sig / (np.abs(sig).max() + 1e-9)).astype(np.float32)


def truth_path(clip: str | Path) -> Path:
    """Where the ground-truth sidecar of a clip lives."""
    clip = Path(clip)
    return clip.with_name(clip.stem + ".truth.json")


def render_clip(identity: Identity, n_frames: int, path: str | Path, *, fps: float = 25.0,
                size: int | tuple[int, int] = 256, seed: int = 0, conditions: Sequence[Condition] | None = None,
                overwrite: bool = False, progress: bool = False, **motion) -> Path:
    """Render a talking, turning clip of `identity` to an MP4 with audio plus a ground-truth sidecar."""
    from . import media  # media is pure I/O; imported here so `synth` stays importable without PyAV

    conditions = list(conditions) if conditions is not None else random_motion(n_frames, fps, seed, **motion)
    h, w = _size_hw(size)
    mouth = np.array([c.mouth_open for c in conditions])
    audio = voice_track(mouth, fps, seed=seed, pitch_hz=110 + 80 * ((sum(map(ord, identity.name)) % 7) / 6))
    marks = []
    frames = iter(conditions)
    if progress:
        from tqdm.auto import tqdm
        frames = tqdm(frames, total=len(conditions), desc=f"render {identity.name}", leave=False)
    truth_tmp = media.AtomicPath(truth_path(path), overwrite)
    try:
        with media.VideoWriter(path, fps, audio=(audio, 24000), overwrite=overwrite,
                               metadata={"comment": f"synthetic face: faceswap-lab cast member {identity.name}"}) as wr:
            for c in frames:
                r = render(identity, c, (h, w))
                wr.write(r.frame)
                marks.append(np.round(r.landmarks, 2).tolist())
        truth = {"identity": asdict(identity), "fps": fps, "size": [h, w], "seed": seed,
                 "conditions": [asdict(c) for c in conditions], "landmarks": marks}
        truth_tmp.tmp.write_text(json.dumps(truth))
        truth_tmp.commit()
    except BaseException:
        truth_tmp.discard()
        raise
    return Path(path)


@dataclass
class Truth:
    """A cast clip's per-frame ground truth."""

    identity: Identity
    fps: float
    size: tuple[int, int]
    conditions: list[Condition]
    landmarks: np.ndarray  # (N, 68, 3)


def _condition_from(d: dict) -> Condition:
    names = {f.name for f in fields(Condition)}
    d = {k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names}
    return Condition(**d)


def load_truth(clip_or_sidecar: str | Path) -> Truth:
    """Read the ground truth of a cast clip (give the clip or its .truth.json)."""
    from .errors import FaceswapError

    p = Path(clip_or_sidecar)
    p = p if p.name.endswith(".truth.json") else truth_path(p)
    try:
        d = json.loads(p.read_text())
        ident = d["identity"]
        ident = Identity(**{k: tuple(v) if isinstance(v, list) else v for k, v in ident.items()})
        return Truth(ident, float(d["fps"]), tuple(d["size"]), [_condition_from(c) for c in d["conditions"]],
                     np.asarray(d["landmarks"], np.float32))
    except FileNotFoundError:
        raise FaceswapError(f"{p}: no ground truth here; it exists only for synthetic cast clips") from None
    except (ValueError, KeyError, TypeError) as e:
        raise FaceswapError(f"{p}: damaged ground-truth file ({e}); re-render the clip") from None


def swap_truth(target: Identity, truth: Truth, index: int, size: int | tuple[int, int] | None = None) -> Rendering:
    """The right answer of a swap: `target` rendered in the exact conditions of frame `index`."""
    return render(target, truth.conditions[index], size or truth.size)


__all__ = ["CAST", "Condition", "Identity", "Rendering", "Truth", "cast_names", "get_identity", "load_truth",
           "random_motion", "render", "render_clip", "rotation", "swap_truth", "truth_path", "voice_track",
           "replace"]
