"""A trained set of swap detectors: train, calibrate, save, load, scan a video. Taught in chapter 09.

`SwapDetector.fit` trains the four detectors (`features`, `nets`) on `features.Samples` and calibrates each
one's raw score into a probability (a one-feature logistic regression on the training faces). `save` writes
them to one safetensors file whose metadata names the format and its version; `load` refuses another
version or a damaged file in one line. `scan` runs them over a video: a face detector finds the face of
each frame, each detector gives a probability, their mean is the frame's score and the median over the
frames the verdict; it can write a heatmap video of where the boundary detector sees the seam of a pasted
face.
"""

from __future__ import annotations

import itertools
import json
import warnings
from pathlib import Path

import numpy as np
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from .. import encode, media, pipeline
from ..errors import FaceswapError
from ..faces import align, detect
from ..files import AtomicPath
from ..swapping.convert import VIDEO_OUT, same_file
from . import features, nets

VERDICT_AT = 0.5  # the median frame probability above which a video is judged swapped
CHUNK = 16  # frames per batch of the detectors


class SwapDetector(nn.Module):
    """The four detectors (`features`, `nets`) and a calibration of each (raw score -> probability)."""

    def __init__(self, width: int = 16, info: dict | None = None):
        super().__init__()
        self.width = width
        self.frequency = nets.Logistic(features.BINS)
        self.boundary = nets.BoundaryNet(width)  # the pasted region (localisation)
        # the seam of the paste (the boundary detector's score, heat maps)
        self.seam = nets.BoundaryNet(width)
        self.cnn = nets.FaceNet(width)
        self.calibration = nn.ModuleDict({name: nets.Logistic(1) for name in features.DETECTORS})
        self.info = dict(info or {})  # what it was trained on, kept in the file

    def fit(self, train: features.Samples, steps: int = 300, seed: int = 0) -> dict:
        """Train every detector on `train` (views, spectra, flicker, masks and labels); returns the nets'
        losses."""
        if train.masks is None:
            raise FaceswapError("training the boundary detector needs the swapped region of each face "
                                "(masks)")
        ok = ~np.isnan(train.spectra).any(1)
        self.frequency.fit(train.spectra[ok], train.label[ok])
        region, seam = nets.region_target(train.masks), nets.seam_target(train.masks)
        losses = {"boundary": nets.fit_net(self.boundary, train.views, region, steps, seed=seed),
                  "seam": nets.fit_net(self.seam, train.views, seam, steps, seed=seed + 2),
                  "cnn": nets.fit_net(self.cnn, train.views, train.label, steps, seed=seed + 1)}
        raw = self.raw_scores(train)
        for name in features.DETECTORS:
            ok = ~np.isnan(raw[name])
            # a little L2 keeps a score that separates the training faces perfectly from saturating at 0 and 1
            self.calibration[name].fit(raw[name][ok, None], train.label[ok], l2=1e-2)
        self.info.update(faces=len(train), swapped=int(train.label.sum()), steps=steps, seed=seed)
        return losses

    @torch.inference_mode()
    def raw_scores(self, s: features.Samples) -> dict[str, np.ndarray]:
        """Each detector's score of each face (higher = more likely swapped; NaN where it cannot tell)."""
        self.eval()
        spectra = torch.as_tensor(np.nan_to_num(s.spectra), dtype=torch.float32)
        freq = self.frequency(spectra).numpy() if len(s) else np.zeros(0)
        freq[np.isnan(s.spectra).any(1)] = np.nan
        return {"frequency": freq, "boundary": nets.seam_scores(self.seam, s.views),
                "cnn": nets.net_outputs(self.cnn, s.views),
                "flicker": np.log(np.asarray(s.flicker, np.float64) + 1e-3)}

    @torch.inference_mode()
    def probabilities(self, s: features.Samples) -> dict[str, np.ndarray]:
        """Each detector's calibrated probability that each face was swapped, and their mean ("combined")."""
        out = {}
        for name, raw in self.raw_scores(s).items():
            p = torch.sigmoid(self.calibration[name](
                torch.as_tensor(np.nan_to_num(raw), dtype=torch.float32)[:, None]))
            out[name] = np.where(np.isnan(raw), np.nan, p.numpy())
        with np.errstate(all="ignore"):
            out["combined"] = np.nanmean(np.stack([out[n] for n in features.DETECTORS]), 0)
        return out

    # -------------------------------------------------------------------------------------- files

    def save(self, path: str | Path, overwrite: bool = False) -> Path:
        """Write all weights and calibrations to one safetensors file (temp file, then rename)."""
        meta = {"format": features.FORMAT, "version": str(features.VERSION), "width": str(self.width),
                "view": str(features.VIEW), "bins": str(features.BINS), "info": json.dumps(self.info)}
        target = AtomicPath(path, overwrite)
        try:
            tensors = {k: v.detach().contiguous() for k, v in self.state_dict().items()}
            save_file(tensors, str(target.tmp), metadata=meta)
        except SafetensorError as e:
            target.discard()
            raise FaceswapError(f"{path}: the detector could not be written ({e}); free some space") from None
        except BaseException:
            target.discard()
            raise
        return target.commit()


