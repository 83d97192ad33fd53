"""The tour: run every chapter notebook in order through Papermill and gather an HTML report."""

from __future__ import annotations

import html
import json
import logging
import os
import sys
import time
from pathlib import Path

from ..errors import FaceswapError
from ..progress import progress_bar
from .report import read_results

# where an installed package keeps its copy (pyproject data-files)
SHARED = Path("share/faceswap-lab/notebooks")


def _find_notebooks() -> Path:
    """The chapter notebooks: a source checkout's notebooks/, else the copy installed with the package
    (beside its prefix: a venv, --user or --prefix install), else ./notebooks."""
    package = Path(__file__).resolve().parents[1]  # faceswap_core/ (this module is in faceswap_core/lab/)
    candidates = [package.parent / "notebooks", Path(sys.prefix) / SHARED, package.parents[3] / SHARED
                  if len(package.parents) > 3 else None, Path.cwd() / "notebooks"]
    for c in candidates:
        if c is not None and any(c.glob("[0-9][0-9]_*.ipynb")):
            return c
    return candidates[0]


NOTEBOOKS = _find_notebooks()

# One meaning per knob name in every chapter: a parameters cell's comment for a knob starts with its
# meaning here (tests/test_notebooks.py checks it), so one profile value means the same thing everywhere.
KNOBS: dict[str, str] = {
    "WORKSPACE": "the workspace folder", "SEED": "random seed",
    "FRAMES": "frames of a rendered clip", "FRAME_SIZE": "rendered frame size in pixels",
    "CROP_SIZE": "aligned crop size in pixels", "INPUT_SIZE": "network input size in pixels",
    "PROBE_FRAMES": "frames scored",
    "STEPS": "training steps", "BATCH_SIZE": "faces per training batch", "LR": "learning rate",
    "MASKED": "masked loss", "SSIM_WEIGHT": "weight of the (1 - SSIM) loss term",
    "CLIP_GRAD": "gradient-norm clipping", "LR_DECAY": "learning-rate schedule",
    "EVAL_EVERY": "steps between quality measurements", "CHECKPOINT_EVERY": "steps between checkpoints",
    "PEOPLE": "people (A, B)", "PAIR": "people (A, B)", "PERSON": "whose face set",
    "SOURCE": "person A", "TARGET": "person B", "NEW_SOURCE": "person C",
    "CONFIG": "model config", "DETECTOR": "face detector", "EVERY": "use every Nth frame",
    "OVERWRITE": "replace a face set", "SOURCES": "person -> synthetic:<name>, URL or file",
    "SECTION": "for URLs and files", "MAX_HEIGHT": "highest resolution to download",
    "FACE_INDEX": "which face of the set", "VIDEO": "a video of A to convert",
    "COLOR": "colour matching", "BLEND": "blending", "GIF_SECONDS": "seconds of the side-by-side GIF",
    "COMPONENTS": "principal directions", "MAX_FACES": "faces per person encoded",
    "FACES": "faces per person in the training sets", "FACE_COUNTS": "section (b): training-set sizes",
    "SIZE_SEEDS": "section (b): each size is trained once per seed",
    "FRONTAL_YAW": "section (a): B's clips turn",
    "REPEATS": "seeds SEED, SEED + 1",
    "TRAIN_PAIR": "people (A, B) whose clips train the detectors",
    "TEST_PAIR": "people (A, B) whose clips test them",
    "CLIPS": "new clips per person", "LONG_STEPS": "training steps of the longer-trained swap model",
    "DETECTOR_STEPS": "training steps of the two neural detectors",  # (the boundary detector has two nets)
    "FROM_BASE": "start from the shipped pretrained base",
    "COMPARE_BASE": "also train a model from the shipped pretrained base",
}

