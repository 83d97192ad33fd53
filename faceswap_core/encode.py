"""Writing video on PyAV: RGB frames to an H.264 MP4 with a clip's audio carried across (or given samples),
and looping GIFs. Every file is written to a temporary name beside its destination and renamed only when
complete, so an interrupted run never leaves a half-written file under the final name. Frames are
``uint8 HxWx3 RGB``. Taught in chapter 01 (and used by chapter 05)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from . import media
from .errors import FaceswapError
from .files import AtomicPath


class VideoWriter:
    """Write RGB frames to an H.264 MP4, with audio copied from a clip or given as samples.

    `audio_range` (seconds) copies only that part of the source's audio, shifted to start at 0.

    Use as a context manager; the file appears under its final name only if the block succeeds.
    """

    def __init__(self, path: str | os.PathLike, fps: float, size: tuple[int, int] | None = None, *,
                 audio_from: str | os.PathLike | None = None,
                 audio: tuple[np.ndarray, int] | None = None,
                 audio_range: tuple[float, float | None] = (0.0, None),
                 crf: int = 20, preset: str = "veryfast",
                 overwrite: bool = False, metadata: dict[str, str] | None = None):
        self.fps = Fraction(media.real(fps, "fps", 0, 1000)).limit_denominator(1001)
        self._target = _target(path, overwrite, "video")
        self.size = size  # (height, width); taken from the first frame when None
        self._crf, self._preset = crf, preset
        self._out = av.open(str(self._target.tmp), "w", format="mp4")
        self._out.metadata.update(metadata or {})
        self._video, self._n = None, 0
        self._audio_src = self._pending = None
        self._audio_packets: Iterator | None = None
        self._audio_start, self._audio_end = audio_range
        try:
            self._open_audio(audio_from, audio)
        except BaseException:  # (a missing audio source): leave no temp file behind
            self._out.close()
            self._target.discard()
            raise

    def _open_audio(self, audio_from, audio) -> None:
        if audio_from is not None:
            src = media.open_container(audio_from)
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
        """Append one RGB uint8 frame (grey and RGBA converted)."""
        frame = media.rgb_image(frame, f"frame {self._n}")
        if self._video is None:
            self._open_video(*frame.shape[:2])
            self.size = frame.shape[:2]
        if frame.shape[:2] != (self._video.height, self._video.width):
            raise FaceswapError(f"{self._target.final}: frame {self._n} is {frame.shape[1]}x"
                                f"{frame.shape[0]}, expected {self._video.width}x{self._video.height}")
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
            raise FaceswapError(f"{self._target.final}: could not be written ({e.strerror or e}); free some "
                                "space and try again") from None
        raise e

    def write_all(self, frames: Iterable[np.ndarray]) -> None:
        """Append frames: a sequence of RGB frames or an (N, H, W, 3) array."""
        for f in _frames(frames):
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


def write_gif(frames: list[np.ndarray], path: str | os.PathLike, fps: float, width: int = 320,
              overwrite: bool = False) -> Path:
    """Save RGB frames as a looping GIF at most `width` px wide (written to a temp file, then renamed)."""
    import cv2
    from PIL import Image

    fps, width = media.real(fps, "fps", 0, 1000), media.positive_int(width, "width")
    frames = [media.rgb_image(f, f"frame {k}") for k, f in enumerate(_frames(frames))]
    if not frames:
        raise FaceswapError(f"{path}: no frames for the GIF; check the GIF's time range")
    target = _target(path, overwrite, "GIF")
    try:
        h, w = frames[0].shape[:2]
        size = (width, max(1, round(h * width / w))) if w > width else (w, h)
        imgs = [Image.fromarray(cv2.resize(f, size, interpolation=cv2.INTER_AREA)) for f in frames]
        imgs[0].save(target.tmp, format="GIF", save_all=True, append_images=imgs[1:],
                     duration=int(round(1000 / fps)), loop=0)
        return target.commit()
    except BaseException:
        target.discard()
        raise


def _target(path, overwrite: bool, what: str) -> AtomicPath:
    """The temp file beside a checked output path (not a folder; see `files.AtomicPath`)."""
    path = media.as_path(path, f"{what} path")
    if path.is_dir():
        raise FaceswapError(f"{path}: a folder; give a file name for the {what}")
    return AtomicPath(path, overwrite)


def _frames(frames) -> Iterable[np.ndarray]:
    """Frames as given, refusing None and one (H, W, 3) image given where a sequence of frames belongs."""
    one = isinstance(frames, np.ndarray) and (frames.ndim not in (3, 4) or frames.ndim == 3 and
                                              frames.shape[-1] in (3, 4))
    if frames is None or one:
        got = "None" if frames is None else f"one array of shape {frames.shape}"
        raise FaceswapError(f"frames: {got}; give a list of (H, W, 3) frames or an (N, H, W, 3) array")
    return frames
