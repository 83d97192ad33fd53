"""Steady landmarks: filter each face's 68 landmarks over a video's frames, and measure jitter and lag.

Detectors place landmarks a little differently in every frame, so a swapped face shakes ("flicker") even
on a still head. `Steadier` follows every face of one video (matched by nearest box) and passes its
landmarks through constant-velocity Kalman filters, in two parts: the face's motion (centre, log of its
radius) and its shape in its own frame (points minus centre, over the radius: the rms distance from the
centre), each with the noise level measured for it.

Why a Kalman filter and not the One Euro filter (Casiez et al. 2012): measured on cast clips with a
simulated noisy detector (`measure`), One Euro holds a position and follows with an adaptive low-pass, so
it trailed a fast head turn by 0.4-2 frames, or smoothed little once tuned not to; and it knows nothing of
the detector's noise, so exact landmarks (the truth detector) came out 3-10% of the eye distance off. The
Kalman filter predicts with the face's velocity (no lag on a steady turn), widens its uncertainty when a
frame surprises it (a turn starting), and the noise it expects is measured from the landmarks themselves
(their second differences over frames): exact input passes almost unchanged, noisy input is smoothed,
with no setting per detector. A face that jumps (a cut), is missing from a frame, or returns after a gap
starts afresh. Taught in chapter 05.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from .. import synth
from . import detect
from .landmark_scores import nme

SHAPE_ACCEL = 0.5  # (radii/s^2)^2 s: how fast a face's shape may change speed; lower smooths more, lags more
MOTION_ACCEL = 10.0  # same for the face's centre and size: heads move more freely than expressions change
MANOEUVRE = 3.0  # sigmas: a frame that the model explains worse than this is a manoeuvre (see `_Kalman`)
NOISE_TIME = 0.4  # seconds over which the detector's noise level is re-estimated (it is steady in a video)
MAX_JUMP = 0.5  # box sizes: a face whose centre moves further between two frames is a new face (a cut)
MIN_IOU = 0.3  # ... and so is one whose box overlaps its last box less (a fast head turn keeps >= 0.8)
MAX_GAP = 0.25  # seconds: a face unseen for longer starts afresh (what we knew of its motion is stale)
DEFAULT_FPS = 25.0  # the frame rate assumed when the caller does not know it
NOISE = 0.015  # simulated detector: per-point noise, fraction of the face size (a good real detector)
SHAKE = 0.005  # ... plus a shift of the whole face per frame (box jitter), fraction of the face size


class _Kalman:
    """A constant-velocity Kalman filter over a vector whose measurement noise is estimated on the way."""

    def __init__(self, z: np.ndarray, accel: float, dims: int):
        self.pos, self.vel = z.astype(np.float64), np.zeros(z.shape)
        self.accel, self.dims = accel, dims  # dims: coordinates per point (the noise is isotropic per point)
        self.recent = [self.pos]  # the last three measurements
        self.noise: float | None = None  # variance of one coordinate's measurement noise
        self.cov: np.ndarray | None = None  # (2, 2) of (position, velocity), the same for every coordinate

    def __call__(self, z: np.ndarray, dt: float) -> np.ndarray:
        z = z.astype(np.float64)
        self.recent = [*self.recent[-2:], z]
        # white noise has second differences of variance 6 sigma^2; motion hardly any
        if len(self.recent) == 3:
            d2 = (self.recent[2] - 2 * self.recent[1] + self.recent[0]).reshape(-1, self.dims)
            # median over points (fast mouths and blinks are few); that of a chi^2 with k = dims degrees of
            # freedom is about k (1 - 2 / 9k)^3 (Wilson-Hilferty)
            k = self.dims
            est = float(np.median((d2 ** 2).sum(1))) / (6 * k * (1 - 2 / (9 * k)) ** 3)
            w = 1 - np.exp(-dt / NOISE_TIME)
            self.noise = est if self.noise is None else self.noise + w * (est - self.noise)
        if self.noise is None:  # the first two frames: shown as found
            self.pos, self.vel = z, (z - self.pos) / dt
            return z
        r = self.noise
        if self.cov is None:
            self.cov = np.diag([r, 4 * r / dt ** 2])
        f = np.array([[1.0, dt], [0.0, 1.0]])
        q = self.accel * np.array([[dt ** 3 / 3, dt ** 2 / 2], [dt ** 2 / 2, dt]])
        pos = self.pos + self.vel * dt
        cov = f @ self.cov @ f.T + q
        innovation = z - pos
        # a manoeuvre (a head turn starting, a mouth opening): the face moved more than the model and the
        # noise explain (a chi^2 test over all coordinates): widen the uncertainty so the filter catches up
        surprise = float((innovation ** 2).mean()) / (cov[0, 0] + r)
        limit = 1 + MANOEUVRE * np.sqrt(2 / innovation.size)
        if surprise > limit:
            cov = cov * (surprise / limit)
        gain = cov[:, 0] / (cov[0, 0] + r)
        self.pos, self.vel = pos + gain[0] * innovation, self.vel + gain[1] * innovation
        self.cov = cov - np.outer(gain, cov[0])
        return self.pos


def _split(points: np.ndarray) -> tuple[np.ndarray, float, np.ndarray]:
    """Landmarks (K, 2) -> centre (2,), size (rms distance from the centre) and shape ((K, 2), unit size)."""
    centre = points.mean(0)
    size = float(np.sqrt(((points - centre) ** 2).sum(1).mean())) or 1.0
    return centre, size, (points - centre) / size


class _FaceFilter:
    """One face followed over time: its motion and its shape, each through a `_Kalman`."""

    def __init__(self, face: detect.Face, t: float):
        centre, size, shape = _split(face.landmarks[:, :2].astype(np.float64))
        self.unit = size  # the centre is filtered in units of the first size (comparable with the shape's)
        self.motion = _Kalman(np.r_[centre / size, np.log(size)], MOTION_ACCEL, 1)
        self.shape = _Kalman(shape.ravel(), SHAPE_ACCEL, 2)
        self.t, self.box = t, face.box

    def __call__(self, face: detect.Face, t: float) -> detect.Face:
        dt = t - self.t
        centre, size, shape = _split(face.landmarks[:, :2].astype(np.float64))
        m = self.motion(np.r_[centre / self.unit, np.log(size)], dt)
        s = self.shape(shape.ravel(), dt).reshape(-1, 2)
        points = face.landmarks.astype(np.float32)  # a third column (depth), if any, is kept as found
        points[:, :2] = m[:2] * self.unit + np.exp(m[2]) * s
        # the box keeps the detector's margin around the landmarks and moves with them
        box = face.box + detect.box_of(points[:, :2]) - detect.box_of(face.landmarks[:, :2])
        self.t, self.box = t, box
        return replace(face, box=box.astype(np.float32), landmarks=points)


def _centre(box: np.ndarray) -> np.ndarray:
    return (np.asarray(box[:2]) + np.asarray(box[2:4])) / 2


class Steadier:
    """Steadies the faces of one video, frame after frame: `steadier(faces, index)` -> the same faces,
    landmarks filtered over time. Use one per video (or clip); frames must come in order."""

    def __init__(self, fps: float | None = DEFAULT_FPS):
        self.fps = float(fps) if fps and fps > 0 else DEFAULT_FPS
        self.tracks: list[_FaceFilter] = []

    def reset(self) -> None:
        """Forget every face (a new video, or a jump back)."""
        self.tracks = []

    def __call__(self, faces: list[detect.Face], index: int) -> list[detect.Face]:
        t = index / self.fps
        if any(tr.t >= t for tr in self.tracks):
            self.reset()
        live = [tr for tr in self.tracks if t - tr.t <= MAX_GAP]
        pairs = sorted((float(np.linalg.norm(_centre(f.box) - _centre(tr.box))), i, j)
                       for i, f in enumerate(faces) for j, tr in enumerate(live))
        match: dict[int, _FaceFilter] = {}
        for dist, i, j in pairs:  # nearest first; each face and each track used once
            f, tr = faces[i], live[j]
            if i in match or any(m is tr for m in match.values()):
                continue
            if dist <= MAX_JUMP * max(f.size, 1.0) and detect.box_iou(f.box, tr.box) >= MIN_IOU:
                match[i] = tr
        out, self.tracks = [], []  # a track not matched in this frame is lost: it starts afresh
        for i, f in enumerate(faces):
            tr = match.get(i)
            if tr is None:
                tr = _FaceFilter(f, t)
                out.append(f)
            else:
                out.append(tr(f, t))
            self.tracks.append(tr)
        return out


def steady_clip(found: list[list[detect.Face]], fps: float = DEFAULT_FPS,
                indices: list[int] | None = None) -> list[list[detect.Face]]:
    """The faces of every frame of one clip, steadied (a fresh `Steadier` over all of them)."""
    steadier = Steadier(fps)
    indices = list(range(len(found))) if indices is None else indices
    return [steadier(faces, i) for faces, i in zip(found, indices)]


# --------------------------------------------------------------------------------------------------
# measuring (chapter 05 shows these)


def face_sizes(points: np.ndarray) -> np.ndarray:
    """The side of each frame's landmark box, (N,) from (N, 68, 2+): the `Face.size` of the truth."""
    span = points[:, :, :2].max(1) - points[:, :, :2].min(1)
    return np.sqrt(span.prod(1))