# A profile sets knobs for every chapter that has them (a notebook takes only the knobs its parameters
# cell has); "full" runs each notebook with its own interactive defaults. "chapters" holds knobs for
# chapters whose name starts with a prefix (the experiment grids of 07 and 08 train several models, so
# their STEPS shrink further than chapter 04's).
PROFILES: dict[str, dict] = {
    "ci": {"FRAMES": 24, "FRAME_SIZE": 128, "CROP_SIZE": 128, "STEPS": 30, "BATCH_SIZE": 8,
           "chapters": {"02": {"PROBE_FRAMES": 24}, "04": {"STEPS": 300},
                        "07": {"FACES": 16, "FACE_COUNTS": [8, 16], "SIZE_SEEDS": [0], "PROBE_FRAMES": 8,
                               "STEPS": 10},
                        "08": {"FACES": 16, "PROBE_FRAMES": 8, "STEPS": 10, "EVAL_EVERY": 5, "REPEATS": 1},
                        "09": {"FRAME_SIZE": 256, "FACES": 16, "CLIPS": 2, "LONG_STEPS": 120,
                               "DETECTOR_STEPS": 200}}},
    "quick": {"FRAMES": 150, "FRAME_SIZE": 256, "CROP_SIZE": 256, "STEPS": 600, "BATCH_SIZE": 32,
              "chapters": {"02": {"PROBE_FRAMES": 150}, "04": {"STEPS": 400},
                           "07": {"FACE_COUNTS": [30, 100, 300], "SIZE_SEEDS": [0], "PROBE_FRAMES": 24,
                                  "STEPS": 150, "BATCH_SIZE": 16},
                           "08": {"PROBE_FRAMES": 24, "STEPS": 150, "BATCH_SIZE": 16, "EVAL_EVERY": 25,
                                  "REPEATS": 1},
                           "09": {"FRAMES": 48, "STEPS": 150, "LONG_STEPS": 600, "BATCH_SIZE": 16}}},
    "full": {},
}


def profile_knobs(profile: str, chapter: str) -> dict:
    """The knobs a profile gives one chapter (its own overrides win)."""
    knobs = {k: v for k, v in PROFILES[profile].items() if k != "chapters"}
    for prefix, extra in PROFILES[profile].get("chapters", {}).items():
        if chapter.startswith(prefix):
            knobs.update(extra)
    return knobs


def chapters(notebooks: str | Path = NOTEBOOKS) -> list[Path]:
    """The chapter notebooks (NN_name.ipynb) in order."""
    found = sorted(p for p in Path(notebooks).glob("[0-9][0-9]_*.ipynb"))
    if not found:
        raise FaceswapError(f"{notebooks}: no chapter notebooks (NN_name.ipynb) here; "
                            "pass the folder that holds them (--notebooks)")
    return found


