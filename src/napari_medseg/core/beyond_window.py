"""A first answer on an object that the intensity window saturates keeps out what the window shows.

Models see the slice through the preset's window. Under an abdomen window (-160..240 HU) bone
(cancellous 280, cortex 650 HU) is white, and so, nearly, is a contrast-filled aorta (205 HU) touching
a vertebra: a click on the vertebral body took the aorta in (dev phantom: Dice 0.87, the walk from it
0.84). The values beyond the window still tell them apart. When what the positive prompts mark lies
beyond the window (its median above 1 or below 0 on the preset's scale), the first answer loses the
patches that lie inside the window, are at least ``MIN_PATCH`` pixels after a 3x3 opening (a border's
partial-volume rim is not a leak) and reach the answer's outside (a vessel enclosed by the object
stays). The mirror holds for an object inside the window: a contrast-filled aorta touching a
vertebra took the bone's cortex in as a strip beside it (dev Dice from a click 0.90 / 0.91); patches
lying more than ``INSIDE_MARGIN`` windows beyond the window (no opening) that reach the outside go.
A correction's answer loses only such patches that the correction added: the network, redrawing the
mask from its previous logits after a click on a dev aorta's border, took the cortex strip back in
(Dice 0.96 -> 0.89 and 0.97 -> 0.88); what the previous mask held, and patches the newest positive
prompts touch (the user asked for them), stay.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from napari_medseg.core.appearance import crop_around, drop_reached_patches, smooth3
from napari_medseg.core.components import pieces_touching, prompt_anchors
from napari_medseg.core.morphology import erode, opening, square
from napari_medseg.core.prompts import Prompt

# a region of the slice on the preset's scale (0 and 1 at the window's ends), not clipped
ScaledRegion = Callable[[slice, slice], np.ndarray]

MARGIN = 0.05  # how far beyond the window (in windows) the prompted object must lie
INSIDE_MARGIN = 0.3  # for an object inside the window: how far beyond it a patch must lie to go
MIN_ANCHORS = 3  # pixels under the positive prompts needed to say where the object lies


def trim_within_window(mask: np.ndarray, prompts: Sequence[Prompt], region: ScaledRegion) -> np.ndarray:
    """``mask`` without its in-window patches when the prompted object lies beyond the window;
    ``mask`` itself when nothing changes."""
    mask = np.asarray(mask, dtype=bool)
    if not mask.any():
        return mask
    rows, cols = crop_around(mask, 2)
    inside = mask[rows, cols]
    anchors = prompt_anchors(prompts, mask.shape)[rows, cols] & inside
    if np.count_nonzero(anchors) < MIN_ANCHORS:
        # the positive prompts cover (almost) none of the answer: its own core says where it lies
        anchors = erode(inside, square(2))
        if np.count_nonzero(anchors) < MIN_ANCHORS:
            return mask
    smooth = smooth3(region(rows, cols))
    level = float(np.median(smooth[anchors]))
    if level > 1.0 + MARGIN:
        within = smooth < 1.0
    elif level < -MARGIN:
        within = smooth > 0.0
    elif 0.0 <= level <= 1.0:
        # the mirror: an object inside the window loses patches clearly beyond it (no opening: the
        # vertebral cortex beside an aorta is a strip two pixels wide)
        beyond = inside & ((smooth > 1.0 + INSIDE_MARGIN) | (smooth < -INSIDE_MARGIN))
        return _without(mask, rows, cols, inside, beyond)
    else:
        return mask
    unlike = opening(inside & within, square(1))
    return _without(mask, rows, cols, inside, unlike)


def trim_added(mask: np.ndarray, before: np.ndarray, prompts: Sequence[Prompt], newest: Sequence[Prompt],
               region: ScaledRegion) -> np.ndarray:
    """A correction's answer ``mask`` without the patches ``trim_within_window`` drops (judged by all
    the slice's ``prompts``) that ``before`` (the previous mask) did not hold and that the ``newest``
    prompts' positive marks do not touch; ``mask`` itself when nothing changes."""
    mask = np.asarray(mask, dtype=bool)
    trimmed = trim_within_window(mask, prompts, region)
    if trimmed is mask:
        return mask
    lost = mask & ~trimmed & ~np.asarray(before, dtype=bool)
    if not lost.any():
        return mask
    lost &= ~pieces_touching(lost, prompt_anchors(newest, mask.shape))
    return mask & ~lost if lost.any() else mask


def _without(mask: np.ndarray, rows: slice, cols: slice, inside: np.ndarray, unlike: np.ndarray) -> np.ndarray:
    """``mask`` without the ``unlike`` patches of its crop that reach its outside; ``mask`` itself if none."""
    kept = drop_reached_patches(inside, unlike)
    if kept is inside or not kept.any():
        return mask
    out = mask.copy()
    out[rows, cols] = kept
    return out
