"""The install files agree with each other, the README's commands are what CI runs, cv2 keeps its cascades."""

import re

import cv2
from conftest import ROOT


def _pins(lines):
    out = {}
    for line in lines:
        line = line.split("#")[0].strip().lstrip("- ").strip()
        if line and not line.startswith(("-", "python", "pip")) or line.startswith("pip=="):
            name, _, version = line.partition("==")
            out[name.lower()] = version
    return out


def test_environment_yml_has_the_same_pins_as_the_requirements():
    req = _pins((ROOT / "requirements.txt").read_text().splitlines())
    req |= _pins((ROOT / "requirements-dev.txt").read_text().splitlines())
    env_text = (ROOT / "environment.yml").read_text()
    pip_block = env_text.split("- pip:", 1)[1].splitlines()
    env = _pins(line for line in pip_block if line.strip().startswith("- "))
    assert env == req
    assert req["torch"] == "2.13.0" and req["opencv-python"].startswith("4.")  # 4.x: the Haar cascades
    # the environment alone has every package the README uses: no second pip command for face-alignment
    assert {"face-alignment", "dlib-bin", "face-recognition-models", "opencv-python"} <= set(env)
    assert "opencv-python-headless" not in env  # it would share cv2/ with opencv-python


def test_opencv_is_4x_with_haar_cascades():
    assert cv2.__version__.startswith("4.")
    assert not cv2.CascadeClassifier(cv2.data.haarcascades + "haarcascade_frontalface_default.xml").empty()


def test_readme_opens_with_two_commands_and_ci_runs_the_test_one():
    readme = (ROOT / "README.md").read_text()
    first_block = re.search(r"```(?:bash|sh)?\n(.*?)```", readme, re.S).group(1)
    commands = [ln for ln in first_block.splitlines() if ln.strip() and not ln.startswith("#")]
    assert len(commands) == 2
    tour_cmd, test_cmd = commands
    assert "tour" in tour_cmd and "pytest" in test_cmd
    ci = (ROOT / ".ci/run").read_text()
    assert test_cmd in ci


def test_a_plain_install_carries_the_notebooks_and_tour_finds_them(tmp_path):
    """`pip install .` (not -e) puts the chapters under <prefix>/share/faceswap-lab/notebooks; the tour finds
    them there when the source checkout is out of reach."""
    import shutil
    import subprocess
    import sys
    import zipfile

    src = tmp_path / "src"
    src.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    for folder in ("faceswap_core", "notebooks"):
        shutil.copytree(ROOT / folder, src / folder, ignore=shutil.ignore_patterns("__pycache__"))
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "-w", str(tmp_path / "dist"), str(src)],
                   check=True, capture_output=True, timeout=300)
    wheel = next((tmp_path / "dist").glob("*.whl"))
    # install it by the wheel's layout (pip into another prefix would first uninstall the -e copy in use)
    prefix = tmp_path / "prefix"
    site = prefix / "lib" / f"python{sys.version_info.major}.{sys.version_info.minor}" / "site-packages"
    with zipfile.ZipFile(wheel) as z:
        for name in z.namelist():
            head, _, rest = name.partition(".data/data/")
            z.extract(name, tmp_path / "unpacked")
            dest = prefix / rest if rest and "/" not in head else site / name
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.move(tmp_path / "unpacked" / name, dest)
    shutil.rmtree(src)  # the checkout is gone: only the installed copy can be found
    found = subprocess.run([sys.executable, "-c", "from faceswap_core.lab import tour; print(tour.NOTEBOOKS); "
                            "print(len(tour.chapters()))"], cwd=tmp_path, capture_output=True, text=True,
                           env={"PYTHONPATH": str(site), "PATH": "/usr/bin:/bin"}, timeout=120, check=True)
    where, count = found.stdout.split()
    assert where == str(prefix / "share/faceswap-lab/notebooks")
    assert int(count) == len(list((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")))
