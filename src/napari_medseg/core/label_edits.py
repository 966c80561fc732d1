"""The label edits a Session makes, stored so that undo and redo are cheap.

Every change to the labels is a list of :class:`SliceEdit` (the changed box of one slice, old and new
values), never a copy of the volume; a commit or a whole propagation is one :class:`Step`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from napari_medseg.core.prompts import SliceRef
from napari_medseg.core.slice_prompts import bounding_box


@dataclass(frozen=True)
class SliceEdit:
    """One slice's changed region: enough to undo (``old``) and redo (``new``) it."""

    axis: int
    index: int
    rows: slice
    cols: slice
    old: np.ndarray
    new: np.ndarray
    count: int


@dataclass
class Step:
    """One undo step: the slices it changed and the key slices it added, each (label, axis, index): a
    commit's slice, or the slices an edit by hand left a label on; and the slices it erased a label from."""

    edits: list[SliceEdit]
    keys: tuple[tuple[int, int, int], ...] = ()
    # the slices an edit by hand took a label off entirely: propagation leaves them empty of it
    erased: tuple[tuple[int, int, int], ...] = ()


def write_slice(
    plane: np.ndarray, ref: SliceRef, mask: np.ndarray, label_id: int, overwrite: bool, holds_label: bool = True
) -> SliceEdit | None:
    """Make ``mask`` the label's extent on ``plane`` (a writable view of slice ``ref``); the edit or None.

    ``holds_label=False`` says the slice has no ``label_id`` yet, which saves a full-slice scan
    (a strided one for axes 1 and 2). ``overwrite=False`` keeps other labels' voxels.
    """
    mask_box = bounding_box(mask)
    if holds_label:
        current = plane == label_id
        box = _union(mask_box, bounding_box(current))
    else:
        current, box = None, mask_box
    if box is None:
        return None
    rows, cols = slice(box[0], box[1]), slice(box[2], box[3])
    old = plane[rows, cols].copy()
    inside = mask[rows, cols]
    new = old.copy()
    if current is not None:
        new[current[rows, cols] & ~inside] = 0
    new[inside if overwrite else inside & (new == 0)] = label_id
    count = int(np.count_nonzero(new != old))
    if count == 0:
        return None
    plane[rows, cols] = new
    return SliceEdit(ref.axis, ref.index, rows, cols, old, new, count)


def _union(a: tuple[int, int, int, int] | None, b: tuple[int, int, int, int] | None):
    """The box covering two (possibly missing) boxes."""
    if a is None or b is None:
        return a if b is None else b
    return min(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), max(a[3], b[3])


def edits_of_region(labels: np.ndarray, region: tuple[slice, slice, slice], before: np.ndarray,
                    axis: int, after: np.ndarray | None = None) -> list[SliceEdit]:
    """A change made to ``labels`` outside the session (a brush stroke or a fill in napari) as the
    :class:`SliceEdit` of each slice along ``axis`` that it changed: ``before`` holds ``region``'s values
    before the change, ``after`` (default ``labels[region]`` now) after it."""
    after = labels[region] if after is None else np.asarray(after)
    if before.shape != after.shape:
        raise ValueError(f"the values before the edit have shape {before.shape}, the region {after.shape}")
    edits = []
    for offset, changed in enumerate(np.moveaxis(before != after, axis, 0)):
        box = bounding_box(changed)
        if box is None:
            continue
        in_plane = [r for a, r in enumerate(region) if a != axis]
        rows = slice(in_plane[0].start + box[0], in_plane[0].start + box[1])
        cols = slice(in_plane[1].start + box[2], in_plane[1].start + box[3])
        old = np.moveaxis(before, axis, 0)[offset][box[0] : box[1], box[2] : box[3]].copy()
        new = np.moveaxis(after, axis, 0)[offset][box[0] : box[1], box[2] : box[3]].copy()
        edits.append(SliceEdit(axis, region[axis].start + offset, rows, cols, old, new, int(np.count_nonzero(old != new))))
    return edits


def labels_left_on(edit: SliceEdit, plane: np.ndarray) -> list[int]:
    """The labels (not 0) an edit by hand touched that are on its slice ``plane`` after it: in its new
    values, or outside its box (the box itself may not be written yet: napari writes a dab after it
    announced it)."""
    inside = plane[edit.rows, edit.cols]
    return [int(label_id) for label_id in np.unique(np.concatenate([edit.old.ravel(), edit.new.ravel()]))
            if label_id and (label_id in edit.new
                             or np.count_nonzero(plane == label_id) > np.count_nonzero(inside == label_id))]
