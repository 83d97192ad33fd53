"""The swap of one frame: find each face, align it as the network sees it, decode it as the target
person, blend it back. Taught in chapter 05 (`convert` runs it over a whole video).

Read one swap from `Swapper.swap_frame`: `find` (detector, size and score limits), `align` (the central
`coverage` of the padded aligned crop, at the model's size), `decode` (shared encoder, target's decoder)
and `blend` (inverse warp, eroded and feathered face-core mask, colour match, optional Poisson). Frames
are ``uint8 HxWx3 RGB``; the model sees ``float32 (N, 3, S, S)`` in [0, 1] (converted by `augment`).
A `Swapper` holds no state of a video: the detections of a video decoded every Nth frame live in a
`tracking.Track` that the video loop starts (`Swapper.start()`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from .. import media
from ..device import pick_device
from ..errors import FaceswapError
from ..faces import align, detect
from ..training import augment
from ..training.checkpoint import load_model
from ..training.model import FaceSwapModel
from .options import COLOR_MODES, SwapOptions
from .tracking import Track


@dataclass
class Aligned:
    """One face ready for the model: its detection, the model-input crop and the frame -> crop transform."""

    face: detect.Face
    crop: np.ndarray  # (S, S, 3) uint8: what the encoder sees
    matrix: np.ndarray  # 2x3, frame pixels -> crop pixels


def match_color(src: np.ndarray, ref: np.ndarray, mode: str = "lab") -> np.ndarray:
    """Recolour pixels `src` (N, 3) uint8 so their statistics match `ref` (M, 3) uint8."""
    if mode not in COLOR_MODES:
        raise FaceswapError(f"colour matching {mode!r}: use one of {', '.join(COLOR_MODES)}")
    src, ref = _pixels(src, "src"), _pixels(ref, "ref")
    if mode == "none" or len(src) == 0 or len(ref) == 0:
        return src
    if mode == "lab":
        s = cv2.cvtColor(src[None].astype(np.float32) / 255, cv2.COLOR_RGB2LAB)[0]
        r = cv2.cvtColor(ref[None].astype(np.float32) / 255, cv2.COLOR_RGB2LAB)[0]
        out = (s - s.mean(0)) / (s.std(0) + 1e-6) * r.std(0) + r.mean(0)
        out[:, 0] = np.clip(out[:, 0], 0, 100)
        rgb = cv2.cvtColor(out[None].astype(np.float32), cv2.COLOR_LAB2RGB)[0]
        return np.clip(rgb * 255 + 0.5, 0, 255).astype(np.uint8)
    out = np.empty_like(src)  # mode "hist"
    for c in range(3):
        s_vals, s_idx, s_counts = np.unique(src[:, c], return_inverse=True, return_counts=True)
        r_vals, r_counts = np.unique(ref[:, c], return_counts=True)
        s_cdf = np.cumsum(s_counts) / len(src)
        r_cdf = np.cumsum(r_counts) / len(ref)
        out[:, c] = np.round(np.interp(s_cdf, r_cdf, r_vals))[s_idx.ravel()]
    return out


def _pixels(pixels, what: str) -> np.ndarray:
    """Pixels as a (N, 3) uint8 array (N may be 0), else one line naming them."""
    try:
        a = np.asarray(pixels)
    except (ValueError, TypeError):  # (ragged lists)
        a = np.zeros(0, object)
    if a.dtype != np.uint8 or a.ndim != 2 or a.shape[1] != 3:
        raise FaceswapError(f"{what} pixels: {a.dtype} {a.shape}; give (N, 3) uint8 RGB pixels")
    return a


class Swapper:
    """A trained model, the person to draw, a detector and blending options: frames in, swapped frames out."""

    def __init__(self, model: FaceSwapModel | str | Path, to: str, detector: detect.Detector | str = "auto",
                 *, options: SwapOptions = SwapOptions(), device: str | None = None,
                 coverage: float | None = None, clip: str | Path | None = None):
        if not isinstance(model, FaceSwapModel):
            model = load_model(model)
        if to not in model.persons:
            raise FaceswapError(f"this model has no decoder for {to!r}; it knows {', '.join(model.persons)}: "
                                "pick one of them with --to")
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        self.to, self.options = to, options
        self.size = model.config.image_size
        # the centre of the padded crop that training showed the network
        self.coverage = model.coverage if not coverage else media.real(coverage, "coverage", 0.05, 4.0)
        self.detector = detector if isinstance(detector, detect.Detector) else \
            detect.get_detector(detector, clip=clip, device=self.device)
        # faces that asked for Poisson blending but got plain feathering (see blend)
        self.poisson_fallbacks = 0

    def start(self, fps: float | None = None) -> Track | None:
        """A new video begins (at `fps`, 25 if not given): its track when detecting every Nth frame or
        steadying the landmarks (None otherwise)."""
        o, fps = self.options, None if fps is None else media.real(fps, "fps", 0, 1000)
        steady = o.steady and o.detect_every == 1  # sparse detections are smoothed by their interpolation
        return Track(o.detect_every, steady, fps) if o.detect_every > 1 or steady else None

    # -------------------------------------------------------------------------------------- stages

    def find(self, frames: list[np.ndarray], indices: list[int] | None = None,
             track: Track | None = None) -> list[list[detect.Face]]:
        """Faces worth swapping in each frame (too small or unsure detections are left out). The video's
        `track` (from `start`) steadies them or interpolates between detections every `detect_every` frames;
        without one, each call stands alone (nothing steadied, a new track for `detect_every` > 1)."""
        o = self.options
        if track is not None:
            found = track.detect(self.detector, frames, indices)
        elif o.detect_every == 1:
            found = self.detector.detect_batch(frames, indices)
        else:
            found = Track(o.detect_every).detect(self.detector, frames, indices)
        return [[f for f in faces if f.size >= o.min_size and f.score >= o.min_score] for faces in found]

    def align(self, frame: np.ndarray, face: detect.Face) -> Aligned:
        """The model's view of a face: the central `coverage` of the padded aligned crop, at model size."""
        m = align.view_matrix(face.landmarks, self.size, self.coverage)
        # shrink by area, not by sampling
        k = int(np.clip(np.ceil(1 / np.sqrt(abs(np.linalg.det(m[:, :2])))), 1, 4))
        if k > 1:
            big = align.crop(frame, np.r_[m * k, [[0, 0, 1]]][:2], self.size * k)
            crop = cv2.resize(big, (self.size, self.size), interpolation=cv2.INTER_AREA)
        else:
            crop = align.crop(frame, m, self.size)
        return Aligned(face, crop, m)

    @torch.inference_mode()
    def decode(self, crops: np.ndarray) -> np.ndarray:
        """(N, S, S, 3) uint8 faces of anyone -> the same faces drawn by the target's decoder, batched."""
        crops = np.asarray(crops)
        if crops.dtype != np.uint8 or crops.ndim != 4 or crops.shape[-1] != 3:
            raise FaceswapError(f"decode: crops of {crops.dtype} {crops.shape}; "
                                "give (N, S, S, 3) uint8 RGB faces")
        out = []
        for i in range(0, len(crops), self.options.batch_size):
            x = augment.to_tensor(np.ascontiguousarray(crops[i:i + self.options.batch_size])).to(self.device)
            out.append(augment.to_images(self.model(x, self.to).float()))
        return np.concatenate(out) if out else np.zeros((0, self.size, self.size, 3), np.uint8)

    def blend(self, frame: np.ndarray, a: Aligned, decoded: np.ndarray,
              parts: dict | None = None) -> np.ndarray:
        """Warp a decoded face back into `frame` (changed in place) through a feathered face mask;
        pixels outside the mask keep their values. `parts`, if given, receives the intermediate images."""
        o, s = self.options, self.size
        inv = align.invert(a.matrix)
        side = s / np.sqrt(abs(np.linalg.det(a.matrix[:, :2])))  # the face core's side in frame pixels
        corners = align.transform_points(np.array([[0, 0], [s, 0], [s, s], [0, s]], np.float64), inv)
        margin = int(np.ceil(o.feather * side)) + 3
        h, w = frame.shape[:2]
        x0, y0 = np.maximum(np.floor(corners.min(0)).astype(int) - margin, 0)
        x1, y1 = np.minimum(np.ceil(corners.max(0)).astype(int) + margin, [w, h])
        if x1 - x0 < 4 or y1 - y0 < 4:
            return frame
        to_roi = inv.copy()
        to_roi[:, 2] -= (x0, y0)
        size = (int(x1 - x0), int(y1 - y0))
        face = cv2.warpAffine(decoded, to_roi, size, flags=cv2.INTER_CUBIC, borderMode=cv2.BORDER_REPLICATE)
        inside = cv2.warpAffine(np.full((s, s), 255, np.uint8), to_roi, size, flags=cv2.INTER_NEAREST)
        marks = a.face.landmarks[:, :2] - (x0, y0)
        mask = cv2.bitwise_and(align.core_mask(marks, (size[1], size[0]), grow=0.15), inside)
        e = max(1, int(round((o.erode + o.feather / 2) * side)))
        mask = cv2.erode(mask, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * e + 1, 2 * e + 1)))
        f = max(1, int(round(o.feather * side / 2)))
        alpha = cv2.GaussianBlur(mask, (2 * f + 1, 2 * f + 1), 0).astype(np.float32) / 255
        roi = frame[y0:y1, x0:x1]
        core = mask > 127
        if not core.any():
            return frame
        raw = face.copy() if parts is not None else None
        face[core] = match_color(face[core], roi[core], o.color)
        if o.blend == "poisson":
            bx, by, bw, bh = cv2.boundingRect(mask)
            try:
                face = cv2.seamlessClone(face, np.ascontiguousarray(roi),
                                         np.where(core, 255, 0).astype(np.uint8),
                                         (bx + bw // 2, by + bh // 2), cv2.NORMAL_CLONE)
            except cv2.error:
                # a mask touching the region's border: fall back to plain feathering, counted
                self.poisson_fallbacks += 1
        a3 = alpha[..., None]
        mixed = (face.astype(np.float32) * a3 + roi.astype(np.float32) * (1 - a3) + 0.5).astype(np.uint8)
        changed = alpha > 0
        roi[changed] = mixed[changed]
        if parts is not None:
            parts.update(roi=(x0, y0, x1, y1), warped=raw, colour_matched=face, alpha=alpha)
        return frame

    # -------------------------------------------------------------------------------------- whole frames

    def swap_frame(self, frame: np.ndarray, index: int | None = None) -> np.ndarray:
        """Swap every face of one frame (into a copy): find, align, decode, blend."""
        frame = media.rgb_image(frame)
        out = frame.copy()
        for face in self.find([frame], None if index is None else [index])[0]:
            a = self.align(frame, face)
            self.blend(out, a, self.decode(a.crop[None])[0])
        return out

    def swap_frames(self, frames: list[np.ndarray], indices: list[int] | None = None,
                    track: Track | None = None) -> list[np.ndarray]:
        """Swap every face in these frames, the model running once on all their faces (what `convert`
        does, split into the stages `prepare`, `run_model` and `paste` so they can overlap)."""
        frames = [media.rgb_image(f, f"frame {k}") for k, f in enumerate(frames)]
        aligned = self.prepare(frames, indices, track)
        return self.paste(frames, aligned, self.run_model(aligned))

    def prepare(self, frames: list[np.ndarray], indices: list[int] | None = None,
                track: Track | None = None) -> list[list[Aligned]]:
        """Detect and align: the per-frame work before the model."""
        return [[self.align(fr, f) for f in faces]
                for fr, faces in zip(frames, self.find(frames, indices, track))]

    def run_model(self, aligned: list[list[Aligned]]) -> list[list[np.ndarray]]:
        """Decode every face of these frames in one batched model call; returns the faces per frame."""
        flat = [a for faces in aligned for a in faces]
        decoded = iter(self.decode(np.stack([a.crop for a in flat])) if flat else [])
        return [[next(decoded) for _ in faces] for faces in aligned]

    def paste(self, frames: list[np.ndarray], aligned: list[list[Aligned]],
              decoded: list[list[np.ndarray]]) -> list[np.ndarray]:
        """Blend the decoded faces back, into copies of the frames."""
        out = []
        for fr, faces, faces_decoded in zip(frames, aligned, decoded):
            fr = fr.copy()
            for a, d in zip(faces, faces_decoded):
                self.blend(fr, a, d)
            out.append(fr)
        return out

    def explain(self, frame: np.ndarray, index: int | None = None) -> dict:
        """One frame taken apart: detected face, aligned crop, decoded face, mask, colour match, result."""
        frame = media.rgb_image(frame)
        faces = self.find([frame], None if index is None else [index])[0]
        if not faces:
            raise FaceswapError("no face found in this frame (or all were below min_size / min_score)")
        a = self.align(frame, max(faces, key=lambda f: f.size))
        decoded = self.decode(a.crop[None])[0]
        parts: dict = {}
        result = self.blend(frame.copy(), a, decoded, parts)
        x0, y0, x1, y1 = parts["roi"]
        alpha = parts["alpha"][..., None]
        return {"face": a.face, "aligned": a.crop, "decoded": decoded, "mask": parts["alpha"],
                "warped": parts["warped"],
                "colour_matched": (parts["colour_matched"] * alpha).astype(np.uint8),
                "source_roi": frame[y0:y1, x0:x1].copy(), "result_roi": result[y0:y1, x0:x1].copy(),
                "result": result, "roi": parts["roi"]}


__all__ = ["Aligned", "Swapper", "match_color"]
