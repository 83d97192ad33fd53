"""Notebook 06 in a real browser: JupyterLab on 127.0.0.1, headless Chromium driven by Playwright, run all
cells, move a slider, and check that the decoded face on the page changes."""

import os
import shutil
import subprocess
import sys
import time
import urllib.request

import pytest

from faceswap_core.lab import tour

pytestmark = pytest.mark.browser

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


def _chromium() -> str:
    """The system Chromium; installed with apt-get when missing and we are root (as in CI)."""
    found = shutil.which("chromium")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        pytest.skip("headless Chromium is missing and cannot be installed here (needs root and apt-get)")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "chromium"]):
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=900,
                           env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        if r.returncode != 0:
            pytest.skip(f"could not install Chromium ({' '.join(cmd)}: {(r.stderr or r.stdout)[-200:]})")
    return shutil.which("chromium") or pytest.skip("apt-get installed chromium but it is not on PATH")


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def lab(tmp_path, trained_pair):
    """JupyterLab serving notebook 06 (parameters set for the test workspace): yields (url, token)."""
    import papermill as pm

    ws, _ = trained_pair
    root = tmp_path / "lab"
    root.mkdir()
    nb = next(p for p in tour.chapters() if p.name.startswith("06_"))
    pm.execute_notebook(str(nb), str(root / nb.name), parameters={"WORKSPACE": str(ws), "MAX_FACES": 80},
                        prepare_only=True, kernel_name="python3", progress_bar=False)
    token, port = "faceswap-lab-test-token", _free_port()
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg"), "JUPYTER_RUNTIME_DIR": str(tmp_path / "rt"),
           "MPLBACKEND": "module://matplotlib_inline.backend_inline"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ServerApp.ip=127.0.0.1",
         f"--ServerApp.port={port}", f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
         f"--LabApp.workspaces_dir={tmp_path / 'workspaces'}", f"--LabApp.user_settings_dir={tmp_path / 'settings'}",
         "--LabApp.expose_app_in_browser=True"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "lab.log", "w"), env=env)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 90
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > deadline:
                pytest.fail("JupyterLab did not start: " + (tmp_path / "lab.log").read_text()[-1500:])
            time.sleep(0.5)
        yield f"{base}/lab/tree/{nb.name}?token={token}", token
    finally:
        proc.terminate()
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_latent_explorer_slider_redraws_the_face_in_jupyterlab(lab, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (setup.sh --dev)")
    url, _ = lab
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_chromium(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(url)
            page.wait_for_selector(".jp-Notebook", timeout=120_000)
            page.wait_for_function("() => window.jupyterapp && document.querySelector("
                                   "'.jp-Notebook-ExecutionIndicator[data-status=\"idle\"]')", timeout=120_000)
            for _ in range(6):  # Run > Run All Cells; early after loading, the kernel may not take it yet
                page.locator(".jp-Notebook .jp-Cell").first.click()  # the command acts on the focused notebook
                page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
                try:
                    page.wait_for_function("() => Array.from(document.querySelectorAll('.jp-InputArea-prompt'))"
                                           ".some(p => /\\[(\\*|\\d+)\\]/.test(p.textContent))", timeout=20_000)
                    break
                except sync_api.TimeoutError:
                    continue
            # wait for the explorer's face, or stop early at the first error shown in the notebook
            page.wait_for_function(
                "() => { const i = document.querySelector('img.latent-face');"
                " return (i && i.complete && i.naturalWidth > 0) ||"
                " document.querySelector('.jp-OutputArea-output[data-mime-type=\"application/vnd.jupyter.stderr\"]"
                " pre, .jp-RenderedText[data-mime-type=\"application/vnd.jupyter.error\"]'); }", timeout=300_000)
            errors = page.locator('.jp-RenderedText[data-mime-type="application/vnd.jupyter.error"]')
            assert errors.count() == 0, "notebook 06 failed in JupyterLab: " + errors.first.inner_text()[-1500:]
            face = page.locator("img.latent-face")
            face.scroll_into_view_if_needed()
            before = face.screenshot()
            page.screenshot(path=str(tmp_path / "before.png"))
            handle = page.locator(".latent-pc1 .noUi-handle").first
            handle.focus()
            for _ in range(8):  # +2 standard deviations along direction 1
                page.keyboard.press("ArrowRight")
            after, deadline = before, time.time() + 60
            while after == before and time.time() < deadline:
                time.sleep(0.5)
                after = face.screenshot()
            page.screenshot(path=str(tmp_path / "after.png"))
            readout = page.locator(".latent-pc1 .widget-readout").first.inner_text()
        finally:
            browser.close()
    assert readout.strip() not in ("0.00", "0"), f"the slider did not move (readout {readout!r})"
    assert after != before, "the decoded face did not change after moving the slider"