def load(path: str | Path) -> SwapDetector:
    """A swap detector saved by `SwapDetector.save`; one line for a missing, damaged or other-version file."""
    path = Path(path)
    if not path.is_file():
        raise FaceswapError(f"{path}: no such detector file; train one in chapter 09 (it saves "
                            "WORKSPACE/detectors/swap_detector.safetensors)")
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            tensors = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError, ValueError) as e:
        raise FaceswapError(f"{path}: not a readable detector file ({str(e).splitlines()[0][:80]}); "
                            "it is damaged or not a swap detector: train it again in chapter 09") from None
    if meta.get("format") != features.FORMAT:
        raise FaceswapError(f"{path}: not a faceswap-lab swap detector (format {meta.get('format')!r}); "
                            "pass the file chapter 09 saves")
    want = {"version": str(features.VERSION), "view": str(features.VIEW), "bins": str(features.BINS)}
    other = {k: meta.get(k) for k, v in want.items() if meta.get(k) != v}
    if other:
        raise FaceswapError(f"{path}: a detector of another version "
                            f"({', '.join(f'{k} {v}' for k, v in other.items())}"
                            f"; this code reads version {features.VERSION}); train it again in chapter 09")
    model = SwapDetector(int(meta.get("width", 16)), json.loads(meta.get("info", "{}")))
    try:
        model.load_state_dict(tensors, strict=True)
    except RuntimeError:
        raise FaceswapError(f"{path}: its weights do not fit this version's detectors; train it again in "
                            "chapter 09") from None
    return model.eval()


# ------------------------------------------------------------------------------------------ scanning a video

def _largest(faces: list[detect.Face]) -> np.ndarray | None:
    return max(faces, key=lambda f: f.size).landmarks if faces else None


def _heat(frame: np.ndarray, prob: np.ndarray | None, matrix: np.ndarray | None) -> np.ndarray:
    """The frame with the boundary detector's seam map laid over it (red = the seam of a paste)."""
    import cv2

    out = frame.copy()
    if prob is not None:
        full = align.uncrop(prob.astype(np.float32), matrix, frame.shape)
        colour = cv2.applyColorMap((full * 255).astype(np.uint8), cv2.COLORMAP_JET)[..., ::-1]
        a = (0.6 * full)[..., None]
        out = (out * (1 - a) + colour * a).astype(np.uint8)
    return out


