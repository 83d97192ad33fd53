"""Swap the faces of a whole video, keeping its audio. Taught in chapter 05.

`convert_video` runs decode -> detect/align -> batched model -> blend -> encode as overlapped stages
(`pipeline`) around a `swap.Swapper`, and carries the source's audio into the output (`media`). Outputs
are marked as synthetic by default: a visible label and a tag in the container's metadata.
"""

from __future__ import annotations

import itertools
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .. import encode, files, media, pipeline
from ..errors import FaceswapError
from ..faces import identity
from ..progress import progress_bar
from ..provenance.labelling import PROVENANCE, label_frame
from .swap import Aligned, Swapper


@dataclass
class ConvertSummary:
    """What a conversion did and how fast each stage ran."""

    output: Path | None
    frames: int = 0
    faces: int = 0
    frames_without_face: int = 0
    seconds: float = 0.0
    stage_seconds: dict[str, float] = field(default_factory=dict)  # busy time inside each stage
    warnings: list[str] = field(default_factory=list)
    gif: Path | None = None
    # sampled faces before/after: identity.recogniser_verdict of each (see `convert_video`)
    identity: dict | None = None

    @property
    def fps(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0

    def __str__(self) -> str:
        stages = ", ".join(f"{k} {v:.1f} s" for k, v in self.stage_seconds.items())
        text = (f"{self.output}: {self.frames} frames, {self.faces} faces swapped, "
                f"{self.frames_without_face} frames without a face, {self.seconds:.1f} s "
                f"({self.fps:.1f} frames/s; busy: {stages})")
        if self.identity and self.identity["after"]["faces"]:
            a, b = self.identity["after"], self.identity["before"]
            text += (f"\nidentity ({a['faces']} sampled faces): recognised as the target "
                     f"{a['recognised_as_target']:.0%} (before the swap {b['recognised_as_target']:.0%}); "
                     f"distance to the target's face set {a['to_target']:.3f} (before {b['to_target']:.3f}), "
                     f"to the source's {a['to_source']:.3f}")
        return text


def output_size(width: int, height: int, resize: int | None) -> tuple[int, int]:
    """(width, height) of the output: `resize` is the new height (aspect kept); both made even."""
    if resize:
        width, height = width * resize / height, resize
    return int(round(width / 2)) * 2, int(round(height / 2)) * 2


VIDEO_OUT = (".mp4", ".m4v", ".mov")  # convert writes H.264 in an MP4 container


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name one file (a link or another spelling included)."""
    return a.resolve() == b.resolve() or (a.exists() and b.exists() and os.path.samefile(a, b))


def check_job(source: str | Path, output: str | Path, *, gif: str | Path | None = None,
              overwrite: bool = False, start: float = 0.0, end: float | None = None,
              resize: int | None = None, gif_start: float = 0.0) -> media.VideoInfo:
    """Refuse a conversion that would fail or lose a file, before any work starts: the input must be a
    readable video, the outputs (an MP4 video, a GIF) new files (or `overwrite`) in a writable folder, never
    the input, a sidecar of it (its truth, its credentials) or each other, and the ranges inside the clip.
    Returns the input's info."""
    source, output = Path(source), Path(output)
    info = media.video_info(source)  # one clear line for a missing, corrupt or non-video file
    if info.image:
        raise FaceswapError(f"{source}: an image, not a video; convert swaps the faces of a video")
    for path in (output, Path(gif) if gif is not None else None):
        if path is None:
            continue
        if path.is_dir():
            raise FaceswapError(f"{path}: is a folder; give a file name")
        folder = next(p for p in path.absolute().parents if p.exists())
        if not os.access(folder, os.W_OK):
            raise FaceswapError(f"{folder}: cannot write here (read-only or not yours); choose another path")
    if output.exists() and not overwrite:
        raise FaceswapError(f"{output}: already exists; choose another name or pass --overwrite")
    if same_file(output, source):
        raise FaceswapError(f"{output}: is the input; write the result to another file")
    if gif is not None:
        for other, what in ((source, "the input"), (output, "the output video")):
            if same_file(Path(gif), other):  # --overwrite never replaces these with a GIF
                raise FaceswapError(f"{gif}: is {what}; write the GIF to another file")
        if Path(gif).exists() and not overwrite:
            raise FaceswapError(f"{gif}: already exists; choose another name or pass --overwrite")
    for path, suffixes in ((output, VIDEO_OUT), (Path(gif) if gif is not None else None, (".gif",))):
        if path is not None and path.suffix.lower() not in suffixes:  # (a sidecar of the input, say)
            raise FaceswapError(f"{path}: convert writes {suffixes[0][1:].upper()}; give a name ending in "
                                f"{' or '.join(suffixes)}")
    if resize is not None and resize <= 0:
        raise FaceswapError(f"resize {resize}: give a positive output height in pixels")
    if end is not None and end <= start:
        raise FaceswapError(f"end {end} s is not after start {start} s")
    if start >= info.duration:
        raise FaceswapError(f"{source}: start {start:g} s is past its end ({info.duration:.2f} s)")
    length = min(end, info.duration) - start if end is not None else info.duration - start
    if gif is not None and gif_start >= length:
        raise FaceswapError(f"gif start {gif_start:g} s: past the end of the output ({length:.2f} s long); "
                            "give a smaller --gif-start")
    return info


def claim(output: str | Path):
    """Hold the output's name for one conversion: a second run writing the same file is refused at once
    (its lock is a hidden file beside it while the conversion runs)."""
    output = Path(output)
    output.parent.mkdir(parents=True, exist_ok=True)
    return files.lock(output.parent, f"the output {output.name}",
                      name="." + re.sub(r"[^\w-]", "-", output.name) + ".lock", remove=True)


def convert_video(source: str | Path, output: str | Path, swapper: Swapper, *, start: float = 0.0,
                  end: float | None = None, resize: int | None = None, side_by_side: bool = False,
                  provenance: bool = True, overwrite: bool = False, chunk: int = 16, progress: bool = True,
                  gif: str | Path | None = None, gif_seconds: tuple[float, float] = (0.0, 3.0),
                  crf: int = 20, preset: str = "veryfast",
                  identity_of: tuple[np.ndarray, np.ndarray] | None = None, identity_samples: int = 24,
                  mark: Callable[[np.ndarray], np.ndarray] | None = None) -> ConvertSummary:
    """Swap every face of a video from `start` to `end` seconds into `output` (MP4, the source's audio
    kept). Stages overlap in threads; the model sees `chunk` frames' faces at a time. A failed or
    interrupted run leaves no file under `output` (and an existing one is kept unless `overwrite`).
    With `identity_of` (mean embeddings of A and B, see `person_means`), about `identity_samples` frames
    spread over the video are scored before and after the swap (`summary.identity`). `mark` is applied
    to every written frame after the label (the CLI passes `watermark.mark_frame`: an invisible watermark)."""

    source, output = Path(source), Path(output)
    with claim(output):  # a second run writing the same file is refused at once
        info = check_job(source, output, gif=gif, overwrite=overwrite, start=start, end=end, resize=resize,
                         gif_start=gif_seconds[0])
        w, h = output_size(info.width, info.height, resize)
        summary = ConvertSummary(None)
        expected = int(round(((end if end is not None else info.duration) - start) * info.fps))
        bar = progress_bar(total=max(expected, 0) or None, desc=f"convert {source.name}", unit="frame",
                           enabled=progress)

        def frames() -> Iterator[tuple[int, np.ndarray]]:
            for t, f in media.iter_frames(source, start=start, end=end):
                if f.shape[:2] != (h, w):
                    f = cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA)
                yield int(round(t * info.fps)), f

        track = swapper.start(info.fps)  # this video's detections: steadied over its frames, or every Nth

        def prepare(items: list) -> tuple[list[np.ndarray], list[list[Aligned]]]:
            idx, frs = [i for i, _ in items], [f for _, f in items]
            return frs, swapper.prepare(frs, idx, track)

        def run_model(job) -> tuple:
            frs, aligned = job
            summary.faces += sum(map(len, aligned))
            summary.frames_without_face += sum(not a for a in aligned)
            return frs, aligned, swapper.run_model(aligned)

        # (original, swapped, landmarks) of every `every`-th frame, for the identity score
        samples: list[tuple] = []
        every, seen = max(1, expected // max(identity_samples, 1)), itertools.count()

        def paste(job) -> tuple[list[np.ndarray], list[np.ndarray]]:
            frs, aligned, decoded = job
            out = swapper.paste(frs, aligned, decoded)
            for fr, o, faces in zip(frs, out, aligned):
                if (k := next(seen)) % every == 0 and faces and identity_of is not None:
                    samples.append((fr, o, [a.face.landmarks for a in faces], k))
            return frs, out

        gif_frames: list[np.ndarray] = []
        t0 = time.perf_counter()
        with encode.VideoWriter(output, info.fps, audio_from=source, audio_range=(start, end),
                                overwrite=overwrite, metadata=PROVENANCE if provenance else None, crf=crf,
                                preset=preset) as writer:

            def write(done) -> None:
                originals, swapped = done
                for orig, out in zip(originals, swapped):
                    if side_by_side:
                        out = np.concatenate([orig, out], 1)
                    if provenance:
                        label_frame(out)
                    if mark is not None:
                        out = mark(out)
                    k = summary.frames
                    if gif is not None and gif_seconds[0] * info.fps <= k < gif_seconds[1] * info.fps:
                        gif_frames.append(out)
                    writer.write(out)
                    summary.frames += 1
                    bar.update(1)

            stages = [pipeline.Stage("decode", lambda c: c, queue_size=4),
                      pipeline.Stage("detect+align", prepare), pipeline.Stage("model", run_model),
                      pipeline.Stage("blend", paste), pipeline.Stage("encode", write)]
            try:
                summary.stage_seconds = pipeline.run(pipeline.chunked(frames(), chunk), stages)
            finally:
                bar.close()
            if summary.frames == 0:
                raise FaceswapError(f"{source}: no frames between {start} s and {end} s")
        summary.output = output
        summary.seconds = time.perf_counter() - t0
        if identity_of is not None and samples:
            summary.identity = {
                k: identity.recogniser_verdict(np.concatenate([identity.embed(s[j], s[2]) for s in samples]),
                                               *identity_of)
                for k, j in (("before", 0), ("after", 1))}
            summary.identity["frames"] = [k for *_, marks, k in samples for _ in marks]  # one entry per face
        if summary.faces == 0:
            msg = f"{source}: no face found in any frame; the output holds the input's frames unchanged"
            summary.warnings.append(msg)
            print(f"warning: {msg}", file=sys.stderr)
        if gif is not None:
            summary.gif = encode.write_gif(gif_frames, gif, info.fps, overwrite=overwrite)
        return summary


__all__ = ["ConvertSummary", "check_job", "convert_video", "output_size"]
