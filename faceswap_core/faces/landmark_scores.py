"""Landmarks against the truth: the normalised mean error (NME) of one face, and a detector run over a cast
clip scored per frame. Taught in chapter 02."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import media, synth
from . import detect


def nme(predicted: np.ndarray, truth: np.ndarray, visible: np.ndarray | None = None) -> float:
    """Normalised mean error: mean point distance over the inter-ocular distance (outer eye corners)."""
    truth = np.asarray(truth)[:, :2]
    d = np.linalg.norm(np.asarray(predicted)[:, :2] - truth, axis=1)
    if visible is not None:
        d = d[np.asarray(visible, bool)]
    return float(d.mean() / np.linalg.norm(truth[36] - truth[45]))


def landmark_errors(detector: detect.Detector, clip: str | Path, max_frames: int | None = None) -> np.ndarray:
    """Per frame of a cast clip: (true yaw, found 0/1, NME of the best-matching face over visible points)."""
    truth = synth.load_truth(clip)
    frames, _ = media.read_frames(clip, max_frames=max_frames)
    rows = []
    for i, faces in enumerate(detector.detect_batch(list(frames), list(range(len(frames))))):
        marks = truth.landmarks[i]
        yaw = truth.conditions[i].yaw
        if not faces:
            rows.append((yaw, 0.0, np.nan))
            continue
        centre = marks[:, :2].mean(0)
        f = min(faces, key=lambda f: np.linalg.norm(f.landmarks.mean(0) - centre))
        rows.append((yaw, 1.0, nme(f.landmarks, marks, marks[:, 2] > 0.5)))
    return np.array(rows, np.float64).reshape(-1, 3)
