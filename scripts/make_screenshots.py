"""Screenshots for docs/user-guide.md, taken from a real napari viewer with the MedSeg widget docked.

Each prompt type is drawn on its tool layer the way the tool records it (a point added to the
Points layer, a rectangle or a polygon added to the Shapes layers, a brush stroke sent through
napari's mouse callbacks), the model's preview is waited for, and the window is grabbed. The last
shots show a box on the liver committed and propagated through the volume. Run under a display or
Xvfb::

    QT_API=pyqt6 xvfb-run -a -s "-screen 0 1600x1000x24" .venv/bin/python scripts/make_screenshots.py
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

os.environ.setdefault("QT_API", "pyqt6")

MAX_BYTES = 300_000
WINDOW = (1400, 880)


def save_png(array: np.ndarray, path: Path, width: int = 1100) -> int:
    """Downscale to ``width`` pixels and quantise to a palette so each image stays small."""
    from PIL import Image

    image = Image.fromarray(np.ascontiguousarray(array[..., :3]))
    if image.width > width:
        image = image.resize((width, round(image.height * width / image.width)), Image.Resampling.LANCZOS)
    for colors in (256, 128, 64):
        image.quantize(colors=colors, method=Image.Quantize.MEDIANCUT).save(path, optimize=True)
        if path.stat().st_size <= MAX_BYTES:
            break
    return path.stat().st_size


def shoot(viewer, path: Path) -> None:
    from qtpy.QtWidgets import QApplication

    for _ in range(5):
        QApplication.processEvents()
    size = save_png(viewer.screenshot(canvas_only=False, flash=False), path)
    print(f"{path} ({size // 1024} KB)")


def wait(widget, what: str, timeout: float = 300.0) -> None:
    if not widget.wait_idle(timeout):
        raise SystemExit(f"timed out while {what}")


def plane_box(mask2d: np.ndarray, margin: int = 3) -> tuple[float, float, float, float]:
    rows, cols = np.nonzero(mask2d)
    return rows.min() - margin, cols.min() - margin, rows.max() + margin, cols.max() + margin


def contour_polygon(mask2d: np.ndarray, points: int = 40, grow: float = 2.0) -> np.ndarray:
    """A freehand-like outline around a structure: its contour, grown a little and subsampled."""
    from scipy import ndimage
    from skimage.measure import find_contours

    grown = ndimage.binary_dilation(mask2d, iterations=int(grow))
    contour = max(find_contours(grown.astype(float), 0.5), key=len)
    step = max(1, len(contour) // points)
    return contour[::step]


def inner_stroke(mask2d: np.ndarray, points: int = 14) -> np.ndarray:
    """A smooth stroke down the middle of a structure, as a user scribbles inside it."""
    from scipy import ndimage

    depth = ndimage.distance_transform_edt(mask2d)
    rows = np.nonzero(mask2d.any(axis=1))[0]
    stroke = []
    for r in np.linspace(rows.min() + 0.2 * np.ptp(rows), rows.max() - 0.2 * np.ptp(rows), points).astype(
        int
    ):
        stroke.append((float(r), float(np.argmax(depth[r]))))  # the most interior pixel of the row
    return ndimage.uniform_filter1d(np.asarray(stroke), size=5, axis=0, mode="nearest")


def to_volume(rc: np.ndarray, index: int, axis: int) -> np.ndarray:
    """Plane (row, col) coordinates to voxel coordinates on slice ``index`` of ``axis``."""
    rc = np.atleast_2d(np.asarray(rc, dtype=float))
    return np.insert(rc, axis, float(index), axis=1)


def paint_stroke(layer, voxels: np.ndarray) -> None:
    """A brush stroke through napari's mouse-callback machinery (press, moves, release)."""
    from napari.utils._test_utils import read_only_mouse_event
    from napari.utils.interactions import mouse_move_callbacks, mouse_press_callbacks, mouse_release_callbacks

    def event(kind: str, voxel: np.ndarray):
        world = np.asarray(layer.data_to_world(voxel), dtype=float)
        return read_only_mouse_event(
            type=kind,
            position=tuple(world),
            pos=world[[0, 1]] * 10.0,
            modifiers=[],
            is_dragging=kind != "mouse_press",
            dims_displayed=[0, 1],
            button=1,
        )

    mouse_press_callbacks(layer, event("mouse_press", voxels[0]))
    for v in voxels[1:]:
        mouse_move_callbacks(layer, event("mouse_move", v))
    mouse_release_callbacks(layer, event("mouse_release", voxels[-1]))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "docs" / "images")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    # autosaves of this scripted session go to a throwaway folder, never to the user's recovery files
    os.environ.setdefault("NAPARI_MEDSEG_CACHE", tempfile.mkdtemp(prefix="medseg-screenshots-"))

    import napari

    from napari_medseg._qt.view import camera_of
    from napari_medseg.cli.demo import DEMO_AXIS, key_slice_box, load_demo_data, populate_viewer, show_slice

    data = load_demo_data(None, None)
    ids = {name: i for i, name in data.names.items()}
    liver, kidney = data.reference == ids["liver"], data.reference == ids["right kidney"]
    axis = DEMO_AXIS
    key = key_slice_box(liver).slice.index

    viewer = napari.Viewer(title="napari-medseg", show=True)
    viewer.window._qt_window.resize(*WINDOW)
    image, widget = populate_viewer(viewer, data)
    try:
        widget.set_preset("ct-abdomen")
        wait(widget, "loading the model")
        if widget.session is None:
            raise SystemExit("the widget could not load the model")
        show_slice(viewer, image, axis, key)
        viewer.reset_view()
        widget.set_label_id(ids["liver"], "liver")
        wait(widget, "prefetching")
        shoot(viewer, args.out / "widget.png")

        liver_key = np.take(liver, key, axis=axis)
        center = np.argwhere(liver_key).mean(axis=0)
        widget.set_tool("point")
        widget.tools.points.add(to_volume(center, key, axis))
        wait(widget, "segmenting from a point")
        shoot(viewer, args.out / "point.png")
        widget.clear_prompts()

        r0, c0, r1, c1 = plane_box(liver_key)
        widget.set_tool("box")
        widget.tools.boxes.add_rectangles([to_volume([(r0, c0), (r0, c1), (r1, c1), (r1, c0)], key, axis)])
        wait(widget, "segmenting from a box")
        shoot(viewer, args.out / "box.png")
        widget.clear_prompts()

        kidney_index = int(np.argmax(kidney.sum(axis=tuple(a for a in range(3) if a != axis))))
        show_slice(viewer, image, axis, kidney_index)
        widget.set_label_id(ids["right kidney"], "right kidney")
        widget.set_tool("lasso")
        polygon = contour_polygon(np.take(kidney, kidney_index, axis=axis))
        widget.tools.lassos.add_polygons([to_volume(polygon, kidney_index, axis)])
        wait(widget, "segmenting from a lasso")
        shoot(viewer, args.out / "lasso.png")
        widget.clear_prompts()

        show_slice(viewer, image, axis, key)
        widget.set_label_id(ids["liver"], "liver")
        widget.set_tool("scribble")
        stroke = to_volume(inner_stroke(liver_key), key, axis)
        paint_stroke(widget.tools.scribbles, stroke)
        wait(widget, "segmenting from a scribble")
        shoot(viewer, args.out / "scribble.png")
        widget.clear_prompts()

        widget.set_tool("box")
        widget.tools.boxes.add_rectangles([to_volume([(r0, c0), (r0, c1), (r1, c1), (r1, c0)], key, axis)])
        wait(widget, "segmenting from a box")
        widget.commit()
        wait(widget, "committing")
        widget.propagate()
        wait(widget, "propagating", timeout=900)
        slices = np.nonzero(np.asarray(widget.session.labels == ids["liver"]).any(axis=(0, 1)))[0]
        show_slice(viewer, image, axis, int(slices[len(slices) // 4]) if len(slices) else key)
        viewer.layers.selection.active = widget.labels_layer
        shoot(viewer, args.out / "propagated.png")

        viewer.dims.ndisplay = 3
        for layer in widget.tools.layers.values():
            layer.visible = False
        widget.preview_layer.visible = False
        image.visible = False
        viewer.reset_view()
        camera = camera_of(viewer)
        camera.angles = (-20.0, 35.0, 120.0)
        camera.zoom *= 0.7
        shoot(viewer, args.out / "propagated_3d.png")
    finally:
        widget.shutdown()
        viewer.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
