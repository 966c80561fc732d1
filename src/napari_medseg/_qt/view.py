"""Turn napari's view to axial radiological slices when a medical volume is taken up (core/orientation.py)."""

from __future__ import annotations

from typing import Any

import numpy as np

from napari_medseg.core.orientation import AxialView, axial_view

DEFAULT_ORIENTATION_2D = ("down", "right")  # napari's own: an axis's increasing index runs down / right


def view_of(layer: Any) -> AxialView | None:
    """The axial view of an image layer that carries its file's affine (our reader, the sample)."""
    metadata = layer.metadata if isinstance(getattr(layer, "metadata", None), dict) else {}
    affine = metadata.get("affine")
    if affine is None or np.ndim(layer.data) != 3:
        return None
    return axial_view(np.asarray(affine))


def camera_of(viewer: Any) -> Any:
    """The viewer's camera (``viewer.scene.camera`` from napari 0.9, ``viewer.camera`` before)."""
    scene = getattr(viewer, "scene", None)
    return scene.camera if scene is not None else viewer.camera


def show_axial(viewer: Any, layer: Any) -> AxialView | None:
    """Slice the viewer along ``layer``'s body axis, anterior up and the patient's right on the left,
    if the viewer still shows napari's default view (a view the user chose is kept); the view set, or
    None when nothing changed."""
    view = view_of(layer)
    if view is None or viewer.dims.ndim != 3 or tuple(viewer.dims.order) != (0, 1, 2):
        return None
    camera = camera_of(viewer)
    if tuple(str(v.value) for v in camera.orientation2d) != DEFAULT_ORIENTATION_2D:
        return None
    if view.order == (0, 1, 2) and (view.vertical, view.horizontal) == DEFAULT_ORIENTATION_2D:
        return None  # the default already is the axial view
    viewer.dims.order = view.order
    camera.orientation2d = (view.vertical, view.horizontal)
    viewer.reset_view()  # the slice now shown fits the canvas
    return view
