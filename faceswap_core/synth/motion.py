"""Conditions over time: smooth random head motion, talking and blinks, and a voice that follows the mouth."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from .cast import Condition


def _smooth_keys(rng: np.random.Generator, n: int, fps: float, every: float,
                 draw: Callable[[], float]) -> np.ndarray:
    """A smooth curve over n frames through random keys drawn every `every` seconds (smoothstep ease)."""
    n_keys = int(n / (fps * every)) + 2
    keys = np.array([draw() for _ in range(n_keys)])
    pos = np.arange(n) / (fps * every)
    i = np.minimum(pos.astype(int), n_keys - 2)
    f = pos - i
    f = f * f * (3 - 2 * f)
    return keys[i] * (1 - f) + keys[i + 1] * f


# Head-turn keys are drawn from these bins of the yaw range (-1 and 1 are its ends): profile, three-quarter,
# front, three-quarter, profile; each cycle of YAW_CYCLE visits every bin in a random order (the front twice),
# so even a 6-second clip covers the whole turn. (Independent random keys left some clips without a single
# frontal face, and a decoder trained on them could not draw one: docs/training.md.)
YAW_BINS = np.array([-1.0, -0.62, -0.25, 0.25, 0.62, 1.0])
YAW_CYCLE = (0, 1, 2, 3, 4, 2)
YAW_EVERY = 1.0  # seconds between head-turn keys


def random_motion(n_frames: int, fps: float = 25.0, seed: int = 0, yaw_range: tuple[float, float] = (-90, 90),
                  occluder: str | None = None) -> list[Condition]:
    """Smooth, varied conditions for a clip: head turns covering the whole `yaw_range`, talking, blinks,
    moving light."""
    rng = np.random.default_rng([0xC11B, seed])
    lo, hi = yaw_range
    pending: list[int] = []

    def yaw_key() -> float:
        if not pending:
            pending.extend(int(b) for b in rng.permutation(YAW_CYCLE))
        b = pending.pop()
        return float((lo + hi) / 2 + (hi - lo) / 2 * rng.uniform(YAW_BINS[b], YAW_BINS[b + 1]))

    yaw = _smooth_keys(rng, n_frames, fps, YAW_EVERY, yaw_key)
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
    mouth = np.clip(syll * phrase * _smooth_keys(rng, n_frames, fps, 0.4, lambda: rng.uniform(0.3, 0.9)),
                    0, 1)
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
            smile=float(smile[k]), blink=float(blink[k]), light_azimuth=float(az[k]),
            light_elevation=float(el[k]), light_color=light, ambient=float(amb[k]), scale=float(scale[k]),
            offset=(float(dx[k]), float(dy[k])),
            bg_top=tuple(float(v) for v in np.clip(bg + 0.12, 0, 1)),
            bg_bottom=tuple(float(v) for v in np.clip(bg - 0.2, 0, 1)), occluder=occluder))
    return out


def yaw_sweep(n_frames: int, yaw_range: tuple[float, float] = (-85, 85), seed: int = 0) -> list[Condition]:
    """A controlled head turn for held-out probes: yaw evenly from one end of `yaw_range` to the other,
    with talking, smiles and the light varied over the sweep (seeded) so a probe covers them too."""
    rng = np.random.default_rng([0x5EE9, seed])
    yaw = np.linspace(yaw_range[0], yaw_range[1], n_frames)
    out = []
    for k in range(n_frames):
        out.append(Condition(
            yaw=float(yaw[k]), pitch=float(rng.normal(0, 5)), roll=float(rng.normal(0, 4)),
            mouth_open=float(rng.uniform(0, 0.7) * (rng.uniform() < 0.6)),
            smile=float(rng.uniform(-0.1, 0.8)),
            light_azimuth=float(rng.uniform(-60, 60)), light_elevation=float(rng.uniform(10, 45)),
            ambient=float(rng.uniform(0.3, 0.42))))
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
