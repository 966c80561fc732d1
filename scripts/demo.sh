#!/usr/bin/env bash
# The main job on the bundled sample. With a display: napari opens with the sample volume and the
# napari-medseg dock widget. Without one: the same flow runs headless under Xvfb (a box on one slice,
# propagation through the volume) and writes the labels and a screenshot of the viewer to out/.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
export QT_API=pyqt6
if [[ -n "${DISPLAY:-}" ]]; then
  exec .venv/bin/napari-medseg demo "$@"
fi
exec xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/napari-medseg demo --headless --out out "$@"
