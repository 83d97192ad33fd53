"""Extraction (chapter 02): frames of a person's clips (or a folder of images) -> faces found, filtered
(size, blur, pose, identity) and aligned -> a new face set that replaces the old one only when complete."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .. import media, pipeline
from ..errors import FaceswapError
from ..files import usual_mode
from ..progress import progress_bar
from ..workspace import IMAGE_SUFFIXES, faces_dir
from . import align, detect, identity, steady
from .faceset import META, VIDEO_SUFFIXES, FaceRecord, blur_score, writer_lock


@dataclass
class ExtractSummary:
    """What an extraction did, for the one-line report."""

    path: Path
    frames: int = 0
    faces_found: int = 0
    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    unreadable: int = 0
    detector: str = ""

    def __str__(self) -> str:
        return f"{self.path}: {self.counts()}"

    def counts(self) -> str:
        """Frames read, faces found, kept, dropped and why."""
        drops = ", ".join(f"{k} {v}" for k, v in sorted(self.dropped.items())) or "none"
        extra = f", {self.unreadable} unreadable images skipped" if self.unreadable else ""
        return (f"{self.frames} frames read, {self.faces_found} faces found, {self.kept} kept "
                f"(dropped: {drops}){extra} [detector {self.detector}]")


def _frames_of(source: Path, every: int,
               summary: ExtractSummary) -> Iterator[tuple[int, float | None, np.ndarray]]:
    """(index, time, RGB frame) of a clip, or of the images in a folder (unreadable ones counted)."""
    if source.is_dir():
        files = sorted(p for p in source.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        for i, p in enumerate(files):
            if i % every:
                continue
            try:
                img = media.read_image(p)
            except FaceswapError:  # damaged, not an image, or too large to be a photo
                summary.unreadable += 1
                continue
            yield i, None, img
        return
    for i, (t, frame) in enumerate(media.iter_frames(source)):
        if i % every == 0:
            yield i, t, frame


def _clips_or_folder(source: Path) -> list[Path]:
    """A folder of clips (what `collect` makes for a person) stands for its clips; a folder of images, a
    clip or a missing path stands for itself."""
    if source.is_dir() and not any(p.suffix.lower() in IMAGE_SUFFIXES for p in source.iterdir()):
        clips = sorted(p for p in source.iterdir()
                       if p.suffix.lower() in VIDEO_SUFFIXES and not p.name.startswith("."))
        if clips:
            return clips
    return [source]


def extract(sources: str | Path | Sequence[str | Path], person: str, workspace: str | Path = "data", *,
            detector: str | detect.Detector = "auto", size: int = 256, every: int = 1, min_size: float = 20,
            min_blur: float | None = None, yaw_range: tuple[float, float] | None = None,
            reference: str | Path | np.ndarray | None = None, max_distance: float = identity.THRESHOLD,
            overwrite: bool = False, progress: bool = True, batch: int = 8) -> ExtractSummary:
    """Detect, align and save the faces of `person` from clips or image folders into a face set.

    Several faces in a frame: keep the largest, or with a `reference` (a photo or folder of photos of the
    person, or their embeddings) the one nearest to it, if within `max_distance` (else none: "not the
    person"). Faces smaller than `min_size` px, blurrier than `min_blur`, or outside `yaw_range` are
    dropped and counted. An existing set is refused unless `overwrite`; then the new set replaces it only
    once complete.
    """

    if every < 1 or size < 32:
        raise FaceswapError(f"every {every}, size {size}: use every >= 1 (every Nth frame) and size >= 32 px")
    if yaw_range is not None and not -180 <= yaw_range[0] <= yaw_range[1] <= 180:
        raise FaceswapError(f"yaw range {yaw_range[0]:g} {yaw_range[1]:g}: give MIN <= MAX, in degrees from "
                            "-180 to 180")
    sources = [sources] if isinstance(sources, (str, Path)) else list(sources)
    if not sources:
        raise FaceswapError("extract: give at least one clip or image folder")
    final = faces_dir(workspace, person)
    srcs = [c for s in sources for c in _clips_or_folder(Path(s))]
    infos = {}
    for s in srcs:
        if not s.exists():
            raise FaceswapError(f"{s}: no such clip or folder")
        if s.resolve() == final.resolve() or final.resolve() in s.resolve().parents:
            raise FaceswapError(f"{s}: is the face set this extraction writes; give {person}'s clips or "
                                "photos (e.g. the workspace's clips folder)")
        if s.is_file():
            # a clear error for a corrupt or non-video file, before anything is written
            infos[s] = media.video_info(s)
    refs = None if reference is None else reference if isinstance(reference, np.ndarray) else \
        identity.references(reference)  # a photo without a face is refused before anything is written
    final.parent.mkdir(parents=True, exist_ok=True)
    with writer_lock(final):
        if final.exists() and not overwrite:
            raise FaceswapError(f"{final}: a face set exists; "
                                "pass overwrite=True (--overwrite) to replace it")
        for stale in final.parent.glob(f".{person}.extracting-*"):  # a killed extract's (we hold the lock)
            shutil.rmtree(stale, ignore_errors=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{person}.extracting-", dir=final.parent))
        summary = ExtractSummary(final)
        records: list[FaceRecord] = []
        try:
            shared = detector if isinstance(detector, detect.Detector) or detector == "truth" else \
                detect.get_detector(detector)
            for src in srcs:
                # the truth is per clip; every other detector is built once
                det = detect.get_detector("truth", clip=src) if shared == "truth" else shared
                summary.detector = det.name
                total = -(-infos[src].frames // every) if src in infos else None
                bar = progress_bar(total=total, desc=f"extract {src.name}", unit="frame", enabled=progress,
                                   leave=False)

                # a clip's landmarks are steadied over its frames (an image folder's are not: no time)
                steadier = steady.Steadier(infos[src].fps) if src in infos else None

                def find(chunk: list, det=det, steadier=steadier) -> tuple[list, list]:
                    found = det.detect_batch([f for _, _, f in chunk], [i for i, _, _ in chunk])
                    if steadier is not None:
                        found = [steadier(faces, i) for (i, _, _), faces in zip(chunk, found)]
                    return chunk, found

                def keep(job: tuple[list, list], src=src, bar=bar) -> None:
                    chunk, found = job
                    summary.frames += len(chunk)
                    for (i, t, frame), faces in zip(chunk, found):
                        _keep_faces(src, i, t, frame, faces, size, min_size, min_blur, yaw_range, refs,
                                    max_distance, tmp, records, summary)
                    bar.update(len(chunk))

                try:  # decoding, detection and writing overlap
                    pipeline.run(pipeline.chunked(_frames_of(src, every, summary), batch),
                                 [pipeline.Stage("decode", lambda c: c, queue_size=4),
                                  pipeline.Stage("detect", find), pipeline.Stage("align+save", keep)])
                finally:
                    bar.close()
            summary.kept = len(records)
            if not records:  # an empty set is never written: an existing one is kept as it is
                kept = f"; the face set in {final} is unchanged" if final.exists() else "; nothing written"
                named = ", ".join(map(str, sources))
                raise FaceswapError(f"{named}: no face kept: {summary.counts()}{kept}; check the source, or "
                                    "loosen --min-size, --yaw-range or --reference")
            meta = {"person": person, "crop_size": size, "padding": align.PADDING,
                    "created": time.strftime("%Y-%m-%dT%H:%M:%S"), "sources": [str(s) for s in srcs],
                    "faces": [asdict(r) for r in records]}
            (tmp / META).write_text(json.dumps(meta))
            usual_mode(tmp)
            _swap_in(tmp, final)
        except OSError as e:
            shutil.rmtree(tmp, ignore_errors=True)
            if e.filename and str(tmp) in str(e.filename):  # writing the new set (a full disk): name the set
                raise FaceswapError(f"{final}: the face set could not be written ({e.strerror}); free some "
                                    "space and extract again") from None
            raise
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return summary


def _keep_faces(src, i, t, frame, faces, size, min_size, min_blur, yaw_range, refs, max_distance, out,
                records, summary) -> None:
    """Filter the faces of one frame and write the survivors (at most one: the target person)."""
    summary.faces_found += len(faces)
    if not faces:
        return
    candidates = []
    for f in faces:
        if f.size < min_size:
            summary.dropped["too small"] += 1
            continue
        crop, m = align.align_face(frame, f.landmarks, size)
        candidates.append((f, crop, m))
    if not candidates:
        return
    if refs is not None:
        dist = identity.distances(identity.embed(frame, [f for f, _, _ in candidates]), refs)
        best = int(np.argmin(dist))
        if dist[best] > max_distance:
            summary.dropped["not the person"] += len(candidates)
            return
    else:
        best = int(np.argmax([f.size for f, _, _ in candidates]))
    if len(candidates) > 1:
        summary.dropped["other person"] += len(candidates) - 1
    f, crop, m = candidates[best]
    blur = blur_score(crop)
    if min_blur is not None and blur < min_blur:
        summary.dropped["blurry"] += 1
        return
    pose = align.head_pose(f.landmarks, frame.shape)
    if yaw_range is not None and not yaw_range[0] <= pose[0] <= yaw_range[1]:
        summary.dropped["pose"] += 1
        return
    name = f"{len(records):06d}_{i}.png"
    (out / name).write_bytes(cv2.imencode(".png", cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))[1].tobytes())
    records.append(FaceRecord(
        file=name, source=str(src), frame=int(i), time=None if t is None else round(float(t), 4),
        box=[round(float(v), 2) for v in f.box], landmarks=np.round(f.landmarks, 2).tolist(),
        matrix=np.round(m, 6).tolist(), pose=[round(float(v), 2) for v in pose], detector=f.detector,
        score=round(float(f.score), 4), blur=round(blur, 2), size=round(f.size, 2)))


def _swap_in(tmp: Path, final: Path) -> None:
    """Replace `final` by the finished `tmp` folder; the old set is removed only after the swap."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.replace(final, old)
    os.replace(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
