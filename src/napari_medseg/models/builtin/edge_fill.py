"""A first click's uncertain band settled by the image's edges (a marker watershed).

One click on an organ made of parts (a kidney's darker medulla inside its bright cortex, a lobulated
blob's partial-volume rim, the white matter's gyri) gets a confident core around the click, confident
background far out, and between them a band where the network is unsure (|logit| <= ``high`` /
``low``). There the answer's border followed whichever faint inner edge the network saw first: a dev
kidney clicked in its medulla kept to two thirds of the organ (Dice 0.85). A marker watershed on the
smoothed slice's gradient magnitude, flooded from the core (logit > ``high``) and from the confident
background (logit < -``low``), puts the border on the strongest edge between them (where a random
walker puts it too): the cortex joins the medulla, because the step from medulla to cortex is lower
than the one from cortex to fat.

Only additions are taken (the band pixels the core's flood reached that the answer left out), and
only pieces that lie along the answer: a piece whose border touches the answer along less than
``contact`` of its length hangs on a narrow neck (a neighbouring organ of the same grey touching the
kidney's tip) and stays out. When the additions exceed ``max_growth`` times the answer, none is taken
(the flood found no edge: a faint lesion in the liver). Clicks only: a first scribble's answer already
reaches as far as the stroke, and on boxes the dev MR brains lost (criterion 1.7173 -> 1.6700).
Click corrections are filled too (the clicks seed their own side), but last, after the correction
rules and the whole-from-part answer have judged the network's own answer (``model.py``): filled
earlier, the fill's additions at a click beyond the mask read as the network having taken a new
part, and a dev MR brain clicked in its ventricles stayed the ventricles. What those rules took
out of the network's answer seeds the background (``keep_rules``): the fill had given it back, and a
border click on a held-out kidney's hilum still flooded the vein beside it (Dice 0.98 -> 0.83;
0.96 with the seeds).

Chosen on the development sets (``bench --sets dev,dev-mr --prompt-types point``, criterion = Dice@1
+ 3D Dice), 2026-12-05, see docs/model-development.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from napari_medseg.core.appearance import crop_around
from napari_medseg.core.morphology import cross, dilate, erode, square
from napari_medseg.core.prompts import PointPrompt, rasterize_point
from napari_medseg.models.builtin.scale import block_mean

_EIGHT = np.ones((3, 3), dtype=bool)
CLICK_SEED = 2.0  # px: the disc around a click that seeds its side


@dataclass(frozen=True)
class EdgeFillOptions:
    high: float = 2.0  # logit above which a pixel seeds the object's flood
    low: float = 3.0  # logit below minus this: seeds the background's flood
    sigma: float = 1.0  # px: the slice's smoothing before its gradient is taken
    max_growth: float = 0.5  # additions beyond this share of the answer's area: none is taken
    contact: float = 0.3  # share of a piece's border that must touch the answer (0: every piece)
    margin: int = 4  # px of context around the band
    slice_side: int = 256  # px: on a longer slice the band is settled on a grid 1/f as fine...
    max_side: int = 192  # px: ...and on a larger crop too, one at most this size
    value: float = 0.5  # the logit a joined pixel gets
    corrections: bool = True  # also on click corrections (else first answers only)
    # on a correction, what the correction rules took out of the network's answer seeds the
    # background: the fill does not give it back (nor reach past it)
    keep_rules: bool = True
    enabled: bool = True


def edge_fill(logits: np.ndarray, image: np.ndarray, opts: EdgeFillOptions = EdgeFillOptions(),
              clicks: Sequence[PointPrompt] = (), background: np.ndarray | None = None) -> np.ndarray:
    """(H, W) logits of a click's answer (a first one or a correction's), the slice (values in [0, 1])
    and the clicks -> logits with the band's pixels that the object's flood reached raised to
    ``opts.value``: a copy, or ``logits`` itself. ``background``: (H, W) pixels that seed the
    background whatever their logit (a correction's: what its rules took out)."""
    from skimage.segmentation import watershed

    if not opts.enabled:
        return logits
    core = logits > opts.high
    if not core.any():
        return logits
    band = np.abs(logits) <= max(opts.high, opts.low)
    rows, cols = crop_around(band | core, opts.margin)
    lg = logits[rows, cols]
    # a large slice (or crop) is settled on a coarser grid, as a large slice's first click is
    # (scale.py): every f-th pixel's logit, the f x f block means of the slice
    f = max(1, int(np.ceil(max(logits.shape) / opts.slice_side)), int(np.ceil(max(lg.shape) / opts.max_side)))
    small = lg[::f, ::f]
    markers = np.zeros(small.shape, dtype=np.int32)
    markers[small < -opts.low] = 1
    markers[small > opts.high] = 2
    if background is not None and background.any():
        markers[background[rows, cols][::f, ::f] & ~(small > 0)] = 1
    for click in clicks:  # the clicks seed their own side (a later one over an earlier one)
        disc = rasterize_point(click.point, logits.shape, CLICK_SEED)[rows, cols][::f, ::f]
        markers[disc] = 2 if click.positive else 1
    if not (markers == 1).any():
        return logits  # nothing confidently outside: no edge to find
    smooth = ndimage.gaussian_filter(block_mean(np.asarray(image[rows, cols], dtype=np.float32), f),
                                     opts.sigma / f)
    gradient = np.hypot(ndimage.sobel(smooth, 0), ndimage.sobel(smooth, 1))
    answer = small > 0
    unsure = np.abs(small) <= max(opts.high, opts.low)
    # every pixel outside the band is a seed, so the flood runs through the band alone: limiting the
    # watershed to the band and the seeds beside it gives the same labels there, at the band's cost
    reached = watershed(gradient, markers, mask=dilate(unsure, square(1))) == 2
    joined = reached & unsure & ~answer
    if not joined.any() or np.count_nonzero(joined) > opts.max_growth * np.count_nonzero(answer):
        return logits
    if opts.contact > 0:
        joined = well_attached(joined, answer, opts.contact)
        if not joined.any():
            return logits
    if f > 1:  # back on the slice's grid: the band's pixels under a joined coarse pixel
        joined = np.repeat(np.repeat(joined, f, axis=0), f, axis=1)[: lg.shape[0], : lg.shape[1]]
        joined &= (np.abs(lg) <= max(opts.high, opts.low)) & ~(lg > 0)
    out = np.array(logits, dtype=np.float32, copy=True)
    out[rows, cols][joined] = opts.value
    return out


def well_attached(pieces: np.ndarray, answer: np.ndarray, share: float) -> np.ndarray:
    """The 8-connected pieces of ``pieces`` whose border pixels touch ``answer`` (8-neighbours) for
    at least ``share`` of their number."""
    labels, n = ndimage.label(pieces, structure=_EIGHT)
    if n == 0:
        return pieces
    border = pieces & ~erode(pieces, cross(1))
    touching = pieces & dilate(answer, square(1))
    per_border = np.bincount(labels[border], minlength=n + 1)
    per_touch = np.bincount(labels[touching], minlength=n + 1)
    keep = per_touch >= share * np.maximum(per_border, 1)
    keep[0] = False
    return keep[labels]
