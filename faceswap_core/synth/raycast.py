"""The renderer: ray-cast the head, body and microphone ellipsoids over all pixels,
paint the face, light it."""

from __future__ import annotations

import math

import numpy as np

from ..errors import FaceswapError
from .cast import Condition, Identity, Rendering
from .geometry import (
    _body_parts,
    _brow_line,
    _Ellipsoid,
    _head_parts,
    _landmarks_head,
    _lid_curves,
    _mic_parts,
    _mouth_curves,
    _roots,
    _smooth,
    _surface_z,
    rotation,
)

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
    scene: list[tuple[_Ellipsoid, np.ndarray, np.ndarray]] = [(e, *e.to_sphere(rot, scale, origin))
                                                              for e in head]
    scene += [(e, *e.to_sphere(body_rot, scale, origin)) for e in _body_parts(p)]
    if c.occluder == "microphone":
        scene += [(e, *e.to_sphere(np.eye(3), scale, origin)) for e in _mic_parts(p, rot)]
    elif c.occluder is not None:
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
        arms = (_smooth(np.abs(y - ya - 0.03) - 0.014, px) * (np.abs(x) > p.eye_sep + 1.4 * p.eye_w)
                * (z > -0.3))
        put(np.maximum(np.maximum(rim * front, bridge * front), arms), p.frame_color)
