"""tour: a chapter whose kernel dies or whose cell runs too long ends the tour in one line naming it, and
the report of the chapters that ran is still written; the kernel's own log stays out of the terminal."""

import json
import subprocess
import sys

import nbformat
import pytest

from faceswap_core import FaceswapError
from faceswap_core.lab import tour


def _chapter(folder, name, code):
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    params = nbformat.v4.new_code_cell("WORKSPACE = 'data'  # the workspace folder")
    params.metadata["tags"] = ["parameters"]
    nb.cells = [nbformat.v4.new_markdown_cell(f"# {name}"), params, nbformat.v4.new_code_cell(code)]
    nbformat.write(nb, str(folder / f"{name}.ipynb"))


def test_a_dead_kernel_is_one_line_naming_the_chapter_and_the_report_is_kept(tmp_path):
    nbs = tmp_path / "nbs"
    nbs.mkdir()
    _chapter(nbs, "01_fine", "print('fine')")
    _chapter(nbs, "02_dies", "import os\nos._exit(1)  # like the out-of-memory killer")
    _chapter(nbs, "03_never", "print('never run')")
    run = subprocess.run([sys.executable, "-m", "faceswap_core.cli", "tour", "--profile", "ci", "--notebooks",
                          str(nbs), "--workspace", str(tmp_path / "ws")], capture_output=True, text=True, timeout=300)
    assert run.returncode == 2
    err = run.stderr.replace("\r", "\n").strip().splitlines()
    assert err[-1].startswith("faceswap-core: error: 02_dies.ipynb: the kernel died") and "report: " in err[-1]
    assert "Traceback" not in run.stderr and "without encryption" not in run.stderr
    assert not [line for line in err if line.startswith("faceswap-core") and line != err[-1]]
    rows = json.loads(next((tmp_path / "ws/runs").glob("*/results.json")).read_text())
    assert [(r["chapter"], r["status"]) for r in rows] == [("01_fine", "ok"), ("02_dies", "failed")]


def test_a_cell_over_the_time_limit_is_one_line_naming_the_chapter(tmp_path):
    _chapter(tmp_path, "01_slow", "import time\ntime.sleep(60)")
    with pytest.raises(FaceswapError, match=r"01_slow.ipynb: a cell ran over the 3 s limit") as e:
        tour.run_tour("ci", tmp_path / "ws", tmp_path, progress=False, timeout=3)
    assert "\n" not in str(e.value)
    assert json.loads(next((tmp_path / "ws/runs").glob("*/results.json")).read_text())[0]["status"] == "failed"
