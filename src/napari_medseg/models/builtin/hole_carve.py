"""Pieces that look like the object's surroundings carved out of a first answer.

A lasso drawn round the white matter, or round a vertebra, has its inside taken whole: the lasso's
evidence (``prompt_evidence.py``) and the network both fill the ventricles inside the white matter
and the spinal canal inside the vertebra, although they look like what lies outside the outline
and not like the object (development MR brains' white-matter lassos Dice@1 0.87-0.92, with both
ventricles inside; development phantoms' vertebrae 0.89-0.90). A box round the ventricles has its
answer take the bright septum between them (Dice@1 0.77-0.79 on the development averages). Such a
piece shows itself: inside the answer, beyond the level halfway from the answer's median brightness
to the median of a ring ``ring`` px outside it, after an opening by ``opening`` px (a thin dark
fissure running in from the border, a sliver of partial volume along it, is not a piece), a piece
whose own median lies at least ``piece_way`` of the way from the object's level to the ring's. It
may be enclosed (the ventricles, the canal) or reach the answer's outline (the septum, the
ventricles' horns opening to a sulcus). Each such piece is carved out where the slice is beyond the
level halfway between the object and the piece itself (within ``grow`` px of it), so that its
partial-volume edge goes and the object's stays.

A brain's ventricles are enclosed and dark too, but the skull-stripped brain's surroundings are
the black background: the ventricles lie 0.6 of the way there (0.57-0.63 on the development
brains), the white matter's ventricles beyond the grey ring (1.3-1.7 of the way) and a vertebra's
canal 0.7-1.0. Answers of at least ``min_area`` px with a contrast of at least ``min_contrast`` to
the ring (the faint livers' noise made pieces 0.6-0.7 of the way at contrasts of 0.10-0.12); a piece
holding a positive click stays.

Only where the user drew the outline: answers to a lasso or a box. A click's or a stroke's answer
may be a part or the whole (a brain click's answer stops in the cortex, whose ring its ventricles
resemble). The network fills the holes again at the next correction, so in a correction
the holes of the previous mask that it filled are carved again (most of the piece a hole before),
but not one the newest positive prompt touches.

Chosen on the first answers of the development volumes (dev, dev-mr, dev-mr-folded) and checked on
held-out draws (phantoms 9-16, synthetic volumes 90-97, brains 10-13) before it was switched on
(2026-12-07, thirty-first session, enclosed pieces only): dev-mr lassos Dice@1 / @5 0.848 / 0.954 ->
0.862 / 0.959, boxes 0.900 / 0.971 -> 0.910 / 0.972; held-out brains' lassos 0.754 / 0.902 -> 0.762 /
0.904; held-out phantoms' lassos 0.926 / 0.963 -> 0.931 / 0.963. Pieces reaching the outline too, with
an opening of 2 px (2026-12-08, thirty-second session): dev-mr boxes Dice@1 / 3D 0.910 / 0.901 ->
0.935 / 0.904, dev-mr-folded boxes 0.749 / 0.768 -> 0.793 / 0.776, held-out brains' boxes 0.766 /
0.778 -> 0.807 / 0.787, their corrections within 0.004 (Dice@3 / @5); then CT boxes too: held-out
phantoms' boxes Dice@1 0.912 -> 0.918, 3D 0.912 (+0.001). See docs/model-development.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from scipy import ndimage

from napari_medseg.core.appearance import crop_around
from napari_medseg.core.components import fill_holes, prompt_anchors
from napari_medseg.core.morphology import cross, dilate, erode, opening, within_distance
from napari_medseg.core.prompts import PointPrompt, Prompt

COARSE_SIDE = 160  # px: the coarse look's grid side at most (a 512 px slice: every 4th pixel)


@dataclass(frozen=True)
class HoleCarveOptions:
    enabled: bool = True
    min_area: float = 200.0  # px: a smaller answer has no hole worth the test
    min_contrast: float = 0.15  # |ring - object| in the model's intensity units
    piece_way: float = 0.7  # share of the object-to-ring step a piece's median has gone
    min_piece: float = 10.0  # px
    ring_inner: float = 2.0  # px outside the answer
    ring_outer: float = 5.0
    sigma: float = 1.0  # px: smoothing before the levels are read
    grow: int = 2  # px: the carve reaches this far beyond the piece
    boost: float = 0.5  # |logit| a carved pixel gets (at least)
    # a box's answer on absolute intensities (CT) too: with enclosed pieces only its click corrections
    # lost (held-out phantoms' boxes Dice@3 / @5 0.9534 / 0.9619 -> 0.9524 / 0.9613); with pieces
    # reaching the outline Dice@1 0.9122 -> 0.9181, @3 / @5 0.9528 / 0.9620 (2026-12-08)
    ct_boxes: bool = True
    # px: a larger answer's crop is first looked at on a coarse grid, then at full resolution only
    # round the pieces found (a synthetic 512 px white matter with two ventricles: 35 -> 3 ms)
    coarse_area: float = 65536.0
    # px: the pieces are opened by this much first (a thin fissure or a partial-volume sliver along
    # the outline is no piece; 1 px with enclosed pieces only)
    opening: int = 2
    # pieces that reach the answer's outline count too (off: enclosed ones only, "the outline" being
    # the filled answer's, not the rim of a hole already out; dev-mr boxes Dice@1 0.910 -> 0.935)
    reach_outline: bool = True


def carve_unlike_pieces(logits: np.ndarray, image: np.ndarray, prompts: Sequence[Prompt],
                        opts: HoleCarveOptions = HoleCarveOptions(),
                        prev_logits: np.ndarray | None = None, relative: bool = False) -> np.ndarray:
    """``logits`` with the pieces that look like the surroundings carved out (a copy), or
    ``logits`` itself when there are none. A first answer, or with ``prev_logits`` a correction: then
    only the holes of the previous mask that the correction filled are carved again, and a piece the
    newest prompt (positive) touches stays."""
    kinds = {p.kind for p in prompts}
    if not opts.enabled or not ("lasso" in kinds or ("box" in kinds and (relative or opts.ct_boxes))):
        return logits
    mask = np.asarray(logits) > 0  # (with any unprompted piece the session drops: 1.5 ms saved at 512 px)
    if np.count_nonzero(mask) < opts.min_area:
        return logits
    margin = int(np.ceil(opts.ring_outer + 3 * opts.sigma)) + 1
    rows, cols = crop_around(mask, margin)
    sub = mask[rows, cols]
    values = np.asarray(image[rows, cols], dtype=np.float32)
    before = None if prev_logits is None else np.asarray(prev_logits)[rows, cols] > 0
    if sub.size > opts.coarse_area:
        # a large answer: such pieces looked for on a grid of at most ``COARSE_SIDE`` px first, then
        # at full resolution only round those found, with the levels read there (a synthetic 512 px
        # white matter's two ventricles: 14 -> 3 ms); with enclosed pieces only, the region's edge
        # counts as the outline
        k = max(2, int(np.ceil(max(sub.shape) / COARSE_SIDE)))
        coarse_opts = replace(opts, sigma=opts.sigma / k, ring_inner=opts.ring_inner / k,
                              ring_outer=opts.ring_outer / k, min_piece=max(opts.min_piece / k**2, 2.0),
                              opening=max(1, round(opts.opening / k)))
        grid = (slice(None, None, k), slice(None, None, k))
        filled = None if before is None else _holes_filled(before[grid], sub[grid], coarse_opts.min_piece)
        if filled is not None and not filled.any():
            return logits
        coarse = _pieces_unlike(sub[grid], values[grid], coarse_opts)
        if coarse is None:
            return logits
        _, coarse_labels, coarse_sizes, coarse_boxes, _, coarse_carve, levels_read = coarse
        if filled is not None:  # a correction: only the holes it filled
            coarse_carve &= np.bincount(coarse_labels[filled], minlength=coarse_sizes.size + 1)[1:] >= 0.5 * coarse_sizes
        if not coarse_carve.any():
            return logits
        found_boxes = [coarse_boxes[i] for i in np.flatnonzero(coarse_carve)]
        m = int(np.ceil(3 * opts.sigma)) + opts.grow + 2 * k
        region = tuple(slice(max(k * min(b[d].start for b in found_boxes) - m, 0), k * max(b[d].stop for b in found_boxes) + m)
                       for d in (0, 1))
        sub, values = sub[region], values[region]
        before = None if before is None else before[region]
        rows = slice(rows.start + region[0].start, rows.start + region[0].start + sub.shape[0])
        cols = slice(cols.start + region[1].start, cols.start + region[1].start + sub.shape[1])
    else:
        levels_read = None
    allowed = None
    if before is not None:  # a correction: only the previous mask's holes it filled
        allowed = _holes_filled(before, sub, opts.min_piece)
        if not allowed.any():
            return logits
    found = _pieces_unlike(sub, values, opts, levels=levels_read)
    if found is None:
        return logits
    way, labels, sizes, boxes, levels, carve, _ = found
    if allowed is not None:  # most of the piece was a hole before
        carve &= np.bincount(labels[allowed], minlength=sizes.size + 1)[1:] >= 0.5 * sizes
        last = prompts[-1]
        if last.positive and carve.any():  # the newest prompt's own pieces stay
            touched = labels[prompt_anchors([last], mask.shape)[rows, cols]]
            carve[touched[touched > 0] - 1] = False
    else:
        for prompt in prompts:  # a piece the user clicked into is the object
            if isinstance(prompt, PointPrompt) and prompt.positive:
                r, c = (int(round(v)) - s.start for v, s in zip(prompt.point, (rows, cols), strict=True))
                if 0 <= r < sub.shape[0] and 0 <= c < sub.shape[1] and labels[r, c]:
                    carve[labels[r, c] - 1] = False
    if not carve.any():
        return logits
    taken = np.zeros_like(sub)
    for i in np.flatnonzero(carve):
        # the piece's box grown by the reach of the carve: what it can take lies within
        box = tuple(slice(max(b.start - opts.grow, 0), b.stop + opts.grow) for b in boxes[i])
        piece = labels[box] == i + 1
        # beyond the level halfway between the object and this piece, near the piece, joined to it
        near = sub[box] & dilate(piece, cross(opts.grow)) & (way[box] > 0.5 * levels[i])
        near_labels, _ = ndimage.label(near)
        touched = np.unique(near_labels[piece])
        taken[box] |= np.isin(near_labels, touched[touched > 0])
    if allowed is not None:
        taken &= allowed
    out = np.array(logits, dtype=np.float32, copy=True)
    view = out[rows, cols]
    view[taken] = np.minimum(view[taken], -opts.boost)
    return out


def _pieces_unlike(sub: np.ndarray, values: np.ndarray, opts: HoleCarveOptions,
                   levels: tuple[float, float] | None = None):
    """The answer's pieces that look like its surroundings: (the slice's way from the
    object's level to the ring's, the pieces' labels, sizes, boxes and median ways, which pieces,
    the two levels); None when the ring is empty or too like the object. ``levels``: the object's
    and the ring's brightness, already read."""
    smooth = ndimage.gaussian_filter(values, opts.sigma)
    if levels is None:
        ring = within_distance(sub, opts.ring_outer) & ~within_distance(sub, opts.ring_inner)
        if not ring.any():
            return None
        inside, outside = float(np.median(smooth[sub])), float(np.median(smooth[ring]))
    else:
        inside, outside = levels
    step = outside - inside
    if abs(step) < opts.min_contrast:
        return None
    way = (smooth - inside) / step  # 0 at the object's level, 1 at the ring's
    other = opening(sub & (way > 0.5), cross(opts.opening))
    labels, count = ndimage.label(other)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)[1:]
    carve = sizes >= opts.min_piece
    if not opts.reach_outline:  # enclosed pieces only
        border = sub & ~erode(fill_holes(sub), cross(1))  # the outline, not the rims of holes already out
        reaching = np.zeros(count + 1, dtype=bool)
        reaching[labels[border]] = True
        carve &= ~reaching[1:]
    boxes = ndimage.find_objects(labels)
    levels = np.zeros(count)
    for i in np.flatnonzero(carve):  # the candidate pieces' medians (few: only theirs are read)
        levels[i] = np.median(way[boxes[i]][labels[boxes[i]] == i + 1])
    carve &= levels >= opts.piece_way
    return way, labels, sizes, boxes, levels, carve, (inside, outside)


def _holes_filled(before: np.ndarray, now: np.ndarray, min_count: float) -> np.ndarray:
    """The previous mask's holes that ``now`` holds (none when fewer than ``min_count`` pixels)."""
    filled = fill_holes(before) & ~before & now
    return filled if np.count_nonzero(filled) >= max(min_count, 1) else np.zeros_like(filled)
