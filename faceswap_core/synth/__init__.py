"""The synthetic cast: made-up people rendered with known pose, expression, lighting and landmarks.

Every face is a handful of ellipsoids (cranium, jaw, nose, ears, hair) ray-cast orthographically over
all pixels at once, with the features (eyes, brows, lips, beard, glasses) painted on the surface in the
head's own frame. Because the head frame is explicit, we know exactly where each of the 68 iBUG
landmarks is, whether it is hidden, and which pixels are face: the ground truth later chapters measure
against. Taught in chapter 01.

Files (each imports only those above it):

- ``cast.py``: who and in which conditions: `Identity`, `CAST`, `get_identity`, `Condition`, `Rendering`.
- ``geometry.py``: the head model: `rotation`, the ellipsoid parts, the feature curves, the 68 landmarks
  in the head frame (`landmarks_3d`), `MIC_VERSION`.
- ``raycast.py``: `render`, the ray-caster that paints and lights a frame with its ground truth.
- ``motion.py``: conditions over time (`random_motion`, the probes' `yaw_sweep`) and a voice that follows
  the mouth (`voice_track`).
- ``clips.py``: `render_clip` writes an MP4 plus a ground-truth sidecar; `load_truth`, `swap_truth` read it.

Frames are ``uint8 HxWx3 RGB``. Head frame: x to the image right of a frontal face, y up, z out of the
face; lengths in "head units" (the cranium is about 1.15 tall from centre to crown).
"""

from __future__ import annotations

from .cast import CAST, Condition, Identity, Rendering, cast_names, get_identity
from .clips import Truth, load_truth, render_clip, swap_truth, truth_path
from .geometry import MIC_VERSION, landmarks_3d, rotation
from .motion import random_motion, voice_track, yaw_sweep
from .raycast import render

__all__ = ["CAST", "MIC_VERSION", "Condition", "Identity", "Rendering", "Truth", "cast_names", "get_identity",
           "landmarks_3d", "load_truth", "random_motion", "render", "render_clip", "rotation",
           "swap_truth", "truth_path", "voice_track", "yaw_sweep"]