def simulate_detector(truth: np.ndarray, noise: float = NOISE, shake: float = SHAKE,
                      seed: int = 0) -> np.ndarray:
    """Landmarks (N, 68, 2) as a jittery detector would find them in frames whose truth is `truth`: Gaussian
    noise of `noise` face sizes per point and coordinate, plus a shift of `shake` per frame for all points."""
    rng = np.random.default_rng(seed)
    g = np.asarray(truth, np.float64)[:, :, :2]
    s = face_sizes(g)[:, None, None]
    return g + s * (rng.normal(0, noise, g.shape) + rng.normal(0, shake, (len(g), 1, 2)))


def jitter(points: np.ndarray, truth: np.ndarray) -> float:
    """Frame-to-frame shake beyond the truth's own motion: mean over frames and points of
    |(p_t - p_t-1) - (g_t - g_t-1)|, in face sizes."""
    p, g = np.asarray(points, np.float64)[:, :, :2], np.asarray(truth, np.float64)[:, :, :2]
    if len(g) < 2:
        return 0.0
    d = np.linalg.norm(np.diff(p, axis=0) - np.diff(g, axis=0), axis=2).mean(1)
    return float((d / face_sizes(g)[1:]).mean())


def mean_nme(points: np.ndarray, truth: np.ndarray, frames: np.ndarray | None = None) -> float:
    """`landmark_scores.nme` averaged over frames (all, or those `frames` selects)."""
    p, g = np.asarray(points, np.float64), np.asarray(truth, np.float64)
    sel = np.arange(len(g)) if frames is None else np.flatnonzero(np.asarray(frames, bool))
    return float(np.mean([nme(p[i], g[i]) for i in sel])) if len(sel) else 0.0


