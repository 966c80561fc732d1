"""A brush stroke or fill made with napari's own Labels tools, as the region it changed and its values before.

napari keeps such edits in the layer's own history, which the session's undo (Ctrl+Z on the target
layer) does not see: undoing the step before a stroke would write that step's old values over the
stroke. The widget hands every paint event to the session as one undo step instead
(``Session.record_edit``), so undo and redo replay the user's strokes and the model's steps in the
order they were made, and the autosave follows each stroke.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

Region = tuple[slice, ...]


def _bounds(atom: Any, shape: tuple[int, ...]) -> Region:
    if hasattr(atom, "slice_key"):  # napari's masked paint atom (paint, fill, polygon)
        return tuple(slice(*s.indices(n)[:2]) for s, n in zip(atom.slice_key, shape, strict=True))
    indices = atom[0]  # (indices, old values, new values): data_setitem
    return tuple(slice(int(np.min(ix)), int(np.max(ix)) + 1) for ix in indices)


def region_before(data: np.ndarray, atoms: Sequence[Any]) -> tuple[Region, np.ndarray, np.ndarray] | None:
    """The box the atoms of one napari paint event change in ``data``, and the box's values before and
    after them. napari emits the event before it writes a single brush dab or fill and after it wrote a
    whole stroke, so both come from the atoms over a copy of what is there now: their old values written
    back (newest first) give "before", their new values (oldest first) "after". None for an event that
    changes nothing."""
    shape = tuple(data.shape)
    boxes = [_bounds(atom, shape) for atom in atoms]
    boxes = [b for b in boxes if all(s.stop > s.start for s in b)]
    if not boxes:
        return None
    region = tuple(slice(min(b[a].start for b in boxes), max(b[a].stop for b in boxes)) for a in range(len(shape)))
    now = np.array(data[region], copy=True)
    before, after = now, now.copy()
    for atom in reversed(atoms):
        _apply(before, atom, region, shape, undo=True)
    for atom in atoms:
        _apply(after, atom, region, shape, undo=False)
    return region, before, after


def _apply(values: np.ndarray, atom: Any, region: Region, shape: tuple[int, ...], undo: bool) -> None:
    """Write one atom's old (``undo``) or new values into ``values``, the box ``region`` of the data."""
    if hasattr(atom, "slice_key"):
        local = tuple(slice(b.start - r.start, b.stop - r.start) for b, r in zip(_bounds(atom, shape), region, strict=True))
        view = values[local]
        new = atom.old_values if undo else atom.new_value
        if atom.mask is None:
            view[...] = new
        else:
            view[atom.mask] = new
    else:
        indices, old, new = atom
        values[tuple(np.asarray(ix) - r.start for ix, r in zip(indices, region, strict=True))] = old if undo else new
