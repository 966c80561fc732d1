"""A tapering walk may not grow into tissue the previous slice already showed as the object's neighbour.

An organ that touches a tissue of its own brightness (the spleen against the body wall's muscle,
50 against 48 HU) has no visible border there. On the key slice the user's mask says where the
organ ends; further along the walk the model, prompted with the previous slice's mask, pushes that
border out a pixel or two per slice along the neighbour, and by the organ's tapering end the mask
is mostly neighbour. The previous slice holds the evidence: a tissue there that looked like the
object (its intensity in the key slice's object-like bins), lay beside the mask, reached well away
from it and was left out, was judged to be something else; it does not turn into the object on the
next slice. So what a step adds beyond the previous mask (more than ``allowance`` pixels from it:
the border's own wobble stays free) is dropped where it lies in such a tissue.

Not a rim of partial volume (an opening takes it away), not a separate piece of the object (it does
not touch the mask), not a crescent the mask missed (it does not reach ``REACH`` pixels past the
masks' box). The walk applies it only while its mask is smaller than the key slice's: a walk that
grows back what a partial first answer missed must be free to (``core/propagation.py``).
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from napari_medseg.core.appearance import AppearanceModel, ImageRegion, crop_around
from napari_medseg.core.morphology import opening, square, within_distance

MIN_PATCH = 5  # pixels: less growth than this in such a tissue is the border's noise
REACH = 8  # pixels past the box of both masks that a neighbour tissue must reach


def drop_growth_into_neighbour(
    mask: np.ndarray,
    previous: np.ndarray,
    look: AppearanceModel,
    previous_image: ImageRegion,
    allowance: float,
) -> np.ndarray:
    """``mask`` without what it grew into an object-looking tissue beside the ``previous`` mask.

    ``previous_image(rows, cols)``: the previous slice (after the intensity preset, unclipped).
    Returns ``mask`` itself when nothing is dropped (a dropped strip may cut a piece off: the walk's
    ``keep_overlapping`` then drops it)."""
    rows, cols = crop_around(mask | previous, REACH)
    if rows.stop <= rows.start:
        return mask
    before = previous[rows, cols]
    grown = mask[rows, cols] & ~within_distance(before, allowance)
    if np.count_nonzero(grown) < MIN_PATCH:
        return mask
    neighbour = opening(look.like(previous_image(rows, cols)) & ~before, square(1))
    labels, count = ndimage.label(neighbour)
    if count == 0:
        return mask
    beside = np.zeros(count + 1, dtype=bool)
    beside[labels[within_distance(before, 1.5) & neighbour]] = True
    edge = np.zeros_like(neighbour)
    edge[0, :] = edge[-1, :] = edge[:, 0] = edge[:, -1] = True
    reaching = np.zeros(count + 1, dtype=bool)
    reaching[labels[neighbour & edge]] = True
    tissue = beside & reaching
    tissue[0] = False
    stale = grown & tissue[labels]
    if np.count_nonzero(stale) < MIN_PATCH:
        return mask
    out = mask.copy()
    out[rows, cols] &= ~stale
    return out
