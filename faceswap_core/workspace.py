"""The workspace: names and folder layout. Every stage finds its folders here (and writes through `files`).

A workspace (``data/`` by default) holds ``clips/<person>/`` (chapter 01), ``faces/<person>/`` (02),
``models/<A>-<B>-<config>/`` (04), ``outputs/`` (05) and ``runs/`` (the tour). A name (person or model)
is one safe folder name: letters, digits, ``_`` and ``-``; no dots, which later stages read as suffixes.
Nothing half-written ever sits under a final name: writers use `AtomicPath` / `write_atomic` (a temp file
beside the target that carries the writer's pid, renamed into place on success), and one writer at a
time holds a folder's `lock`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

from .errors import FaceswapError

_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")  # the whole name (fullmatch)


def check_name(name: str, what: str = "person name") -> str:
    """A person or model name must be a safe folder name; returns it unchanged."""
    if not isinstance(name, str) or not _NAME.fullmatch(name):
        raise FaceswapError(f"{what} {name!r}: use letters, digits, '_' or '-' "
                            "(at most 64, no dots or spaces)")
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


def model_dir(workspace: str | Path, persons: Sequence[str], config: str = "lite",
              name: str | None = None) -> Path:
    """Where chapter 04 (or `faceswap-core train`) keeps a model: `name`, or ``<A>-<B>-<config>``."""
    for p in persons:
        check_name(p)
    return Path(workspace) / "models" / (check_name(name, "model name") if name
                                         else model_name(persons, config))


def outputs_dir(workspace: str | Path) -> Path:
    """Where the chapters write videos, GIFs and held-out clips."""
    return Path(workspace) / "outputs"


def keys_dir(workspace: str | Path) -> Path:
    """Where the workspace's local test identity for signing Content Credentials lives."""
    return Path(workspace) / "keys"


def detector_file(workspace: str | Path) -> Path:
    """The swap detector chapter 09 saves and `faceswap-core scan` reads by default."""
    return Path(workspace) / "detectors" / "swap_detector.safetensors"


IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".webp", ".tif", ".tiff"}  # photos a folder may hold
