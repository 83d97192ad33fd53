"""The head model: ellipsoid parts, feature curves and the 68 landmarks in the head frame."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .cast import Condition, Identity


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
        side = {"long": -0.95, "short": (p.eye_y + 0.12 - hc[1]) / hr[1],
                "buzz": (p.eye_y + 0.1 - hc[1]) / hr[1]}[p.hair_style]
        back = -0.95 if p.hair_style == "long" else -0.55

        def hair_clip(x: np.ndarray, y: np.ndarray, z: np.ndarray, front=front, side=side,
                      back=back) -> np.ndarray:
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
    """Mouth outlines at normalised position s in [-1, 1]:
    (line, inner up, inner down, outer up, outer down)."""
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



def landmarks_3d(identity: Identity, condition: Condition = Condition()) -> np.ndarray:
    """The 68 landmarks of `identity` in `condition` as (68, 3) head-frame points: x, y from the landmark
    layout, z from the front-most surface of the face parts (head units, y up, z out of the face)."""
    xy = _landmarks_head(identity, condition)
    z = _surface_z(_head_parts(identity), xy)
    return np.c_[xy, z]
