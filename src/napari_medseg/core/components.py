"""Keep the parts of a preview that the user's prompts point at.

The built-in model compares every pixel with what lies under the positive prompts, so one click can
also light up distant, unconnected patches of the same brightness (a kidney click marking a strip of
the body wall). An annotator means the structure they clicked: the preview keeps only the connected
pieces that a positive prompt touches (a click, a scribble, a box or a lasso), plus those that
continue a mask the interaction started from (an existing label being corrected). A piece the user
wants too is one more positive click away.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from napari_medseg.core.appearance import crop_around
from napari_medseg.core.prompts import PointPrompt, Prompt, rasterize, rasterize_point

_EIGHT = np.ones((3, 3), dtype=bool)
CLICK_RADIUS = 1.5  # a click on the border pixel of a piece still touches it


def prompt_anchors(prompts: Sequence[Prompt], shape: tuple[int, int]) -> np.ndarray:
    """The pixels the positive prompts cover (clicks as small discs), as bool."""
    anchors = np.zeros(shape, dtype=bool)
    for prompt in prompts:
        if not prompt.positive:
            continue
        if isinstance(prompt, PointPrompt):
            anchors |= rasterize_point(prompt.point, shape, CLICK_RADIUS)
        else:
            anchors |= rasterize(prompt, shape)
    return anchors


def keep_prompted(mask: np.ndarray, prompts: Sequence[Prompt], start: np.ndarray | None = None) -> np.ndarray:
    """``mask`` without the connected pieces (8-connected) that no positive prompt touches and that
    do not overlap ``start`` (the mask the interaction began from). Unchanged when nothing would be
    left, when there is a single piece, or when no positive prompt was given."""
    mask = np.asarray(mask, dtype=bool)
    rows, cols = crop_around(mask, 0)  # the pieces lie within the mask's box: label only that
    labels, count = ndimage.label(mask[rows, cols], structure=_EIGHT)
    if count <= 1:  # the common case: one piece (or none), no prompt needs rasterising
        return mask
    anchors = prompt_anchors(prompts, mask.shape)
    if start is not None:
        anchors |= np.asarray(start, dtype=bool)
    keep = np.bincount(labels[anchors[rows, cols] & mask[rows, cols]], minlength=count + 1) > 0
    keep[0] = False
    if not keep.any() or keep[1:].all():
        return mask
    out = np.zeros_like(mask)
    out[rows, cols] = keep[labels]
    return out


def pieces_touching(mask: np.ndarray, seed: np.ndarray) -> np.ndarray:
    """The pixels of ``mask`` whose 8-connected piece touches ``seed``."""
    mask = np.asarray(mask, dtype=bool)
    rows, cols = crop_around(mask, 0)  # the pieces lie within the mask's box: label only that
    sub = mask[rows, cols]
    labels, count = ndimage.label(sub, structure=_EIGHT)
    touched = np.zeros(count + 1, dtype=bool)
    touched[labels[np.asarray(seed, dtype=bool)[rows, cols] & sub]] = True
    touched[0] = False
    out = np.zeros_like(mask)
    out[rows, cols] = touched[labels]
    return out


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``scipy.ndimage.binary_fill_holes`` (4-connected background) by one labelling of the
    background: the same result, about three times faster on the crops an interaction touches."""
    outside = np.pad(~np.asarray(mask, dtype=bool), 1, constant_values=True)
    labels, _ = ndimage.label(outside)
    return (labels != labels[0, 0])[1:-1, 1:-1]
