#!/usr/bin/env bash
# Set up everything napari-medseg needs on a fresh Debian machine: the system libraries napari's
# OpenGL canvas and Qt need (Xvfb, Mesa, EGL, xcb/xkb), then a virtual environment in .venv with
# the CPU build of torch and the package with its Qt and test extras. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  xvfb xauth libgl1 libgl1-mesa-dri libegl1 libopengl0 libglx-mesa0
  libxkbcommon0 libxkbcommon-x11-0 libxcb-cursor0 libxcb-icccm4 libxcb-image0 libxcb-keysyms1
  libxcb-randr0 libxcb-render-util0 libxcb-shape0 libxcb-xinerama0 libxcb-xfixes0 libxcb-xkb1
  libxcb1 libx11-xcb1 libxrender1 libxi6 libsm6 libice6 libdbus-1-3 libfontconfig1 libfreetype6
  libglib2.0-0
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "[bootstrap] installing Debian packages: ${missing[*]}"
  SUDO=""; [[ $(id -u) -ne 0 ]] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PY=${PYTHON:-python3}
if [[ ! -x .venv/bin/python ]]; then
  echo "[bootstrap] creating .venv"
  "$PY" -m venv .venv
fi
# torch first, pinned: a CPU wheel of exactly this version; any other spec pulls CUDA builds.
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q "torch==2.13.0"
.venv/bin/python -m pip install -q -e ".[qt,test]"
echo "[bootstrap] ready: $(.venv/bin/python -c 'import torch, napari; print("torch", torch.__version__, "napari", napari.__version__)')"