def fast_frames(truth: np.ndarray) -> np.ndarray:
    """(N,) bool: frames where the landmarks move at least half as fast as they ever do (the head turns)."""
    g = np.asarray(truth, np.float64)[:, :, :2]
    speed = np.r_[0.0, np.linalg.norm(np.diff(g, axis=0), axis=2).mean(1)]
    return speed >= 0.5 * speed.max() if speed.max() > 0 else np.zeros(len(g), bool)


def lag(points: np.ndarray, truth: np.ndarray, frames: np.ndarray | None = None,
        max_shift: float = 3.0) -> float:
    """The delay, in frames (to 0.05), that best aligns `points` with `truth` over `frames` (default: the
    fast ones): positive when the landmarks trail the truth."""
    p, g = np.asarray(points, np.float64)[:, :, :2], np.asarray(truth, np.float64)[:, :, :2]
    frames = fast_frames(g) if frames is None else np.asarray(frames, bool)
    n, t = len(g), np.arange(len(g))
    if n < 2 or not frames.any():
        return 0.0
    best = (np.inf, 0.0)
    for s in np.round(np.arange(-max_shift, max_shift + 1e-9, 0.05), 2):
        ts = t - s
        ok = frames & (ts >= 0) & (ts <= n - 1)
        if not ok.any():
            continue
        i0 = np.clip(np.floor(ts).astype(int), 0, n - 2)
        w = (ts - i0)[:, None, None]
        shifted = g[i0] * (1 - w) + g[i0 + 1] * w
        err = float(np.linalg.norm(p[ok] - shifted[ok], axis=2).mean())
        if err < best[0] - 1e-12 or (abs(err - best[0]) <= 1e-12 and abs(s) < abs(best[1])):
            best = (err, float(s))
    return best[1]


