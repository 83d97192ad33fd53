#!/usr/bin/env bash
# Create .venv and install the pinned stack (idempotent: does nothing when the pins have not changed).
# Usage: bash scripts/setup.sh [--dev]     (--dev adds the test tools)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
files=(requirements.txt pyproject.toml)
[[ "${1:-}" == "--dev" ]] && files+=(requirements-dev.txt)
stamp=".venv/.installed-$(cat "${files[@]}" | sha256sum | cut -c1-16)"
if [[ -f "$stamp" ]]; then exit 0; fi
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
pip=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
# an older setup installed OpenCV's headless build: the two share cv2/, so both go before the pinned one
if .venv/bin/python -m pip show -q opencv-python-headless >/dev/null 2>&1; then
  .venv/bin/python -m pip uninstall -y -q opencv-python-headless opencv-python
fi
"${pip[@]}" -r requirements.txt
[[ "${1:-}" == "--dev" ]] && "${pip[@]}" -r requirements-dev.txt
"${pip[@]}" --no-deps -e .
.venv/bin/python -c "import cv2; cv2.CascadeClassifier; import face_alignment, dlib, torch, av" \
  || { echo "setup: the installed stack does not import (see above)" >&2; exit 1; }
touch "$stamp"
echo "setup: .venv ready ($(.venv/bin/python -c 'import torch; print("torch", torch.__version__)'))"
