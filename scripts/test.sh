#!/usr/bin/env bash
# Run the whole test suite on a fresh Debian machine: installs what is missing, then runs pytest
# under a virtual X server (napari's canvas needs OpenGL, which Xvfb + Mesa provide).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export QT_API=pyqt6 PYTHONUNBUFFERED=1 OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}
.venv/bin/ruff check src tests benchmarks
xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python -m pytest -p no:cacheprovider "$@"
