"""Files that are never half-written: atomic writes (a temp file beside the target, carrying the writer's
pid, renamed into place on success), removal of what a killed writer left, and one writer per folder
(`lock`). Portable: ``flock`` where the system has ``fcntl``, else a lock file created exclusively."""

from __future__ import annotations

import glob
import json
import os
import re
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import FaceswapError

try:
    import fcntl
except ImportError:  # Windows: no flock; `lock` falls back to an exclusively created lock file
    fcntl = None

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
        self.final, self.overwrite = Path(final), overwrite
        if self.final.exists() and not overwrite:
            raise FaceswapError(f"{self.final}: already exists; choose another name or allow overwriting")
        self.final.parent.mkdir(parents=True, exist_ok=True)
        remove_dead_temps(self.final.parent, f".{glob.escape(self.final.stem)}.*.part-*{self.final.suffix}")
        fd, tmp = tempfile.mkstemp(prefix=f".{self.final.stem}.",
                                   suffix=f".part-{os.getpid()}{self.final.suffix}", dir=self.final.parent)
        os.close(fd)
        self.tmp = Path(tmp)

    def commit(self) -> Path:
        """Put the temp file under its final name; without `overwrite`, never over a file that appeared
        meanwhile (another run writing the same name): a hard link claims the name only if it is free."""
        usual_mode(self.tmp)  # mkstemp makes files private
        if self.overwrite:
            os.replace(self.tmp, self.final)
            return self.final
        try:
            os.link(self.tmp, self.final)
        except FileExistsError:
            self.discard()
            raise FaceswapError(f"{self.final}: was written by another run meanwhile; it is kept, and this "
                                "run's result is discarded: choose another name") from None
        except OSError:  # a file system without hard links: rename, after one last look
            if self.final.exists():
                self.discard()
                raise FaceswapError(f"{self.final}: was written by another run meanwhile; choose another "
                                    "name") from None
            os.replace(self.tmp, self.final)
            return self.final
        self.tmp.unlink()
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


LOCK_FILE = ".lock"


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
    """Whether process `pid` is alive (on Windows, `os.kill(pid, 0)` would end it: ask the kernel instead)."""
    if os.name == "nt":
        import ctypes

        kernel = ctypes.windll.kernel32
        handle = kernel.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return False
        code = ctypes.c_ulong()
        alive = kernel.GetExitCodeProcess(handle, ctypes.byref(code)) and code.value == 259  # STILL_ACTIVE
        kernel.CloseHandle(handle)
        return bool(alive)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _holder(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip() or "another process"
    except OSError:
        return "another process"


def _busy(folder: Path, what: str, holder: str) -> FaceswapError:
    return FaceswapError(f"{folder}: {what} is being written by {holder}; wait for it to finish (or stop it) "
                         "and try again")


def _me() -> bytes:
    return f"pid {os.getpid()} ({' '.join(sys.argv)[:200]})".encode()


@contextmanager
def lock(folder: str | os.PathLike, what: str = "this folder", name: str = LOCK_FILE,
         remove: bool = False) -> Iterator[Path]:
    """Hold the writer's lock of `folder` (``folder/.lock``) for the block.

    A second writer is refused at once with one line naming the holder (pid and command). With ``fcntl`` the
    lock is an advisory ``flock`` that the system releases when its holder dies; without it (Windows) the
    lock file is created exclusively and holds the writer's pid, and a file whose writer is gone is stale.
    With `remove` the lock file goes when the block ends (a lock beside a user's file, not in our folders):
    a writer that locked a file removed meanwhile lets it go and takes the new one.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    with _flock(path, folder, what, remove) if fcntl is not None else _lock_file(path, folder, what):
        yield path


@contextmanager
def _flock(path: Path, folder: Path, what: str, remove: bool = False) -> Iterator[None]:
    for _ in range(3):
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise _busy(folder, what, _holder(path)) from None
        try:  # the file locked must still be the one under the name (a holder with `remove` unlinks it)
            if os.stat(path).st_ino == os.fstat(fd).st_ino:
                break
        except FileNotFoundError:
            pass
        os.close(fd)
    else:
        raise _busy(folder, what, _holder(path))
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, _me(), 0)
        try:
            yield
        finally:
            if remove:
                path.unlink(missing_ok=True)
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _stale(path: Path, holder: str) -> bool:
    """A lock file whose writer is gone, or one left empty for over a second
    (a writer writes its pid at once)."""
    pid = re.match(r"pid (\d+)", holder)
    if pid:
        return not _running(int(pid.group(1)))
    try:
        return time.time() - path.stat().st_mtime > 1.0
    except OSError:
        return True


@contextmanager
def _lock_file(path: Path, folder: Path, what: str) -> Iterator[None]:
    for _ in range(2):  # a second try after removing a dead writer's lock file
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            holder = _holder(path)
            if not _stale(path, holder):
                raise _busy(folder, what, holder) from None
            path.unlink(missing_ok=True)
    else:
        raise _busy(folder, what, _holder(path))
    try:
        os.write(fd, _me())
    finally:
        os.close(fd)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)