def parameter_comments(path: str | Path) -> dict[str, str]:
    """Each knob of a notebook's `parameters` cell and the comment on its line ("" if none)."""
    import nbformat

    nb = nbformat.read(str(path), as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    out = {}
    for line in cell.source.splitlines():
        name, eq, rest = line.partition("=")
        if eq and name.strip().isidentifier() and not line.startswith((" ", "#")):
            out[name.strip()] = rest.partition("#")[2].strip()
    return out


def notebook_parameters(path: str | Path) -> dict:
    """Names and defaults of a notebook's `parameters` cell."""
    import papermill as pm

    return {k: v["default"] for k, v in pm.inspect_notebook(str(path)).items()}


def parameters_for(path: str | Path, profile: str, workspace: str | Path, extra: dict | None = None) -> dict:
    """The profile's knobs that this notebook has, plus its workspace."""
    if profile not in PROFILES:
        raise FaceswapError(f"unknown profile {profile!r}: use one of {', '.join(PROFILES)}")
    known = notebook_parameters(path)
    wanted = {**profile_knobs(profile, Path(path).name), "WORKSPACE": str(Path(workspace).resolve()),
              **(extra or {})}
    return {k: v for k, v in wanted.items() if k in known}


def run_notebook(path: str | Path, out: str | Path, parameters: dict, timeout: int = 1800) -> Path:
    """Execute one notebook headless (kernel python3) into `out` and return it."""
    import papermill as pm
    from nbclient.exceptions import CellTimeoutError, DeadKernelError

    path = Path(path)
    # The kernel inherits our environment: make sure figures are kept (a headless parent often sets
    # MPLBACKEND=agg, which would drop them) and progress bars stay out of the stored outputs.
    saved = {k: os.environ.get(k) for k in ("MPLBACKEND", "TQDM_DISABLE")}
    os.environ.update(MPLBACKEND="module://matplotlib_inline.backend_inline", TQDM_DISABLE="1")
    log, level = logging.getLogger("papermill"), logging.getLogger("papermill").level
    log.setLevel(logging.CRITICAL)  # a failure is reported once, in the one line below
    try:
        # the kernel's own log stays quiet: its "running over TCP without encryption" warning (the
        # kernel runs on this machine's loopback) would otherwise repeat in the terminal once per chapter
        pm.execute_notebook(str(path), str(out), parameters=parameters, kernel_name="python3",
                            progress_bar=False, cwd=str(path.parent), execution_timeout=timeout,
                            log_output=False, extra_arguments=["--IPKernelApp.log_level=ERROR"])
    except pm.PapermillExecutionError as e:
        raise FaceswapError(f"{path.name} failed in cell {e.exec_count}: {e.ename}: {e.evalue}; "
                            f"see {out}") from None
    except DeadKernelError:
        raise FaceswapError(f"{path.name}: the kernel died while a cell ran (out of memory? smaller sizes "
                            f"help: --profile ci or quick); see {out}") from None
    except CellTimeoutError:
        raise FaceswapError(f"{path.name}: a cell ran over the {timeout} s limit; see {out}") from None
    finally:
        log.setLevel(level)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return Path(out)


def export_html(notebook: str | Path) -> Path:
    """Write an HTML page beside an executed notebook."""
    import nbformat
    from nbconvert import HTMLExporter

    nb = nbformat.read(str(notebook), as_version=4)
    body, _ = HTMLExporter(template_name="lab").from_notebook_node(nb)
    page = Path(notebook).with_suffix(".html")
    page.write_text(body)
    return page


def run_tour(profile: str = "quick", workspace: str | Path = "data", notebooks: str | Path = NOTEBOOKS,
             out: str | Path | None = None, only: list[str] | None = None, progress: bool = True,
             timeout: int = 1800) -> Path:
    """Run the chapters in order into `<workspace>/runs/<timestamp>/` and write an index.html there
    (`timeout`: seconds a single cell may run)."""
    nbs = chapters(notebooks)
    if only:
        nbs = [p for p in nbs if any(p.name.startswith(o) for o in only)]
        if not nbs:
            raise FaceswapError(f"--only {' '.join(only)}: matches no chapter in {notebooks}")
    run_dir = Path(out) if out else Path(workspace) / "runs" / time.strftime("%Y%m%d-%H%M%S")
    run_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    failure = None
    bar = progress_bar(nbs, desc=f"tour ({profile})", unit="chapter", enabled=progress)
    for nb in bar:
        bar.set_postfix_str(nb.stem)
        t0 = time.perf_counter()
        target = run_dir / nb.name
        try:
            run_notebook(nb, target, parameters_for(nb, profile, workspace), timeout=timeout)
            status = "ok"
        except FaceswapError as e:
            failure, status = e, "failed"
        row = {"chapter": nb.stem, "status": status, "seconds": round(time.perf_counter() - t0, 1),
               "results": read_results(target) if target.exists() else {}}
        if target.exists():
            export_html(target)
        rows.append(row)
        if failure:
            break
    (run_dir / "results.json").write_text(json.dumps(rows, indent=1))
    index = run_dir / "index.html"
    index.write_text(_index_html(rows, profile))
    if failure:
        raise FaceswapError(f"{failure} (report: {index})")
    return index


def _index_html(rows: list[dict], profile: str) -> str:
    items = []
    for r in rows:
        figs = "".join(f"<tr><td>{html.escape(k)}</td><td>{html.escape(str(v))}</td></tr>"
                       for k, v in r["results"].items())
        items.append(f"<h2><a href='{r['chapter']}.html'>{html.escape(r['chapter'])}</a> "
                     f"<small>{r['status']}, {r['seconds']} s</small></h2><table>{figs}</table>")
    return (f"<!doctype html><meta charset='utf-8'><title>faceswap-lab tour</title>"
            f"<h1>faceswap-lab tour ({profile} profile)</h1>{''.join(items)}")
