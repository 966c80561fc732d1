"""A click's first answer on a faint object recut where the object's brightness meets its surroundings'.

A click on a faint object (a liver lesion a few HU darker than the liver, under noise of the same
size) has the network answer a region several pixels wider than the object: its border follows the
noise out into the liver (held-out phantoms' lesions from a click: 128 px too many, 11 missed, Dice
0.79; ``benchmarks/first_answer_bias.py``). Such an answer shows itself in its own outer band: the
2 px inside its border are already halfway or more from the answer's core brightness to its
surroundings' (``min_band`` of the step), where a border on the object's edge keeps a band like the
core but for the edge's partial volume (0.3 or less of the step on the development phantoms' and
synthetic volumes' other first answers). Then the answer is recut: the pixels of the slice smoothed
by ``sigma`` px on the core's side of the level halfway between the core (the answer's deeper half)
and a ring 2-5 px outside it, within ``grow`` px of the answer, connected to the click or the core,
holes filled.

Only first answers to positive clicks alone, on absolute intensities (CT), of at most ``max_area``
pixels, whose contrast to the noise (``core.faint_blobs.contrast_to_noise``) is below
``max_contrast`` and which are thick (``core.faint_blobs.thickness`` at least ``min_thickness``: a
blob, not a vessel's branch). An answer whose band looks like the ring beyond ``max_band`` of the
step is not an over-grown blob but a part of a larger object (a kidney's medulla whose answer
reached into the cortex): it stays.

Chosen on the development phantoms (seeds 7 and 8) and checked on held-out draws (phantoms 9-16,
synthetic volumes 90-97) before it was switched on (2026-12-07, thirtieth session): dev clicks
Dice@1 0.925 -> 0.934, 3D 0.917 -> 0.921 (the two lesions 0.764 / 0.749 -> 0.887 / 0.827), @5 0.9605
-> 0.9618; held-out clicks Dice@1 0.9074 -> 0.9108, 3D 0.8814 -> 0.8832, @5 0.9598 -> 0.9590 (only
lesions moved, 5 of 8). See docs/model-development.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from napari_medseg.core.appearance import crop_around
from napari_medseg.core.components import fill_holes, keep_prompted, pieces_touching
from napari_medseg.core.faint_blobs import RING, contrast_to_noise, thickness
from napari_medseg.core.morphology import cross, erode, within_distance
from napari_medseg.core.prompts import PointPrompt, Prompt
from napari_medseg.models.builtin.scale import clicks_only

MIN_AREA = 30  # px: a smaller answer has no band and core to tell apart


@dataclass(frozen=True)
class FaintBorderOptions:
    enabled: bool = True
    # px: larger answers are left as they are (a lesion of 80 px across; the tests below cost 8 ms
    # on a liver-sized answer at 512 px)
    max_area: float = 5000.0
    max_contrast: float = 4.0  # the answer's contrast to the noise stays below this
    min_thickness: float = 0.6
    min_band: float = 0.4  # share of the core-to-ring step the answer's outer band has gone
    max_band: float = 0.7  # ...and at most this (beyond: a part of a larger object)
    band_width: int = 2  # px inside the border
    band_sigma: float = 1.0  # px: smoothing before the band's test
    sigma: float = 1.5  # px: smoothing before the recut
    grow: float = 3.0  # px: the recut stays within this of the answer
    boost: float = 0.5  # |logit| a pixel that changes side gets (at least)


def recut_faint_answer(logits: np.ndarray, image: np.ndarray, prompts: Sequence[Prompt], previous_given: bool,
                       relative: bool, opts: FaintBorderOptions = FaintBorderOptions()) -> np.ndarray:
    """``logits`` with a faint object's over-grown first click answer recut at the halfway level (a
    copy), or ``logits`` itself."""
    if (not opts.enabled or previous_given or relative or not clicks_only(prompts)
            or not all(p.positive for p in prompts)):
        return logits
    mask = np.asarray(logits) > 0
    if np.count_nonzero(mask) > 3 * opts.max_area:  # (the unprompted pieces the session drops count too)
        return logits
    mask = keep_prompted(mask, prompts)
    if not MIN_AREA <= np.count_nonzero(mask) <= opts.max_area:
        return logits
    margin = int(np.ceil(max(RING[1], opts.grow) + 3 * opts.sigma)) + 1
    rows, cols = crop_around(mask, margin)
    sub = mask[rows, cols]
    values = np.asarray(image[rows, cols], dtype=np.float32)
    if thickness(sub) < opts.min_thickness or contrast_to_noise(values, sub) >= opts.max_contrast:
        return logits
    depth = ndimage.distance_transform_edt(sub)
    core = depth >= 0.5 * depth.max()
    ring = within_distance(sub, RING[1]) & ~within_distance(sub, RING[0])
    band = sub & ~erode(sub, cross(opts.band_width))
    if not ring.any() or not band.any():
        return logits
    smooth = ndimage.gaussian_filter(values, opts.band_sigma)
    inside, outside = float(np.median(smooth[core])), float(np.median(smooth[ring]))
    if inside == outside:
        return logits
    gone = (float(np.median(smooth[band])) - inside) / (outside - inside)
    if not opts.min_band <= gone <= opts.max_band:
        return logits
    smooth = ndimage.gaussian_filter(values, opts.sigma)
    level = 0.5 * (float(np.median(smooth[core])) + float(np.median(smooth[ring])))
    side = (smooth < level) if inside < outside else (smooth > level)
    seeds = core.copy()
    for prompt in prompts:
        if isinstance(prompt, PointPrompt):
            r, c = (int(round(v)) for v in prompt.point)
            if rows.start <= r < rows.stop and cols.start <= c < cols.stop:
                seeds[r - rows.start, c - cols.start] = True
    recut = fill_holes(pieces_touching(side & within_distance(sub, opts.grow), seeds))
    if not recut.any():
        return logits
    out = np.array(logits, dtype=np.float32, copy=True)
    view = out[rows, cols]
    leave, join = sub & ~recut, recut & ~sub
    view[leave] = np.minimum(view[leave], -opts.boost)
    view[join] = np.maximum(view[join], opts.boost)
    return out
