"""Reading video and audio on PyAV: a file's video info, its frames (upright), its audio; images checked.

Frames cross this module's edges as ``uint8 HxWx3 RGB`` numpy arrays (`rgb_image` converts grey and RGBA
and refuses the rest in one line). The library's input checks live here, one per kind: `rgb_image` and
`image_array` (pixels), `read_image` (image files), `as_path`, `positive_int` (sizes, counts), `real` (frame
rates, shares) and `frame_size` (shapes); landmarks are `faces.align.landmarks68`'s. Writing is `encode`'s
job. Taught in chapter 01 (and used by chapter 05).
"""

from __future__ import annotations

import contextlib
import os
import re
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import av
import cv2
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
    """A media file opened for reading (one line for a missing, folder or unreadable path)."""
    path = as_path(path)
    if path.is_dir():
        raise FaceswapError(f"{path}: a folder, not a video; give a video file")
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


MAX_SIDE = 32_767  # px: OpenCV's warps and remaps stop below 2**15 a side
MAX_PIXELS = 100_000_000  # an image over 100 megapixels is no photo or video frame (a decompression bomb?)
CV_DTYPES = (np.uint8, np.uint16, np.float32, np.float64)  # pixel types OpenCV warps and resizes
RGB_HINT = "give a uint8 (H, W, 3) RGB array"


def as_path(path, what: str = "path") -> Path:
    """A file name as a Path; None, numbers and other objects are refused in one line."""
    if not isinstance(path, (str, os.PathLike)):
        raise FaceswapError(f"{what} {path!r}: not a path; give a file name")
    return Path(path)


def positive_int(value, what: str = "size", most: int = MAX_SIDE) -> int:
    """A whole number from 1 to `most` (a size in pixels, a count), else one line naming it."""
    whole = isinstance(value, (int, np.integer)) or isinstance(value, float) and value.is_integer()
    if isinstance(value, (bool, np.bool_)) or not whole or not 1 <= value <= most:
        raise FaceswapError(f"{what} {value!r}: give a whole number from 1 to {most}")
    return int(value)


def real(value, what: str, low: float, high: float) -> float:
    """A finite number above `low` and at most `high` (a frame rate, a share), else one line naming it."""
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if not ok or not low < value <= high:  # (NaN fails the comparison)
        raise FaceswapError(f"{what} {value!r}: give a number above {low} and at most {high}")
    return float(value)


def frame_size(shape, what: str = "frame shape") -> tuple[int, int]:
    """(height, width) of a frame's shape (H, W[, C]): 1 to `MAX_SIDE` px a side, `MAX_PIXELS` in all."""
    ok = isinstance(shape, (tuple, list)) and len(shape) >= 2 and all(
        isinstance(v, (int, np.integer)) and 1 <= v <= MAX_SIDE for v in shape[:2])
    if not ok or shape[0] * shape[1] > MAX_PIXELS:
        raise FaceswapError(f"{what} {shape!r}: give a frame's shape (H, W[, C]), 1 to {MAX_SIDE} px a side "
                            f"and at most {MAX_PIXELS // 10**6} megapixels")
    return int(shape[0]), int(shape[1])


def image_array(image, what: str = "image", dtypes: tuple = CV_DTYPES) -> np.ndarray:
    """The one check of pixels handed to the library: an (H, W) or (H, W, 1-4) array of one of `dtypes`,
    not empty and not absurdly large; anything else is refused with one line naming it."""
    if image is None:
        raise FaceswapError(f"{what}: no image (None); {RGB_HINT}")
    try:
        a = np.asarray(image)
    except (ValueError, TypeError) as e:
        raise FaceswapError(f"{what}: not an image array ({_short(e)[:60]}); {RGB_HINT}") from None
    if a.dtype not in dtypes:
        hint = ("give uint8 RGB in 0-255 (e.g. (img * 255).astype('uint8'))" if dtypes == (np.uint8,)
                else f"give {', '.join(np.dtype(d).name for d in dtypes)} pixels")
        raise FaceswapError(f"{what}: {a.dtype} pixels; {hint}")
    if a.ndim not in (2, 3) or a.ndim == 3 and not 1 <= a.shape[2] <= 4:
        first = a.ndim == 3 and a.shape[0] in (1, 3, 4)
        why = ("; one image, not a batch" if a.ndim == 4 else
               " (channels first? use np.moveaxis(img, 0, -1))" if first else "")
        raise FaceswapError(f"{what}: shape {a.shape}{why}; give an (H, W, 3) RGB image")
    h, w = a.shape[:2]
    if not h or not w:
        raise FaceswapError(f"{what}: an empty image, shape {a.shape}; give a picture with pixels")
    if max(h, w) > MAX_SIDE or h * w > MAX_PIXELS:
        raise FaceswapError(f"{what}: {w}x{h} pixels is too large (at most {MAX_SIDE} a side and "
                            f"{MAX_PIXELS // 10**6} megapixels); resize it")
    return a


