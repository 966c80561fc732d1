"""How to show a volume the way radiologists read it: axial slices, anterior up, patient's right on the left.

napari shows an array in the order it is stored, sliced along its first axis: a NIfTI volume, stored
x, y, z, opens as sagittal slices lying on their side. Reading stations, ITK-SNAP and 3D Slicer open it
as axial slices in the radiological convention instead. The array itself is left as the file stores it
(labels are written back voxel for voxel on the same grid); only napari's view is set: which array axis
the slider moves along (``dims.order``) and which way the two shown axes run on screen
(``camera.orientation2d``). The axes come from the affine's nearest orientation codes (nibabel's
``aff2axcodes``), so an oblique volume gets the view of the axes it is closest to.
"""

from __future__ import annotations

from dataclasses import dataclass

import nibabel as nib
import numpy as np


@dataclass(frozen=True)
class AxialView:
    """napari's ``dims.order`` and ``camera.orientation2d`` for a radiological axial view."""

    order: tuple[int, int, int]  # the array axis along the body (sliced), then the rows' axis, the columns'
    vertical: str  # "up" or "down": the way the rows' axis (posterior-anterior) runs on screen
    horizontal: str  # "left" or "right": the way the columns' axis (left-right) runs on screen

    @property
    def slice_axis(self) -> int:
        return self.order[0]


def axial_view(affine: np.ndarray) -> AxialView | None:
    """The axial view of a 3D array with this voxel-to-world (RAS+) affine, or None when its axes do
    not map onto the three body directions (a degenerate affine)."""
    matrix = np.asarray(affine, dtype=np.float64)
    if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
        return None
    try:
        codes = nib.aff2axcodes(matrix)
    except (ValueError, np.linalg.LinAlgError):
        return None
    if None in codes:
        return None
    axis = {code: i for i, code in enumerate(codes)}  # each body direction's array axis
    along = axis.get("S", axis.get("I"))
    front = axis.get("A", axis.get("P"))
    side = axis.get("R", axis.get("L"))
    if None in (along, front, side):
        return None
    # napari draws a shown axis's increasing index downwards / rightwards; anterior goes up, and the
    # patient's right to the screen's left
    vertical = "up" if codes[front] == "A" else "down"
    horizontal = "left" if codes[side] == "R" else "right"
    return AxialView((along, front, side), vertical, horizontal)
