"""Video and audio I/O on PyAV: read frames, write H.264 MP4, carry a clip's audio across, read a file's video info.

Frames cross this module's edges as ``uint8 HxWx3 RGB`` numpy arrays. Every file is written to a
temporary name beside its destination and renamed only when complete, so an interrupted run never
leaves a half-written file under the final name. Taught in chapter 01 (and used by chapter 05).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from .errors import FaceswapError
from .files import AtomicPath


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


def _open(path: str | os.PathLike) -> av.container.InputContainer:
    path = Path(path)
    if not path.is_file():
        raise FaceswapError(f"{path}: no such file; check the path")
    try:
        return av.open(str(path))
    except (av.error.FFmpegError, UnicodeDecodeError, ValueError) as e:
        raise FaceswapError(f"{path}: not a readable video ({_short(e)}); check or re-download the file") from None


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
    if v.frames and len(entries) == v.frames and (have := sum(e.pos + e.size <= size for e in entries)) < v.frames:
        raise FaceswapError(f"{path}: the data stops after {have} of {v.frames} frames (truncated file?); "
                            "download or copy it again")


def _turns(v, frame) -> int:
    """Counter-clockwise quarter turns that show a stored frame upright (display matrix, else a `rotate` tag)."""
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
        raise FaceswapError(f"{what}: {a.dtype} pixels; give uint8 RGB in 0-255 (e.g. (img * 255).astype('uint8'))")
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
    """Upright size (a phone clip's rotation applied), frame rate, frame count, duration and audio of a video."""
    with _open(path) as c:
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
    c = _open(path)
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
            yield t, np.ascontiguousarray(np.rot90(frame.to_ndarray(format="rgb24"), turns))  # (no copy when 0)
    except av.error.FFmpegError as e:
        where = f" after {n} of {v.frames} frames" if not start and v.frames else ""
        raise FaceswapError(f"{path}: damaged video data{where} ({_short(e)}); check or re-download the file") from None
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


class VideoWriter:
    """Write RGB frames to an H.264 MP4, with audio copied from a clip or given as samples.

    `audio_range` (seconds) copies only that part of the source's audio, shifted to start at 0.

    Use as a context manager; the file appears under its final name only if the block succeeds.
    """

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int] | None = None, *,
                 audio_from: str | os.PathLike | None = None,
                 audio: tuple[np.ndarray, int] | None = None, audio_range: tuple[float, float | None] = (0.0, None),
                 crf: int = 20, preset: str = "veryfast",
                 overwrite: bool = False, metadata: dict[str, str] | None = None):
        self._target = AtomicPath(path, overwrite)
        self.fps = Fraction(fps).limit_denominator(1001)
        self.size = size  # (height, width); taken from the first frame when None
        self._crf, self._preset = crf, preset
        self._out = av.open(str(self._target.tmp), "w", format="mp4")
        self._out.metadata.update(metadata or {})
        self._video, self._n = None, 0
        self._audio_src = self._pending = None
        self._audio_packets: Iterator | None = None
        self._audio_start, self._audio_end = audio_range
        if audio_from is not None:
            src = _open(audio_from)
            if src.streams.audio:
                self._audio_src = src
                self._audio_out = self._out.add_stream_from_template(src.streams.audio[0])
                self._audio_packets = src.demux(src.streams.audio[0])
            else:
                src.close()
        elif audio is not None:
            self._samples, self._rate = audio
            self._audio_out = self._out.add_stream("aac", rate=self._rate, layout="mono")
            self._audio_out.bit_rate = 64000

    def _open_video(self, h: int, w: int) -> None:
        if h % 2 or w % 2:
            raise FaceswapError(f"{self._target.final}: frame size {w}x{h} must be even for H.264; resize it")
        self._video = self._out.add_stream("libx264", rate=self.fps,
                                           options={"crf": str(self._crf), "preset": self._preset})
        self._video.width, self._video.height = w, h
        self._video.pix_fmt = "yuv420p"
        self._video.thread_type = "AUTO"

    def write(self, frame: np.ndarray) -> None:
        """Append one RGB uint8 frame."""
        if self._video is None:
            self._open_video(*frame.shape[:2])
            self.size = frame.shape[:2]
        if frame.shape[:2] != (self._video.height, self._video.width):
            raise FaceswapError(f"{self._target.final}: frame {self._n} is {frame.shape[1]}x{frame.shape[0]}, "
                                f"expected {self._video.width}x{self._video.height}")
        vf = av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")
        vf.pts = self._n
        vf.time_base = 1 / self.fps
        try:
            self._out.mux(self._video.encode(vf))
            self._n += 1
            self._mux_audio_until(self._n / self.fps)
        except OSError as e:
            self._failed(e)

    def _failed(self, e: BaseException) -> None:
        """Re-raise a write error; one of the file system (a full disk) names the video, not its temp."""
        if isinstance(e, OSError):
            raise FaceswapError(f"{self._target.final}: could not be written ({e.strerror or e}); free some space "
                                "and try again") from None
        raise e

    def write_all(self, frames: Iterable[np.ndarray]) -> None:
        for f in frames:
            self.write(f)

    def _mux_audio_until(self, t: float | None) -> None:
        """Copy source audio packets up to time t (None: all) so the file stays interleaved."""
        if self._audio_packets is None:
            return
        while True:
            pkt = self._pending or next(self._audio_packets, None)
            self._pending = None
            if pkt is None:
                self._audio_packets = None
                return
            if pkt.dts is None or pkt.pts is None:
                continue
            pt = float(pkt.pts * pkt.time_base)
            if self._audio_start and pt < self._audio_start - 1e-6:
                continue  # (with no start, keep the encoder-delay packets that come before 0)
            if self._audio_end is not None and pt >= self._audio_end - 1e-6:
                self._audio_packets = None
                return
            if t is not None and pt - self._audio_start > t:
                self._pending = pkt
                return
            if self._audio_start:
                shift = int(round(self._audio_start / pkt.time_base))
                pkt.pts -= shift
                pkt.dts -= shift
            pkt.stream = self._audio_out
            self._out.mux(pkt)

    def _encode_samples(self) -> None:
        samples = np.asarray(self._samples, np.float32).reshape(-1)
        step = self._audio_out.codec_context.frame_size or 1024
        for i in range(0, len(samples), step):
            chunk = samples[i:i + step]
            af = av.AudioFrame.from_ndarray(chunk[None, :], format="fltp", layout="mono")
            af.sample_rate = self._rate
            af.pts = i
            af.time_base = Fraction(1, self._rate)
            self._out.mux(self._audio_out.encode(af))
        self._out.mux(self._audio_out.encode(None))

    def close(self, ok: bool = True) -> Path | None:
        """Finish the file; rename it into place when `ok`, else delete it."""
        try:
            try:
                if ok:
                    if self._video is None:
                        raise FaceswapError(f"{self._target.final}: no frames were written")
                    self._out.mux(self._video.encode(None))
                    self._mux_audio_until(None)
                    if getattr(self, "_samples", None) is not None:
                        self._encode_samples()
                self._out.close()
            finally:
                if self._audio_src is not None:
                    self._audio_src.close()
        except BaseException as e:
            self._target.discard()
            self._failed(e)
        if ok:
            return self._target.commit()
        self._target.discard()
        return None

    def __enter__(self) -> VideoWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close(True)
        else:
            try:
                self._out.close()
            except Exception:  # the error that brought us here is the one to report
                pass
            self._target.discard()


