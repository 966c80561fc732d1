"""A correction on a large slice is decoded on a window around the object, not on the whole slice.

A correction (previous logits given: a click, stroke, box or lasso on an answer, or the second look
at a box's first answer) changes the mask near what it already holds and near the new prompt, but
the network's cost grows with the slice's pixels. The window is the box of the previous mask and of
every prompt, widened by ``margin`` px and rounded out to the encoder's 32-px grid, so that the
cached feature maps are cropped, not recomputed; outside it the previous mask stands (its logits held
at ``OUTSIDE``: the network's far answer there was background too, and the correction rules drop far
growth anyway). What the window changes is the decoder's context: its 1/32-grid convolutions see
zeros past the window's edge, and its global context vector (the mean of its 1/32 map) is the
window's rather than the slice's.

Chosen on the development phantoms' whole slices scaled up in plane (``bench_slice_scale.py``'s
volumes; every correction decode of the simulated user's five interactions of each prompt type
answered both ways, the whole-slice answer carried on), Dice against the reference, whole -> windowed:
x2.5 (480 x 400 px), 224 decodes: margin 64 px 0.9504 -> 0.9502 (57 px of 10,782 differ on average; 7
decodes lose more than 0.01, 4 gain), **96 px** 0.9506 (35 px; 4 lose, 3 gain), 128 px 0.9505 (19 px;
none loses); x1.5 and x3.5, 448 decodes: 0.9445 -> 0.9447 at 96 and at 128 px. The MR development
brains fill their slices: no window there (320 decodes, none changed). A correction click on a
kidney-sized organ (90 px across) on a 512 x 512 slice: 13.2 ms whole, 9.5 ms at 96 px, 10.9 ms at
128 px (timed in turn).

An answer that comes within ``guard`` px of a window edge inside the slice may go on past it (a
positive click on a large organ after the mask was emptied, a new part beside the mask): the slice is
then decoded whole, and the windowed answer is dropped. A window wider than ``max_share`` of the
padded slice saves too little to be worth it: the slice is decoded whole.

A box's or lasso's second look (second_look.py) is a correction too, but its answer cannot leave
its boxes and lassos (plus ``prompt_evidence``'s 3 px margin): it is decoded on a window of
``second_look_margin`` px round them, with no edge guard (2026-12-07, twenty-eighth session). A 232 x
232 box on a 512 x 512 slice, which the 96 px margin had widened past ``max_share``: 21.0 -> 17.8 ms
and 25.3 -> 21.3 ms in a slower hour (timed in turn; 794 of its 33,781 px differ). The development
phantoms' slices scaled x2 / 2.5 / 3 (``bench_slice_scale.py``), box Dice@1 0.936 / 0.933 / 0.926 ->
0.934 / 0.933 / 0.925, after five interactions 0.963 / 0.962 / 0.961 -> 0.963 / 0.961 / 0.962, lassos
within 0.001; the bench's crops (dev, dev-mr, dev-mr-folded) unchanged.

Propagation steps keep the whole slice unless ``walks``. One prompted slice + propagation on the
development phantoms scaled up in plane (seeds 8-10 at x2.5, 84 walks: mean 3D Dice 0.8545 whole ->
0.8554 windowed, none lower by 0.01; seeds 7 and 11 at x3.5, 56 walks: 0.8378 -> 0.8372, kidneys from
a click 0.006-0.012 lower) saved 10-18 % of the walks' time; with a 128-px margin 0.8545 -> 0.8549 and
0.8378 -> 0.8376 (none lower by 0.01) for 4 % and 15 % less time: not enough to change the walk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from napari_medseg.core.prompts import Prompt, prompt_coords
from napari_medseg.core.slice_prompts import bounding_box
from napari_medseg.models.builtin.encoder import STRIDE

OUTSIDE = -10.0  # logit of the pixels outside the window (background, firmly)


@dataclass(frozen=True)
class WindowOptions:
    margin: int = 96  # px around the previous mask's and the prompts' box
    guard: int = 32  # px: an answer this close to a window edge inside the slice is decoded whole again
    max_share: float = 0.6  # a window over this share of the padded slice: decode the whole slice
    walks: bool = False  # also the propagation's steps
    # px around a box's or lasso's second look (second_look.py), whose answer the boxes and lassos
    # bound (prompt_evidence.py), so no edge guard is needed (0: ``margin`` and the guard, as corrections)
    second_look_margin: int = 32
    enabled: bool = True


def decode_window(previous: np.ndarray, prompts: Sequence[Prompt], padded: tuple[int, int],
                  opts: WindowOptions = WindowOptions()) -> tuple[slice, slice] | None:
    """Rows and columns (on the padded slice, multiples of ``STRIDE``) to decode a correction on, or
    None for the whole slice."""
    if not opts.enabled:
        return None
    hp, wp = padded
    points = [rc for p in prompts for rc in prompt_coords(p)]
    rs, cs = [r for r, _ in points], [c for _, c in points]
    box = bounding_box(previous > 0)
    if box is not None:
        rs += box[:2]
        cs += box[2:]
    if not rs:
        return None
    r0, c0 = (max(0, int(math.floor((min(v) - opts.margin) / STRIDE)) * STRIDE) for v in (rs, cs))
    r1 = min(hp, int(math.ceil((max(rs) + opts.margin) / STRIDE)) * STRIDE)
    c1 = min(wp, int(math.ceil((max(cs) + opts.margin) / STRIDE)) * STRIDE)
    if (r1 - r0) * (c1 - c0) > opts.max_share * hp * wp:
        return None
    return slice(r0, r1), slice(c0, c1)


def maps_under(maps: np.ndarray, rows: slice, cols: slice, padded_rows: int) -> np.ndarray:
    """A cached (h, w, C) map's part under the padded slice's ``rows`` and ``cols`` (multiples of its
    stride), contiguous so that the decoder reads it channels last; the map itself when whole."""
    stride = padded_rows // maps.shape[0]
    if rows.start == 0 and cols.start == 0 and rows.stop // stride >= maps.shape[0] and cols.stop // stride >= maps.shape[1]:
        return maps
    return np.ascontiguousarray(maps[rows.start // stride : rows.stop // stride, cols.start // stride : cols.stop // stride])


def reaches_edge(part: np.ndarray, rows: slice, cols: slice, shape: tuple[int, int], guard: int) -> bool:
    """Whether the window's answer ``part`` (logits over ``rows`` x ``cols`` within the slice of
    ``shape``) holds a pixel within ``guard`` px of a window edge that is not the slice's edge."""
    inside = part > 0
    h, w = inside.shape
    bands = []
    if rows.start > 0:
        bands.append(inside[:guard])
    if rows.start + h < shape[0]:
        bands.append(inside[max(h - guard, 0) :])
    if cols.start > 0:
        bands.append(inside[:, :guard])
    if cols.start + w < shape[1]:
        bands.append(inside[:, max(w - guard, 0) :])
    return any(band.any() for band in bands)
