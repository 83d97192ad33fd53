import shutil
import subprocess

import pytest
from conftest import ROOT


def test_ruff_passes_on_code_and_notebooks():
    ruff = shutil.which("ruff") or shutil.which(str(ROOT / ".venv/bin/ruff"))
    if not ruff:
        pytest.skip("ruff is not installed (bash scripts/setup.sh --dev installs it)")
    out = subprocess.run([ruff, "check", "--no-cache", str(ROOT)], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-1000:]
