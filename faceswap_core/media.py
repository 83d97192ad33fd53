"""Reading video and audio on PyAV: a file's video info, its frames (upright), its audio; images checked.

Frames cross this module's edges as ``uint8 HxWx3 RGB`` numpy arrays (`rgb_image` converts grey and RGBA
and refuses the rest in one line). Writing is `encode`'s job. Taught in chapter 01 (and used by chapter 05).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np

from .errors import FaceswapError


@dataclass(frozen=True)
class VideoInfo:
    """What `video_info` learns about a media file."""

    path: str
    width: int
    height: int
    fps: float
    frames: int
    duration: float  # seconds of video
    has_audio: bool
    audio_duration: float  # seconds of audio (0 when there is none)
    audio_rate: int
    rotation: int = 0  # degrees the stored frames are turned counter-clockwise to show upright (phone clips)
    image: bool = False  # a still picture (PNG, JPEG, ...) rather than a clip


def open_container(path: str | os.PathLike) -> av.container.InputContainer:
    path = Path(path)
    if not path.is_file():
        raise FaceswapError(f"{path}: no such file; check the path")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as e:
        raise FaceswapError(f"{path}: not a readable video ({_short(e)}); check or re-download the "
                            "file") from None


def _short(e: BaseException) -> str:
    return str(e).splitlines()[0][:160] if str(e) else type(e).__name__


def _video_stream(container, path) -> av.video.stream.VideoStream:
    if not container.streams.video:
        container.close()
        raise FaceswapError(f"{path}: has no video stream; give a video file")
    return container.streams.video[0]


def _check_complete(v, path) -> None:
    """Refuse a clip whose index promises frames past the end of its data (a cut-off download or copy)."""
    entries, size = v.index_entries, os.path.getsize(path)
    if not v.frames or len(entries) != v.frames:
        return
    have = sum(e.pos + e.size <= size for e in entries)
    if have < v.frames:
        raise FaceswapError(f"{path}: the data stops after {have} of {v.frames} frames (truncated file?); "
                            "download or copy it again")


def _turns(v, frame) -> int:
    """Counter-clockwise quarter turns that show a stored frame upright (display matrix, else a `rotate`
    tag)."""
    tag = next((x for k, x in v.metadata.items() if k.lower() == "rotate"), "")  # (it counts clockwise)
    deg = (frame.rotation if frame is not None else 0) or (-int(tag) if tag.lstrip("-").isdigit() else 0)
    return round(deg / 90) % 4


def _stream_seconds(stream) -> float:
    if stream.duration is not None and stream.time_base is not None:
        return float(stream.duration * stream.time_base)
    return 0.0


def rgb_image(image, what: str = "frame") -> np.ndarray:
    """The one check for images handed to the library: uint8 (H, W, 3) RGB comes back as it is; grey (H, W)
    or (H, W, 1) and RGBA (H, W, 4) are converted; anything else (float, 16-bit, other shapes) is refused
    with one line, since guessing its scale would give silently wrong colours."""
    a = np.asarray(image)
    if a.dtype != np.uint8:
        raise FaceswapError(f"{what}: {a.dtype} pixels; give uint8 RGB in 0-255 "
                            "(e.g. (img * 255).astype('uint8'))")
    if a.ndim == 3 and a.shape[2] == 1:
        a = a[:, :, 0]
    if a.ndim == 2:
        return np.repeat(a[:, :, None], 3, axis=2)
    if a.ndim == 3 and a.shape[2] == 4:
        return np.ascontiguousarray(a[:, :, :3])
    if a.ndim == 3 and a.shape[2] == 3:
        return a
    raise FaceswapError(f"{what}: shape {a.shape}; give an (H, W, 3) RGB image")


def video_info(path: str | os.PathLike) -> VideoInfo:
    """Upright size (a phone clip's rotation applied), frame rate, frame count, duration and audio of a
    video."""
    with open_container(path) as c:
        v = _video_stream(c, path)
        _check_complete(v, path)
        fps = float(v.average_rate or v.guessed_rate or 0) or 25.0
        duration = _stream_seconds(v) or (float(c.duration) / av.time_base if c.duration else 0.0)
        frames = v.frames or int(round(duration * fps))
        a = c.streams.audio[0] if c.streams.audio else None
        size, first = (v.codec_context.width, v.codec_context.height), None
        with contextlib.suppress(av.error.FFmpegError):  # (damaged data is reported when frames are read)
            first = next(c.decode(v), None)  # the display matrix comes with decoded frames
        turns = _turns(v, first)
        return VideoInfo(str(path), *(size[::-1] if turns % 2 else size), fps, frames, duration,
                         a is not None, _stream_seconds(a) if a is not None else 0.0,
                         a.codec_context.sample_rate if a is not None else 0, turns * 90,
                         c.format.name == "image2" or c.format.name.endswith("pipe"))


def iter_frames(path: str | os.PathLike, fps: float | None = None, start: float = 0.0,
                end: float | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (time in seconds, upright RGB frame) from `start` to `end`, optionally resampled to `fps`."""
    c = open_container(path)
    n = turns = 0
    try:
        v = _video_stream(c, path)
        _check_complete(v, path)
        v.thread_type = "AUTO"
        if start > 0:
            c.seek(int(start / v.time_base), stream=v, backward=True, any_frame=False)
        next_t = start
        for n, frame in enumerate(c.decode(v), 1):
            turns = _turns(v, frame) if n == 1 else turns
            t = float(frame.time) if frame.time is not None else next_t
            if t < start - 1e-6:
                continue
            if end is not None and t >= end:
                break
            if fps is not None:
                if t + 1e-6 < next_t:
                    continue
                next_t += 1.0 / fps
                while next_t <= t:
                    next_t += 1.0 / fps
            # (rot90 and ascontiguousarray copy nothing when there is no turn)
            yield t, np.ascontiguousarray(np.rot90(frame.to_ndarray(format="rgb24"), turns))
    except av.error.FFmpegError as e:
        where = f" after {n} of {v.frames} frames" if not start and v.frames else ""
        raise FaceswapError(f"{path}: damaged video data{where} ({_short(e)}); check or re-download the "
                            "file") from None
    finally:
        c.close()


def read_frames(path: str | os.PathLike, fps: float | None = None, start: float = 0.0,
                end: float | None = None, max_frames: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All frames (N, H, W, 3) and their times (N,) of a clip, optionally resampled and capped."""
    frames, times = [], []
    for t, f in iter_frames(path, fps, start, end):
        frames.append(f)
        times.append(t)
        if max_frames is not None and len(frames) >= max_frames:
            break
    if not frames:
        raise FaceswapError(f"{path}: no frames between {start}s and {end}s")
    return np.stack(frames), np.asarray(times)


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """The first audio stream of a file as mono float32 samples and its sample rate."""
    c = open_container(path)
    try:
        if not c.streams.audio:
            raise FaceswapError(f"{path}: has no audio stream")
        a = c.streams.audio[0]
        chunks = [f.to_ndarray().astype(np.float32).mean(0) if f.format.is_planar
                  else f.to_ndarray().astype(np.float32).reshape(-1, f.layout.nb_channels).mean(1)
                  for f in c.decode(a)]
        return np.concatenate(chunks) if chunks else np.zeros(0, np.float32), a.codec_context.sample_rate
    except av.error.FFmpegError as e:
        raise FaceswapError(f"{path}: damaged audio data ({_short(e)})") from None
    finally:
        c.close()


