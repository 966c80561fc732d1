"""Parts of a mask joined through a narrow neck: which of them the prompts are on.

Organs of the same brightness touch, and a mask that spread from one into the other is still one
connected piece (``components.keep_prompted`` keeps it whole). Eroding the mask by ``radius`` px (what
lies farther than that from the background) splits parts joined through a neck narrower than about
twice that. The eroded parts that ``anchors`` (the positive prompts' pixels) touch are the object;
every other eroded part, with the mask's pixels beyond ``radius`` + 1 px of the object's eroded parts
that connect to it, is a neighbour, when it holds at least ``min_share`` of the mask and is itself
wide (a pixel at least ``min_depth`` px from the background: a narrowing along a vessel is no neck
between organs). Thin parts that vanish in the erosion (a vessel, a rim, a process of a vertebra)
are never judged.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from napari_medseg.core.appearance import crop_around
from napari_medseg.core.morphology import within_distance

_EIGHT = np.ones((3, 3), dtype=bool)


def neighbours_past_necks(mask: np.ndarray, anchors: np.ndarray, radius: float, min_share: float = 0.05,
                          min_depth: float = 6.0) -> np.ndarray | None:
    """The pixels of ``mask`` that belong to wide parts joined through necks and not touched by
    ``anchors`` (bool, the mask's shape), or None when there are none (the common case)."""
    if radius <= 0:
        return None
    mask = np.asarray(mask, dtype=bool)
    rows, cols = crop_around(mask, int(np.ceil(radius)) + 2)
    sub = mask[rows, cols]
    if not sub.any():
        return None
    core = ~within_distance(~sub, radius)
    labels, count = ndimage.label(core, structure=_EIGHT)
    if count < 2:
        return None
    on = np.zeros(count + 1, dtype=bool)
    on[labels[np.asarray(anchors, dtype=bool)[rows, cols] & core]] = True
    on[0] = False
    if not on.any() or on[1:].all():
        return None
    object_core = on[labels]
    rest = sub & ~within_distance(object_core, radius + 1.0)
    parts, n = ndimage.label(rest, structure=_EIGHT)
    wide = np.zeros(n + 1, dtype=bool)
    wide[parts[core & ~object_core & rest]] = True
    wide[0] = False
    wide &= np.bincount(parts.ravel(), minlength=n + 1) >= min_share * np.count_nonzero(sub)
    if wide.any() and min_depth > 0:
        deep = ndimage.distance_transform_edt(np.pad(sub, 1))[1:-1, 1:-1] >= min_depth
        reach = np.zeros(n + 1, dtype=bool)
        reach[parts[deep & rest]] = True
        wide &= reach
    if not wide.any():
        return None
    out = np.zeros_like(mask)
    out[rows, cols] = wide[parts]
    return out
