"""Progress bars (tqdm.auto: a widget in a notebook, text in a terminal), off when the caller says so or when
``TQDM_DISABLE`` is set: the tour sets it so that executed chapters store no bar frozen at 0%."""

from __future__ import annotations

import os


def bars_disabled() -> bool:
    """True when the environment turns progress bars off (``TQDM_DISABLE`` set to 1, true or yes)."""
    return os.environ.get("TQDM_DISABLE", "").strip().lower() in ("1", "true", "yes")


def progress_bar(iterable=None, *, enabled: bool = True, **kwargs):
    """A `tqdm.auto.tqdm` over `iterable` (or one to `update` by hand), shown unless `enabled` is False or
    the environment turns bars off."""
    from tqdm.auto import tqdm

    return tqdm(iterable, disable=not enabled or bars_disabled(), **kwargs)
