"""Layer helpers of the widget; first of all fast on-screen updates of a Labels layer.

``Labels.refresh()`` re-slices and recolours the whole displayed plane (tens of milliseconds on a
512x512 slice); a preview that changes a few hundred pixels should cost a few. ``Labels.data_setitem``
does that partial update; the preview layer keeps no napari paint history (it is not user data).
"""

from __future__ import annotations

import numpy as np
from napari.layers import Labels

from napari_medseg._qt.tools import LAYER_NAMES
from napari_medseg.core.volume_io import Volume

PREVIEW_NAME = "medseg preview"
LABELS_NAME = "medseg labels"
OWN_LAYER_NAMES = {PREVIEW_NAME, *LAYER_NAMES.values()}  # the widget's own layers: never a target


def plane_index(axis: int, index: int) -> tuple:
    """The numpy index of slice ``index`` along ``axis`` of a 3D array."""
    out: list = [slice(None)] * 3
    out[axis] = int(index)
    return tuple(out)


def without_history(layer: Labels) -> Labels:
    """Stop napari from keeping undo copies of the programmatic writes into ``layer``."""
    if hasattr(layer, "_history_limit") and hasattr(layer, "_reset_history"):
        layer._history_limit = 0
        layer._reset_history()
    return layer


def set_plane(layer: Labels, axis: int, index: int, plane: np.ndarray) -> int:
    """Make slice ``index`` of ``layer`` equal ``plane``, recolouring only the changed pixels."""
    current = np.asarray(layer.data[plane_index(axis, index)])
    rows, cols = np.nonzero(current != plane)
    if rows.size == 0:
        return 0
    where = [rows, cols]
    where.insert(axis, np.full(rows.size, int(index)))
    values = np.asarray(plane[rows, cols], dtype=layer.data.dtype)
    layer.data_setitem(tuple(where), values, refresh=True)
    return int(rows.size)


def image_volume(layer) -> Volume:
    """An Image layer as a Volume: the affine from our reader's metadata, else from scale/translate.

    The data stay as the layer holds them (a lazy array is read later, on the worker thread).
    """
    affine = layer.metadata.get("affine") if isinstance(layer.metadata, dict) else None
    if affine is None:
        affine = np.eye(4)
        affine[:3, :3] = np.diag(np.asarray(layer.scale, dtype=float))
        affine[:3, 3] = np.asarray(layer.translate, dtype=float)
    affine = np.asarray(affine, dtype=np.float64)
    spacing = tuple(float(s) for s in np.linalg.norm(affine[:3, :3], axis=0))
    return Volume(data=layer.data, affine=affine, spacing=spacing)


def add_labels_like(viewer, image, name: str, dtype=np.uint16, **kwargs) -> Labels:
    """An empty Labels layer over ``image`` (same shape, scale, translation and affine metadata)."""
    metadata = {"affine": image.metadata["affine"]} if image.metadata.get("affine") is not None else {}
    layer = Labels(
        np.zeros(image.data.shape, dtype=dtype), name=name, scale=image.scale, translate=image.translate,
        metadata=metadata, **kwargs,
    )
    viewer.add_layer(layer)
    return layer  # our own reference, not the viewer's plugin proxy of it