def rgb_image(image, what: str = "frame") -> np.ndarray:
    """The one check for images handed to the library: uint8 (H, W, 3) RGB comes back as it is; grey (H, W)
    or (H, W, 1) and RGBA (H, W, 4) are converted; anything else (float, 16-bit, other shapes, empty or huge)
    is refused with one line, since guessing its scale would give silently wrong colours."""
    a = image_array(image, what, (np.uint8,))
    if a.ndim == 3 and a.shape[2] == 3:
        return a
    if a.ndim == 2 or a.shape[2] == 1:
        return np.repeat(a.reshape(a.shape[:2] + (1,)), 3, axis=2)
    if a.shape[2] == 4:
        return np.ascontiguousarray(a[:, :, :3])
    raise FaceswapError(f"{what}: shape {a.shape}; give an (H, W, 3) RGB image")


def read_image(path, what: str = "image") -> np.ndarray:
    """An image file as uint8 (H, W, 3) RGB; a missing path, a folder, a file that is no image or whose
    header declares more than `MAX_PIXELS` is refused in one line naming the file."""
    from PIL import Image, UnidentifiedImageError

    path = as_path(path, what)
    if path.is_dir():
        raise FaceswapError(f"{path}: a folder, not an image; give one photo (JPEG or PNG)")
    if not path.is_file():
        raise FaceswapError(f"{path}: no such file; check the path")
    try:  # the header only: its size is checked before anything is decoded
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                pixels, size = im.size[0] * im.size[1], "x".join(map(str, im.size))
    except Image.DecompressionBombError as e:  # (PIL's own limit, above ours: it names the pixels only)
        pixels = int(next(iter(re.findall(r"\d+", str(e))), MAX_PIXELS + 1))
        size = f"{pixels:,} pixels"
    except UnidentifiedImageError:
        raise FaceswapError(f"{path}: not a readable image (no image format recognised); give a photo "
                            "(JPEG or PNG)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise FaceswapError(f"{path}: not a readable image ({_short(e)}); give a photo (JPEG or "
                            "PNG)") from None
    if pixels > MAX_PIXELS:
        raise FaceswapError(f"{path}: its header declares {size}, over {MAX_PIXELS // 10**6} megapixels "
                            "(damaged, or a decompression bomb); give a smaller photo")
    try:
        img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    except cv2.error:
        img = None
    if img is None or img.size == 0:
        raise FaceswapError(f"{path}: not a readable image (damaged data); give a photo (JPEG or PNG)")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


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


def key_frames(path: str | os.PathLike) -> set[int]:
    """Indices (in display order) of a video's key frames: the frames an encoder coded afresh, from the
    packets alone (nothing is decoded)."""
    with open_container(path) as c:
        v = _video_stream(c, path)
        try:
            packets = [(p.pts, p.is_keyframe) for p in c.demux(v) if p.pts is not None]
        except av.error.FFmpegError as e:
            raise FaceswapError(f"{path}: damaged video data ({_short(e)}); check or re-download the "
                                "file") from None
    order = sorted(pts for pts, _ in packets)
    keys = {pts for pts, key in packets if key}
    return {i for i, pts in enumerate(order) if pts in keys}


def iter_frames(path: str | os.PathLike, fps: float | None = None, start: float = 0.0,
                end: float | None = None) -> Iterator[tuple[float, np.ndarray]]:
    """Yield (time in seconds, upright RGB frame) from `start` to `end`, optionally resampled to `fps`."""
    fps = None if fps is None else real(fps, "fps", 0, 1000)
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