def steady_points(points: np.ndarray, fps: float = DEFAULT_FPS) -> np.ndarray:
    """One face's landmarks (N, 68, 2) over N consecutive frames, through a `Steadier`."""
    faces = [[detect.Face(detect.box_of(p[:, :2]), p[:, :2].astype(np.float32), 1.0, "points")]
             for p in points]
    return np.stack([f[0].landmarks for f in steady_clip(faces, fps)]).astype(np.float64)


def measure(truth: synth.Truth | np.ndarray, fps: float | None = None, seed: int = 0, noise: float = NOISE,
            shake: float = SHAKE) -> dict[str, float]:
    """Jitter, lag and NME of a simulated noisy detector on a cast clip's truth, without and with steadying;
    `nme_exact` is the truth itself steadied (what the filter costs an exact detector)."""
    if isinstance(truth, synth.Truth):
        fps = fps or truth.fps
        truth = truth.landmarks
    g = np.asarray(truth, np.float64)[:, :, :2]
    fps = fps or DEFAULT_FPS
    raw = simulate_detector(g, noise, shake, seed)
    steadied, exact = steady_points(raw, fps), steady_points(g, fps)
    fast = fast_frames(g)
    j_raw, j_steady = jitter(raw, g), jitter(steadied, g)
    return {"jitter_raw": j_raw, "jitter_steady": j_steady,
            "jitter_ratio": j_steady / j_raw if j_raw else 1.0,
            "nme_raw": mean_nme(raw, g), "nme_steady": mean_nme(steadied, g), "nme_exact": mean_nme(exact, g),
            "lag_frames": lag(steadied, g, fast), "turn_nme_raw": mean_nme(raw, g, fast),
            "turn_nme_steady": mean_nme(steadied, g, fast)}


def head_turn(frames: int = 45, seconds: float = 0.4, yaw: tuple[float, float] = (-60.0, 60.0),
              fps: float = DEFAULT_FPS) -> list[synth.Condition]:
    """Conditions of a fast head turn for `synth.render_clip`: hold, turn from yaw[0] to yaw[1] in `seconds`
    (smoothstep), hold; the turn starts a third of the way in."""
    t = (np.arange(frames) - frames // 3) / (seconds * fps)
    f = np.clip(t, 0, 1)
    return [synth.Condition(yaw=float(yaw[0] + (yaw[1] - yaw[0]) * v)) for v in f * f * (3 - 2 * f)]


__all__ = ["DEFAULT_FPS", "Steadier", "face_sizes", "fast_frames", "head_turn", "jitter", "lag",
           "mean_nme", "measure", "simulate_detector", "steady_clip", "steady_points"]
