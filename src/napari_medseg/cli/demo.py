"""``napari-medseg demo``: the main job on the bundled sample, with or without a display.

With a display, napari opens with the sample CT (or ``--image``), its reference labels as a hidden
layer, and the MedSeg dock widget. With ``--headless`` the same widget runs the flow a user would:
the structure's largest slice is shown, a box is drawn around it, the preview is committed and
propagated through the volume; then a screenshot of the whole window (widget included) and the
labels (NIfTI, with the image's affine) are written to ``--out`` and their paths printed, with the
3D Dice of the result against the reference. Without an X display the headless run re-starts
itself under ``xvfb-run``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from napari_medseg.core.prompts import BoxPrompt, SliceRef, join_voxel
from napari_medseg.core.volume_io import Volume, read_volume, write_labels
from napari_medseg.errors import MedsegError

WIDGET_NAME = "MedSeg: interactive segmentation"
DEMO_AXIS = 2  # the slice axis of a CT as nibabel returns it (i, j in plane, k along the body)
BOX_MARGIN = 3  # pixels around the structure on the key slice, as a user would draw it
XVFB_SCREEN = "-screen 0 1600x1000x24"
_MAIN = "import sys; from napari_medseg.cli import main; sys.exit(main(sys.argv[1:]))"


@dataclass
class DemoData:
    """The volume to annotate, its reference labels (if known) and the label names."""

    volume: Volume
    reference: np.ndarray | None
    names: dict[int, str]
    image_name: str


def add_parser(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="open napari with the sample and the MedSeg widget (or run the flow headless)",
        description=__doc__.splitlines()[0],
    )
    parser.add_argument(
        "--headless", action="store_true", help="run box -> commit -> propagate without a user"
    )
    parser.add_argument("--out", type=Path, default=Path("out"), help="folder for the screenshot and labels")
    parser.add_argument(
        "--image", type=Path, help="a .nii/.nii.gz/.nrrd/.zarr volume instead of the bundled sample"
    )
    parser.add_argument(
        "--reference", type=Path, help="reference labels for --image (places the headless box)"
    )
    parser.add_argument(
        "--structure", default="liver", help="label name or id to segment headless (default liver)"
    )
    parser.add_argument(
        "--model", default="builtin", help="model name (builtin, sam, medsam, mobilesam, litemedsam)"
    )
    parser.add_argument("--checkpoint", type=Path, help="checkpoint file for SAM-family models")
    parser.add_argument(
        "--range", type=int, default=0, help="propagate at most this many slices each way (default: no limit)"
    )
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds to wait for each headless step")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if args.headless and _needs_virtual_display():
        return _rerun_under_xvfb(args)
    os.environ.setdefault("QT_API", "pyqt6")
    data = load_demo_data(args.image, args.reference)
    if args.headless:
        return run_headless(args, data)
    return run_interactive(args, data)


# --- data ---------------------------------------------------------------------------------------


def load_demo_data(image: Path | None, reference: Path | None) -> DemoData:
    """The bundled sample, or a user's volume with optional reference labels."""
    if image is None:
        from napari_medseg.core.sample import load_sample

        volume, labels, names = load_sample()
        return DemoData(volume, np.asarray(labels), {int(k): str(v) for k, v in names.items()}, "sample CT")
    volume = read_volume(image)
    ref = None
    if reference is not None:
        ref = np.asarray(read_volume(reference).data)
        if ref.shape != volume.shape:
            raise MedsegError(
                f"reference labels {reference.name} have shape {ref.shape}, the image {volume.shape}; "
                "give labels of the same image"
            )
    name = image.name.split(".")[0]
    return DemoData(volume, ref, {}, name)


def structure_id(data: DemoData, structure: str) -> int:
    """A label id from a name (case-insensitive) or a number present in the reference."""
    wanted = structure.strip().lower()
    for label_id, name in data.names.items():
        if name.lower() == wanted:
            return label_id
    if wanted.isdigit() and data.reference is not None and np.any(data.reference == int(wanted)):
        return int(wanted)
    known = ", ".join(f"{i}={n}" for i, n in sorted(data.names.items())) or "ids present in --reference"
    raise MedsegError(f"structure '{structure}' is not in the reference labels; choose one of: {known}")


