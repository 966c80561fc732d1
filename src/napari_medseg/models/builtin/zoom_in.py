"""A tiny object is answered on a zoomed-in crop.

The network learned objects that span tens of pixels. On a coarse slice (a CT reconstructed at 3 mm,
a small vessel, a thumbnail) a box of a few pixels held nothing it could answer: on the development
phantoms scaled to a third in plane (2.7 mm pixels), a box round the aorta (34 px) or the liver
lesion (30 px) got an empty mask, all four of them, where the random walker got 0.51-0.96. A
radiologist zooms in; so does this step. When what is known of the object is under ``max_side`` px
across (a box alone, for a first answer; the previous mask with the new prompts, for a correction),
the slice around it (plus ``context`` times that size each way, at least ``min_context`` px) is
scaled up so that the object spans ``target_side`` px (at most ``max_factor`` times), encoded afresh
(a crop of a hundred-odd pixels: a millisecond or two), answered with every step of the model's own
answer, and the logits are scaled back into the crop; outside it the slice stays background. Clicks
and strokes alone say nothing of the object's size, and a walk's step keeps to the slice's own
embedding.

Chosen on the development phantoms scaled in plane (``bench_slice_scale.py``), see "twenty-fourth
session" in docs/model-development.md.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import numpy as np

from napari_medseg.core.prompts import BoxPrompt, Prompt, prompt_coords
from napari_medseg.models.working_scale import prompts_scaled, resize

OUTSIDE = -10.0  # the logit of the slice outside the zoomed crop (background, firmly)
Bounds = tuple[float, float, float, float]


@dataclass(frozen=True)
class ZoomInOptions:
    max_side: float = 16.0  # px: an object known to be smaller across is answered zoomed in (0: never)
    target_side: float = 32.0  # px it spans once zoomed
    max_factor: float = 8.0
    context: float = 1.5  # the crop: the object and this many times its size on every side ...
    min_context: float = 12.0  # ... but at least this many px
    corrections: bool = True  # corrections of a tiny mask too (not only a first box)
    walks: bool = False  # propagation steps of a tiny mask too ...
    walk_max_side: float = 16.0  # ... smaller across than this
    enabled: bool = True


def object_bounds(prompts: Sequence[Prompt], previous: np.ndarray | None) -> Bounds | None:
    """(r0, c0, r1, c1) of what is known of the object's extent: a box alone for a first answer, the
    previous mask and every prompt for a correction; None when nothing says how large it is."""
    if previous is None:
        if len(prompts) != 1 or not isinstance(prompts[0], BoxPrompt):
            return None
        return prompts[0].bounds
    inside = previous > 0  # (its extent from the rows and columns it holds: a tenth of np.nonzero's cost)
    rows, cols = np.flatnonzero(inside.any(axis=1)), np.flatnonzero(inside.any(axis=0))
    if rows.size == 0:
        return None
    points = np.array([rc for p in prompts for rc in prompt_coords(p)] + [(rows[0], cols[0]), (rows[-1], cols[-1])],
                      dtype=np.float64)
    return float(points[:, 0].min()), float(points[:, 1].min()), float(points[:, 0].max()), float(points[:, 1].max())


def zoom_factor(bounds: Bounds, opts: ZoomInOptions) -> float | None:
    """How much to scale the slice up for an object of these bounds, or None (large enough)."""
    r0, c0, r1, c1 = bounds
    side = max(r1 - r0, c1 - c0, 1.0)
    if not opts.enabled or side >= opts.max_side:
        return None
    factor = float(min(opts.target_side / side, opts.max_factor))
    return factor if factor > 1.0 else None


def answer_zoomed_in(image: np.ndarray, prompts: Sequence[Prompt], previous: np.ndarray | None, opts: ZoomInOptions,
                     answer: Callable[[np.ndarray, list[Prompt], np.ndarray | None], np.ndarray],
                     walk: bool = False) -> np.ndarray | None:
    """Logits over the slice ``image`` from ``answer(crop, prompts_on_crop, previous_on_crop)`` (the
    model's answer on a scaled-up crop around the object), or None when the object needs no zoom.
    (Only the crop is read from ``image``: the cached float16 slice is not copied whole.)"""
    if previous is not None and not opts.corrections:
        return None
    bounds = object_bounds(prompts, previous)
    if walk:
        opts = replace(opts, max_side=min(opts.max_side, opts.walk_max_side))
    f = None if bounds is None else zoom_factor(bounds, opts)
    if f is None:
        return None
    h, w = image.shape
    r0, c0, r1, c1 = bounds
    pad = max(opts.context * max(r1 - r0, c1 - c0), opts.min_context)
    rows = slice(max(int(np.floor(r0 - pad)), 0), min(int(np.ceil(r1 + pad)) + 1, h))
    cols = slice(max(int(np.floor(c0 - pad)), 0), min(int(np.ceil(c1 + pad)) + 1, w))
    ch, cw = rows.stop - rows.start, cols.stop - cols.start
    size = (max(int(round(ch * f)), 1), max(int(round(cw * f)), 1))
    fr, fc = size[0] / ch, size[1] / cw  # (the exact factors of the rounded size)
    crop = resize(image[rows, cols], size)
    prev = None if previous is None else resize(previous[rows, cols], size)
    logits = answer(crop, prompts_scaled(prompts, fr, fc, (rows.start, cols.start)), prev)
    back = resize(logits, (ch, cw), antialias=True)
    out = np.full((h, w), OUTSIDE, dtype=np.float32)
    if previous is not None:  # (the crop holds all of the previous mask: outside it, background stays)
        out = np.minimum(np.asarray(previous, dtype=np.float32), OUTSIDE)
    out[rows, cols] = back
    return out
