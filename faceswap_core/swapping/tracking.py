"""Faces followed through one video: detections every Nth frame, faces in between interpolated, landmarks
steadied over time. Taught in chapter 05 (`convert` starts one `Track` a video)."""

from __future__ import annotations

import numpy as np

from ..faces import detect
from ..faces.steady import Steadier


class Track:
    """One video's detections: when the detector runs on every `every`-th frame only, faces in between are
    moved linearly from the detection before to the one after; with `steady`, the faces' landmarks are
    filtered over the frames (`steady.Steadier`, frames 1/`fps` s apart). Held by the video loop (one per
    video, from `Swapper.start()`), so nothing of one video leaks into the next."""

    def __init__(self, every: int, steady: bool = False, fps: float | None = None):
        self.every = every
        self.steadier = Steadier(fps) if steady else None
        self.held: tuple[int, list[detect.Face]] | None = None  # the last detection (frame index, faces)
        self.next_index = 0  # frames given without their index count on from here

    def detect(self, detector: detect.Detector, frames: list[np.ndarray],
               indices: list[int] | None = None) -> list[list[detect.Face]]:
        """Detect on every `every`-th frame (and after a gap); interpolate in between (frames after this
        batch's last detection keep it)."""
        if indices is None:
            indices = list(range(self.next_index, self.next_index + len(frames)))
        if not indices:
            return []
        self.next_index = indices[-1] + 1
        every = self.every
        held = self.held if self.held is not None and 0 < indices[0] - self.held[0] <= every else None
        keys = [k for k, i in enumerate(indices) if i % every == 0 or (k == 0 and held is None)]
        found = detector.detect_batch([frames[k] for k in keys], [indices[k] for k in keys])
        anchors = ([held] if held else []) + [(indices[k], f) for k, f in zip(keys, found)]
        out = []
        for i in indices:
            before = max((a for a in anchors if a[0] <= i), key=lambda a: a[0], default=None)
            after = min((a for a in anchors if a[0] >= i), key=lambda a: a[0], default=None)
            if before is None:
                out.append(after[1])
            elif after is None or after[0] == before[0] or len(after[1]) != len(before[1]):
                out.append(before[1])
            else:
                t = (i - before[0]) / (after[0] - before[0])
                out.append([_between(f0, _nearest(f0, after[1]), t) for f0 in before[1]])
        self.held = anchors[-1]
        # between detections only the box is moved: fresh points
        if getattr(detector, "cheap_landmarks", False):
            keyed = {indices[k] for k in keys}
            out = [faces if i in keyed else detector.landmarks_in(fr, [(f.box, f.score) for f in faces])
                   for i, fr, faces in zip(indices, frames, out)]
        if self.steadier is not None:
            out = [self.steadier(faces, i) for faces, i in zip(out, indices)]
        return out


def _nearest(face: detect.Face, faces: list[detect.Face]) -> detect.Face:
    centre = lambda f: (f.box[:2] + f.box[2:]) / 2  # noqa: E731
    return min(faces, key=lambda f: float(np.linalg.norm(centre(f) - centre(face))))


def _between(a: detect.Face, b: detect.Face, t: float) -> detect.Face:
    """A face a fraction `t` of the way from detection `a` to detection `b` (boxes and landmarks)."""
    return detect.Face((1 - t) * a.box + t * b.box,
                       ((1 - t) * a.landmarks + t * b.landmarks).astype(np.float32),
                       min(a.score, b.score), a.detector)
