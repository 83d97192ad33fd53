"""Results a notebook records for its reader and for the tests, tidy tables,
and the 'run chapter N first' check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ..errors import FaceswapError

MIME = "application/vnd.faceswap-lab.results+json"


def _plain(v):
    if isinstance(v, (np.floating, np.integer, np.bool_)):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def record(**figures) -> dict:
    """Show the chapter's key figures as a small table and store them in the executed notebook."""
    figures = _plain(figures)
    json.dumps(figures)  # fail here, not in the notebook file, if a value cannot be stored
    width = max((len(k) for k in figures), default=0)
    text = "\n".join(f"{k:<{width}}  {v}" for k, v in figures.items())
    try:
        from IPython.display import display

        display({MIME: figures, "text/plain": text}, raw=True)
    except ImportError:  # outside IPython: just print
        print(text)
    return figures


def read_results(notebook: str | Path) -> dict:
    """The figures recorded by `record` in an executed notebook (merged in cell order)."""
    nb = json.loads(Path(notebook).read_text())
    out: dict = {}
    for cell in nb.get("cells", []):
        for o in cell.get("outputs", []):
            data = o.get("data", {})
            if MIME in data:
                out.update(data[MIME])
    return out


def need(path: str | Path, chapter: str) -> Path:
    """Return `path` if it exists, else stop with one line saying which chapter makes it."""
    path = Path(path)
    if not path.exists():
        raise FaceswapError(f"{path} is missing: run chapter {chapter} first (same WORKSPACE)")
    return path


def print_table(rows: list[dict]) -> None:
    """Print tidy rows (dicts with the same keys) as an aligned text table."""
    if not rows:
        return
    cols = list(rows[0])
    width = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in cols}
    print("  ".join(c.ljust(width[c]) for c in cols))
    for r in rows:
        print("  ".join(str(r[c]).ljust(width[c]) for c in cols))


def print_matrix(names: list[str], values: np.ndarray, label_width: int = 24, width: int = 13) -> None:
    """Print a square matrix with its row and column names (columns cut to fit `width`)."""
    print(" " * label_width + "".join(f"{n[:width - 1]:>{width}}" for n in names))
    for n, row in zip(names, values):
        print(f"{n:<{label_width}}" + "".join(f"{v:{width}.3f}" for v in row))
