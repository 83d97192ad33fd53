"""Collect clips of a person into the workspace: from a URL (yt-dlp), a local file, or the synthetic cast.

Clips land in ``<workspace>/clips/<person>/`` beside a ``manifest.json`` that records where each came
from, its size, rate and duration, and a licence/consent note. Taught in chapter 01.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import encode, media, synth
from .errors import FaceswapError
from .files import LOCK_FILE, AtomicPath, lock, write_json
from .workspace import clips_dir

SYNTHETIC = "synthetic:"
LICENCE_SYNTHETIC = "synthetic cast member made up by faceswap-lab: no real person is shown; free to use"
LICENCE_REAL = ("real footage: use it only with the rights to the clip and the consent of every person "
                "shown, and label any swapped result as synthetic")


@dataclass
class ClipRecord:
    """One collected clip, as written in the person's manifest."""

    file: str  # file name inside the person's clip folder
    source: str  # synthetic:<name>, the URL, or the original local path
    kind: str  # synthetic | url | file
    duration: float
    fps: float
    width: int
    height: int
    frames: int
    has_audio: bool
    licence: str
    options: dict = field(default_factory=dict)
    collected: str = ""

    def path(self, workspace: str | Path, person: str) -> Path:
        return clips_dir(workspace, person) / self.file


def load_manifest(workspace: str | Path, person: str) -> list[ClipRecord]:
    """The clips collected so far for `person` (empty if none)."""
    path = clips_dir(workspace, person) / "manifest.json"
    if not path.exists():
        return []
    try:
        return [ClipRecord(**c) for c in json.loads(path.read_text())["clips"]]
    except (ValueError, KeyError, TypeError) as e:
        raise FaceswapError(f"{path}: damaged manifest ({e}); fix it, or move the folder away and collect "
                            "again") from None


def _save_manifest(workspace: str | Path, person: str, clips: list[ClipRecord]) -> None:
    write_json(clips_dir(workspace, person) / "manifest.json",
               {"person": person, "clips": [asdict(c) for c in clips]}, indent=1)


def parse_section(section: str | None) -> tuple[float, float | None]:
    """'START-END' in seconds or [h:]mm:ss (either side may be empty) -> (start, end)."""
    if not section:
        return 0.0, None

    def secs(s: str) -> float:
        parts = [float(x) for x in s.split(":")]
        if not all(math.isfinite(v) and v >= 0 for v in parts):
            raise ValueError(s)
        total = sum(v * 60 ** i for i, v in enumerate(reversed(parts)))
        if not math.isfinite(total):
            raise ValueError(s)
        return total

    try:
        a, b = section.split("-", 1)
        start, end = (secs(a) if a.strip() else 0.0), (secs(b) if b.strip() else None)
    except ValueError:
        raise FaceswapError(f"section {section!r}: write it as START-END, e.g. 0:10-0:40 or 5-20") from None
    if end is not None and end <= start:
        raise FaceswapError(f"section {section!r}: the end must come after the start")
    return start, end


