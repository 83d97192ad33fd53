"""The workspace: names, folder layout, atomic writes and writer locks. Every stage writes through here.

A workspace (``data/`` by default) holds ``clips/<person>/`` (chapter 01), ``faces/<person>/`` (02),
``models/<A>-<B>-<config>/`` (04), ``outputs/`` (05) and ``runs/`` (the tour). A name (person or model)
is one safe folder name: letters, digits, ``_`` and ``-``; no dots, which later stages read as suffixes.
Nothing half-written ever sits under a final name: writers use `AtomicPath` / `write_atomic` (a temp file
beside the target that carries the writer's pid, renamed into place on success), and one writer at a
time holds a folder's `lock`.
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
import re
import shutil
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from .errors import FaceswapError

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


def check_name(name: str, what: str = "person name") -> str:
    """A person or model name must be a safe folder name; returns it unchanged."""
    if not isinstance(name, str) or not _NAME.match(name):
        raise FaceswapError(f"{what} {name!r}: use letters, digits, '_' or '-' (at most 64, no dots or spaces)")
    return name


def clips_dir(workspace: str | Path, person: str) -> Path:
    """Where chapter 01 collects a person's clips (with its manifest.json)."""
    return Path(workspace) / "clips" / check_name(person)


def faces_dir(workspace: str | Path, person: str) -> Path:
    """Where chapter 02 writes a person's face set."""
    return Path(workspace) / "faces" / check_name(person)


def model_name(persons: Sequence[str], config: str) -> str:
    """The default model folder name: ``<A>-<B>-<config>``."""
    return check_name("-".join([*persons, config]), "model name")


def model_dir(workspace: str | Path, persons: Sequence[str], config: str = "lite", name: str | None = None) -> Path:
    """Where chapter 04 (or `faceswap-core train`) keeps a model: `name`, or ``<A>-<B>-<config>``."""
    for p in persons:
        check_name(p)
    return Path(workspace) / "models" / (check_name(name, "model name") if name else model_name(persons, config))


def outputs_dir(workspace: str | Path) -> Path:
    """Where the chapters write videos, GIFs and held-out clips."""
    return Path(workspace) / "outputs"


def keys_dir(workspace: str | Path) -> Path:
    """Where the workspace's local test identity for signing Content Credentials lives."""
    return Path(workspace) / "keys"


def detector_file(workspace: str | Path) -> Path:
    """The swap detector chapter 09 saves and `faceswap-core detect` reads by default."""
    return Path(workspace) / "detectors" / "spotter.safetensors"


# ------------------------------------------------------------------------------------------ atomic writes


def usual_mode(path: str | os.PathLike) -> None:
    """Give a file, or a folder and all it holds, the mode a plain write would (umask applied): temp names
    made by mkstemp/mkdtemp (and safetensors' files) are private to their owner, which other users of a
    shared workspace (a notebook server, a colleague) could not read once they are renamed into place."""
    umask = os.umask(0)
    os.umask(umask)
    path = Path(path)
    for p in [path, *(path.rglob("*") if path.is_dir() else ())]:
        os.chmod(p, (0o777 if p.is_dir() else 0o666) & ~umask)


class AtomicPath:
    """A temporary path beside `final` (named with this process's pid) that replaces it only on `commit()`."""

    def __init__(self, final: str | os.PathLike, overwrite: bool = False):
        self.final = Path(final)
        if self.final.exists() and not overwrite:
            raise FaceswapError(f"{self.final}: already exists; choose another name or allow overwriting")
        self.final.parent.mkdir(parents=True, exist_ok=True)
        remove_dead_temps(self.final.parent, f".{glob.escape(self.final.stem)}.*.part-*{self.final.suffix}")
        fd, tmp = tempfile.mkstemp(prefix=f".{self.final.stem}.", suffix=f".part-{os.getpid()}{self.final.suffix}",
                                   dir=self.final.parent)
        os.close(fd)
        self.tmp = Path(tmp)

    def commit(self) -> Path:
        usual_mode(self.tmp)  # mkstemp makes files private
        os.replace(self.tmp, self.final)
        return self.final

    def discard(self) -> None:
        self.tmp.unlink(missing_ok=True)


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Write text or bytes to `path` through a temp file and a rename (an existing file is replaced)."""
    target = AtomicPath(path, overwrite=True)
    try:
        if isinstance(data, bytes):
            target.tmp.write_bytes(data)
        else:
            target.tmp.write_text(data)
        return target.commit()
    except BaseException:
        target.discard()
        raise


def write_json(path: str | os.PathLike, data, indent: int | None = None) -> Path:
    """`write_atomic` of a JSON document."""
    return write_atomic(path, json.dumps(data, indent=indent))


# ------------------------------------------------------------------------------------------ locks

LOCK_FILE = ".lock"
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}  # photos a folder may hold


def remove_dead_temps(folder: str | os.PathLike, pattern: str) -> list[Path]:
    """Remove the temp files and folders matching `pattern` in `folder` whose writer (the pid their name
    ends with) is no longer running: what a killed run left behind. Returns what was removed."""
    removed = []
    for p in Path(folder).glob(pattern) if Path(folder).is_dir() else []:
        digits = re.search(r"(\d+)(\.[A-Za-z0-9]+)?$", p.name)
        if digits is None or _running(int(digits.group(1))):
            continue
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        removed.append(p)
    return removed


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def lock(folder: str | os.PathLike, what: str = "this folder", name: str = LOCK_FILE) -> Iterator[Path]:
    """Hold the writer's lock of `folder` (an advisory ``flock`` on ``folder/.lock``) for the block.

    A second writer is refused at once with one line naming the holder (pid and command); the lock of
    a process that died is released by the system, so the next writer simply takes it.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode(errors="replace").strip() or "another process"
            raise FaceswapError(f"{folder}: {what} is being written by {holder}; wait for it to finish "
                                "(or stop it) and try again") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pid {os.getpid()} ({' '.join(sys.argv)[:200]})".encode(), 0)
        try:
            yield path
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


__all__ = ["IMAGE_SUFFIXES", "AtomicPath", "check_name", "clips_dir", "detector_file", "faces_dir", "keys_dir", "lock",
           "model_dir", "model_name", "outputs_dir", "remove_dead_temps", "usual_mode", "write_atomic", "write_json"]