def key_slice_box(mask: np.ndarray, axis: int = DEMO_AXIS, margin: int = BOX_MARGIN) -> BoxPrompt:
    """A box around the structure on the slice where it is largest, as a user would draw it."""
    areas = mask.sum(axis=tuple(a for a in range(3) if a != axis))
    if not areas.any():
        raise MedsegError("the chosen structure is empty in the reference labels; choose another --structure")
    index = int(np.argmax(areas))
    plane = np.take(mask, index, axis=axis)
    rows, cols = np.nonzero(plane)
    r0, r1 = max(rows.min() - margin, 0), min(rows.max() + margin, plane.shape[0] - 1)
    c0, c1 = max(cols.min() - margin, 0), min(cols.max() + margin, plane.shape[1] - 1)
    return BoxPrompt(SliceRef(axis, index), (float(r0), float(c0)), (float(r1), float(c1)))


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """3D Dice of two boolean masks (1.0 when both are empty)."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    total = int(a.sum()) + int(b.sum())
    return 1.0 if total == 0 else 2.0 * int(np.logical_and(a, b).sum()) / total


# --- napari ---------------------------------------------------------------------------------------


def open_viewer(
    data: DemoData, show: bool = True, model: str = "builtin", checkpoint: Path | None = None
) -> tuple[Any, Any, Any]:
    """A new napari window holding the demo (see :func:`populate_viewer`)."""
    import napari

    viewer = napari.Viewer(title="napari-medseg demo", show=show)
    image, widget = populate_viewer(viewer, data, model, checkpoint)
    return viewer, image, widget


def populate_viewer(
    viewer: Any, data: DemoData, model: str = "builtin", checkpoint: Path | None = None
) -> tuple[Any, Any]:
    """The image, the (hidden) reference labels, and the MedSeg dock widget set up on the image.

    The widget is docked first and given the model before the image, so the session is built once
    (the widget takes the CT window our reader found from the image's metadata).
    """
    from napari_medseg._qt.widget import MedSegWidget
    from napari_medseg._reader import volume_layer_data
    from napari_medseg._sample_data import label_features

    # Built on the viewer itself rather than through add_plugin_dock_widget, which hands plugin widgets
    # a PublicOnlyProxy of the viewer (its layers are proxies too, so identity checks fail).
    widget = MedSegWidget(viewer)
    viewer.window.add_dock_widget(widget, name=WIDGET_NAME, area="right")
    image_data, image_kwargs, _ = volume_layer_data(
        data.volume, data.image_name, "image", source=data.volume.path
    )
    widget.form.model_combo.setCurrentText(model)
    widget.form.checkpoint_edit.setText("" if checkpoint is None else str(checkpoint))
    image = viewer.add_image(image_data, **image_kwargs)
    if data.reference is not None:
        _, ref_kwargs, _ = volume_layer_data(data.volume, "reference labels", "labels")
        if data.names:
            ref_kwargs["features"] = label_features(data.names)
            ref_kwargs["metadata"]["label_names"] = dict(data.names)
        viewer.add_labels(data.reference, opacity=0.5, visible=False, **ref_kwargs)
    if widget.image_layer is not image:
        widget.set_image_layer(image)  # (which turns the view to the CT's axial slices: _qt/view.py)
    if viewer.dims.order[0] != DEMO_AXIS:
        viewer.dims.order = (DEMO_AXIS, *(a for a in range(3) if a != DEMO_AXIS))  # slice along DEMO_AXIS
    return image, widget


def show_slice(viewer: Any, layer: Any, axis: int, index: int) -> None:
    """Move the viewer to slice ``index`` of ``axis`` of ``layer`` (world = translate + index * scale)."""
    world = float(layer.translate[axis]) + index * float(layer.scale[axis])
    viewer.dims.set_point(axis, world)


def run_interactive(args: argparse.Namespace, data: DemoData) -> int:
    import napari

    viewer, image, _ = open_viewer(data, show=True, model=args.model, checkpoint=args.checkpoint)
    if data.reference is not None and data.names:
        try:
            box = key_slice_box(data.reference == structure_id(data, args.structure))
            show_slice(viewer, image, box.slice.axis, box.slice.index)
        except MedsegError:
            pass  # the demo still opens on the middle slice
    napari.run()
    return 0


def run_headless(args: argparse.Namespace, data: DemoData) -> int:
    """Box -> preview -> commit -> propagate through the real widget; write screenshot and labels."""
    if data.reference is None:
        raise MedsegError(
            "the headless demo places its box from reference labels; give --reference with --image"
        )
    label_id = structure_id(data, args.structure)
    target = data.reference == label_id
    box = key_slice_box(target)
    out = Path(args.out).expanduser()
    out.mkdir(parents=True, exist_ok=True)
    # Autosaves of this scripted run go to a throwaway folder: no restore prompt from an earlier run.
    os.environ.setdefault("NAPARI_MEDSEG_CACHE", tempfile.mkdtemp(prefix="medseg-demo-"))

    started = time.perf_counter()
    viewer, image, widget = open_viewer(data, show=True, model=args.model, checkpoint=args.checkpoint)
    try:
        viewer.window._qt_window.resize(1500, 950)
        errors: list[str] = []
        widget.error.connect(errors.append)
        _wait(widget, args.timeout, "loading the model")
        viewer.reset_view()  # (after the wait: the canvas has its final size by then)
        if widget.session is None:
            raise MedsegError(errors[-1] if errors else "the widget could not set up a session for the image")
        widget.set_label_id(label_id, data.names.get(label_id))
        show_slice(viewer, image, box.slice.axis, box.slice.index)
        widget.set_tool("box")

        clicked = time.perf_counter()
        draw_box(widget, box)
        _wait(widget, args.timeout, "segmenting the key slice")
        preview = widget.session.preview if widget.session is not None else None
        if preview is None:
            raise MedsegError(errors[-1] if errors else "the box gave no preview for the key slice")
        preview_s = time.perf_counter() - clicked
        preview_dice = dice(preview.mask, np.take(target, box.slice.index, axis=box.slice.axis))
        preview_png = out / "demo_preview.png"
        viewer.screenshot(path=str(preview_png), canvas_only=False, flash=False)

        failures = len(errors)
        widget.commit()
        _wait(widget, args.timeout, "committing")
        propagation_started = time.perf_counter()
        widget.form.range_spin.setValue(max(int(args.range), 0))
        widget.propagate()
        _wait(widget, args.timeout, "propagating")
        propagate_s = time.perf_counter() - propagation_started
        if len(errors) > failures:
            raise MedsegError(errors[-1])

        labels = np.asarray(widget.session.labels)
        widget.labels_layer.visible = True
        screenshot = out / "demo_screenshot.png"
        viewer.screenshot(path=str(screenshot), canvas_only=False, flash=False)
        labels_path = write_labels(out / "demo_labels.nii.gz", labels, reference=data.volume)
    finally:
        widget.shutdown()
        viewer.close()

    name = data.names.get(label_id, f"label {label_id}")
    result = labels == label_id
    print(f"structure: {name} (label {label_id}); box on slice {box.slice.index} of axis {box.slice.axis}")
    print(f"key-slice preview: {preview_s * 1000:.0f} ms, 2D Dice {preview_dice:.3f}")
    in_plane = tuple(a for a in range(3) if a != box.slice.axis)
    print(f"propagation: {propagate_s:.1f} s, {int(result.any(axis=in_plane).sum())} slices labelled")
    print(f"3D Dice vs reference ({name}): {dice(result, target):.3f}")
    print(f"screenshot: {screenshot}")
    print(f"preview screenshot: {preview_png}")
    print(f"labels: {labels_path}")
    print(f"total: {time.perf_counter() - started:.1f} s")
    return 0


def draw_box(widget: Any, box: BoxPrompt) -> None:
    """Add the rectangle to the widget's box layer, as the rectangle tool does when a drag ends."""
    r0, c0, r1, c1 = box.bounds
    corners = [(r0, c0), (r0, c1), (r1, c1), (r1, c0)]
    vertices = np.array([join_voxel(box.slice.index, rc, box.slice.axis) for rc in corners])
    widget.tools.boxes.add_rectangles([vertices])


def _wait(widget: Any, timeout: float, what: str) -> None:
    if not widget.wait_idle(timeout):
        raise MedsegError(f"timed out after {timeout:g} s while {what}; raise --timeout on a slow machine")


# --- display ---------------------------------------------------------------------------------------


def _needs_virtual_display() -> bool:
    return (
        sys.platform.startswith("linux")
        and not os.environ.get("DISPLAY")
        and not os.environ.get("WAYLAND_DISPLAY")
    )


def _rerun_under_xvfb(args: argparse.Namespace) -> int:
    xvfb = shutil.which("xvfb-run")
    if xvfb is None:
        raise MedsegError("no display and no xvfb-run; install xvfb (apt-get install xvfb) or set DISPLAY")
    argv = [xvfb, "-a", "-s", XVFB_SCREEN, sys.executable, "-c", _MAIN, "demo", "--headless"]
    argv += ["--out", str(args.out), "--structure", args.structure, "--model", args.model]
    argv += ["--timeout", str(args.timeout), "--range", str(args.range)]
    for flag, value in (
        ("--image", args.image),
        ("--reference", args.reference),
        ("--checkpoint", args.checkpoint),
    ):
        if value is not None:
            argv += [flag, str(value)]
    env = dict(os.environ, QT_API=os.environ.get("QT_API", "pyqt6"))
    started = time.perf_counter()
    import subprocess

    code = subprocess.call(argv, env=env)
    if code != 0:
        print(
            f"napari-medseg: headless demo under xvfb-run exited {code} after {time.perf_counter() - started:.0f} s",
            file=sys.stderr,
        )
    return code