def collect(source: str, person: str, workspace: str | Path = "data", *, frames: int = 300, size: int = 256,
            fps: float = 25.0, seed: int = 0, section: str | None = None, max_height: int = 720,
            overwrite: bool = False, progress: bool = False) -> ClipRecord:
    """Bring one clip of `person` into the workspace and record it in the manifest.

    `frames`, `size`, `fps` and `seed` apply to synthetic sources; `section` ('START-END') and
    `max_height` to URLs and local files. Collecting the same source with the same options again
    returns the existing record; a different clip under an existing file name needs `overwrite`.
    """
    for name, value, low in (("frames", frames, 1), ("size", size, 32), ("fps", fps, 1)):
        if not value >= low:
            raise FaceswapError(f"{name} {value}: it must be at least {low}")
    folder = clips_dir(workspace, person)
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with lock(folder, f"the clips of {person}"):  # one writer per person's clips and manifest
            clips = load_manifest(workspace, person)
            start, end = parse_section(section)
            if source.startswith(SYNTHETIC):
                ident = synth.get_identity(source[len(SYNTHETIC):])
                options = {"frames": frames, "size": size, "fps": fps, "seed": seed}
                name = f"{ident.name}_s{seed}_{frames}f_{size}px.mp4"
                kind = "synthetic"
            elif re.match(r"^[a-z][a-z0-9+.-]*://", source):
                options = {"section": section, "max_height": max_height}
                name = None  # known after download
                kind = "url"
            else:
                src = Path(source).expanduser()
                if not src.is_file():
                    raise FaceswapError(f"{source}: not a file, a URL or synthetic:<name>; check the source")
                options = {"section": section}
                name = _visible(src.name)
                kind = "file"

            def existing(file_name: str) -> ClipRecord | None:
                for c in clips:
                    if c.file == file_name:
                        if c.source == source and c.options == options and (folder / file_name).exists():
                            return c
                        if not overwrite:
                            raise FaceswapError(f"{folder / file_name}: a different clip has this name; "
                                                "pass overwrite=True (--overwrite) to replace it")
                if (folder / file_name).exists() and not overwrite:
                    raise FaceswapError(f"{folder / file_name}: exists but is not in the manifest; "
                                        "move it away or pass overwrite=True (--overwrite)")
                return None

            if name is not None and (rec := existing(name)) is not None:
                return rec
            if kind == "synthetic":
                dest = folder / name
                if dest.exists():
                    synth.truth_path(dest).unlink(missing_ok=True)
                synth.render_clip(ident, frames, dest, fps=fps, size=size, seed=seed, overwrite=True,
                                  progress=progress)
                licence = LICENCE_SYNTHETIC
            else:
                with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as tmp:
                    got = (download(source, Path(tmp), max_height) if kind == "url"
                           else Path(source).expanduser())
                    name = name or _visible(got.name)
                    if kind == "url" and (rec := existing(name)) is not None:
                        return rec
                    dest = folder / name
                    info = media.video_info(got)  # refuses anything that is not a readable video
                    if info.image:  # (PyAV reads a photo as a one-frame "video")
                        raise FaceswapError(f"{source}: an image, not a video; image folders are a face "
                                            "source for `extract`, not for `collect`")
                    if start >= info.duration:
                        raise FaceswapError(f"section {section!r}: starts past the end of {source} "
                                            f"({info.duration:.2f} s)")
                    if start > 0 or end is not None:
                        _trim(got, dest, start, end, info)
                    else:
                        dest_tmp = AtomicPath(dest, overwrite=True)
                        try:
                            shutil.copyfile(got, dest_tmp.tmp)
                            dest_tmp.commit()
                        finally:
                            dest_tmp.discard()  # (after a commit there is nothing left to discard)
                # a real clip replacing a cast clip of the same name: the cast clip's truth is not its truth
                synth.truth_path(dest).unlink(missing_ok=True)
                licence = LICENCE_REAL
            info = media.video_info(dest)
            rec = ClipRecord(file=name, source=source, kind=kind, duration=round(info.duration, 3),
                             fps=round(info.fps, 3), width=info.width, height=info.height, frames=info.frames,
                             has_audio=info.has_audio, licence=licence, options=options,
                             collected=time.strftime("%Y-%m-%dT%H:%M:%S"))
            _save_manifest(workspace, person, [c for c in clips if c.file != name] + [rec])
            return rec

    except BaseException:
        if created:  # a failed first collect of a person leaves no empty folder behind
            (folder / LOCK_FILE).unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                folder.rmdir()
        raise


def _visible(name: str) -> str:
    """A clip's file name without leading dots: extract skips hidden files (a writer's temp files)."""
    return name.lstrip(".") or "clip.mp4"


def _trim(src: Path, dest: Path, start: float, end: float | None, info: media.VideoInfo) -> None:
    """Cut [start, end) of a clip, re-encoding the video and copying the audio of the same range."""
    frames = (f for _, f in media.iter_frames(src, start=start, end=end))
    encode.write_video(dest, frames, info.fps, overwrite=True, audio_from=src if info.has_audio else None,
                      audio_range=(start, end))


class _QuietLogger:
    """Keeps yt-dlp's own output out of notebooks; errors come back as exceptions."""

    def debug(self, msg: str) -> None:
        pass

    def info(self, msg: str) -> None:
        pass

    def warning(self, msg: str) -> None:
        pass

    def error(self, msg: str) -> None:
        pass


def download(url: str, folder: Path, max_height: int = 720) -> Path:
    """Download one video with yt-dlp into `folder` (at most `max_height` pixels tall); return its path."""
    import yt_dlp

    merge = shutil.which("ffmpeg") is not None  # joining separate video and audio streams needs ffmpeg
    fmt = (f"bv*[height<=?{max_height}]+ba/b[height<=?{max_height}]/b" if merge
           else f"b[height<=?{max_height}]/b")
    opts = {"outtmpl": str(folder / "%(title).60B-%(id)s.%(ext)s"), "format": fmt, "noplaylist": True,
            "quiet": True, "no_warnings": True, "noprogress": True, "logger": _QuietLogger(),
            "retries": 0, "fragment_retries": 0, "extractor_retries": 0, "socket_timeout": 15,
            "restrictfilenames": True}
    try:
        with yt_dlp.YoutubeDL(opts) as ydl:
            info = ydl.extract_info(url, download=True)
            path = Path(ydl.prepare_filename(info))
    except yt_dlp.utils.YoutubeDLError as e:
        msg = re.sub(r"\x1b\[[0-9;]*m", "", str(e)).replace("ERROR: ", "").strip().splitlines()[0]
        msg = msg.split(" (caused by ")[0]
        raise FaceswapError(f"{url}: download failed ({msg}); check the URL and the network") from None
    if not path.exists():  # merged output may have another extension
        found = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.endswith(".part"))
        if not found:
            raise FaceswapError(f"{url}: yt-dlp reported success but wrote no file")
        path = found[0]
    return path


def collect_many(sources: dict[str, str], workspace: str | Path = "data", **options) -> dict[str, ClipRecord]:
    """Collect one clip per person from a {person: source} mapping (synthetic motion seeds seed,
    seed+1, ...)."""
    seed = options.pop("seed", 0)
    return {person: collect(src, person, workspace, seed=seed + i, **options)
            for i, (person, src) in enumerate(sources.items())}


__all__ = ["ClipRecord", "collect", "collect_many", "clips_dir", "download", "load_manifest", "parse_section"]