def write_video(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float, **kwargs) -> Path:
    """Write RGB frames to an MP4 (see `VideoWriter` for audio and overwrite options)."""
    with VideoWriter(path, fps, **kwargs) as w:
        w.write_all(frames)
    return Path(path)


def read_audio(path: str | os.PathLike) -> tuple[np.ndarray, int]:
    """The first audio stream of a file as mono float32 samples and its sample rate."""
    c = _open(path)
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


def write_gif(frames: list[np.ndarray], path: str | os.PathLike, fps: float, width: int = 320,
              overwrite: bool = False) -> Path:
    """Save RGB frames as a looping GIF at most `width` px wide (written to a temp file, then renamed)."""
    import cv2
    from PIL import Image

    if not frames:
        raise FaceswapError(f"{path}: no frames for the GIF; check the GIF's time range")
    target = AtomicPath(path, overwrite)
    try:
        h, w = frames[0].shape[:2]
        size = (width, int(round(h * width / w))) if w > width else (w, h)
        imgs = [Image.fromarray(cv2.resize(f, size, interpolation=cv2.INTER_AREA)) for f in frames]
        imgs[0].save(target.tmp, format="GIF", save_all=True, append_images=imgs[1:],
                     duration=int(round(1000 / fps)), loop=0)
        return target.commit()
    except BaseException:
        target.discard()
        raise