def scan(video: str | Path, model: SwapDetector, detector: str = "auto", *, heatmap: str | Path | None = None,
         max_frames: int | None = None, overwrite: bool = False, progress: bool = False) -> dict:
    """Score each frame of a video with every detector: the largest face of each frame is looked at (frames
    without one get no score). Returns per-frame probabilities, their medians and the verdict; with
    `heatmap`, also writes a video of where the boundary detector sees the seam of a pasted face."""
    info = media.video_info(video)
    if info.image:
        raise FaceswapError(f"{video}: an image, not a video; scan judges the faces of a video")
    if heatmap is not None and same_file(Path(heatmap), Path(video)):
        raise FaceswapError(f"{heatmap}: is the input; write the heatmap video to another file")
    if heatmap is not None and Path(heatmap).exists() and not overwrite:
        raise FaceswapError(f"{heatmap}: already exists; choose another name or pass --overwrite")
    if heatmap is not None and Path(heatmap).suffix.lower() not in VIDEO_OUT:
        raise FaceswapError(f"{heatmap}: the heatmap is an MP4 video; give a name ending in .mp4")
    det = detect.get_detector(detect.choose(detector, [video]), clip=video, quiet=not progress)
    rows, previous = [], None
    writer = encode.VideoWriter(heatmap, info.fps, overwrite=overwrite) if heatmap is not None else None
    scored: list[dict] = []
    try:
        numbered = ((i, t, f)
                    for i, (t, f) in enumerate(itertools.islice(media.iter_frames(video), max_frames)))
        for chunk in pipeline.chunked(numbered, CHUNK):
            frames = [f for _, _, f in chunk]
            marks = [_largest(fs) for fs in det.detect_batch(frames, [i for i, _, _ in chunk])]
            s = features.faces_of(frames, marks)
            if previous is not None and marks[0] is not None:  # flicker across the chunk boundary
                s.flicker[0] = features.flicker_ratio(previous, s.views[0])
            probs = model.probabilities(s) if len(s) else {}
            maps = nets.boundary_maps(model.seam, s.views) if writer is not None else None
            k = 0
            for (i, t, frame), m in zip(chunk, marks):
                row = {"frame": i, "time": round(t, 3), "face": m is not None}
                if m is not None:
                    row.update({n: float(p[k]) for n, p in probs.items()})
                    if writer is not None:
                        writer.write(_heat(frame, maps[k], features.view(frame, m)[1]))
                    k += 1
                elif writer is not None:
                    writer.write(frame)
                rows.append(row)
            previous = s.views[-1] if marks[-1] is not None else None
        scored = [r for r in rows if r["face"]]
    finally:
        if writer is not None:  # kept only when a verdict comes; otherwise the temp file goes
            writer.close(bool(scored))
    if not scored:
        raise FaceswapError(f"{video}: no face found in any of its {len(rows)} frames; "
                            "no verdict (try another --detector)")
    with warnings.catch_warnings():  # a detector without a score in any frame (one frame: no flicker): NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        medians = {n: float(np.nanmedian([r[n] for r in scored])) for n in (*features.DETECTORS, "combined")}
    swapped = medians["combined"] >= VERDICT_AT
    return {"video": str(video), "frames": rows, "faces": len(scored), "median": medians, "swapped": swapped,
            "detector": det.name, "heatmap": str(heatmap) if heatmap is not None else None,
            "verdict": f"{'swapped' if swapped else 'not swapped'} "
                       f"(median probability {medians['combined']:.2f} over "
                       f"{len(scored)} frames with a face; judged swapped at >= {VERDICT_AT})"}


def describe(result: dict) -> str:
    """What `faceswap-core scan` prints: one line per frame, then the verdict."""
    lines = [f"{'frame':>6} {'time':>7}  " + "  ".join(f"{n:>9}" for n in (*features.DETECTORS, "combined"))]
    for r in result["frames"]:
        cells = ("  ".join(f"{r[n]:9.2f}" for n in (*features.DETECTORS, "combined")) if r["face"]
                 else "no face")
        lines.append(f"{r['frame']:6d} {r['time']:7.2f}  {cells}")
    lines.append(f"{result['video']}: {result['verdict']}")
    if result["heatmap"]:
        lines.append(f"heatmap video: {result['heatmap']}")
    return "\n".join(lines)


__all__ = ["SwapDetector", "VERDICT_AT", "describe", "load", "scan"]
