"""On MR, a negative click takes out the mask's part that looks like what it was clicked on.

A negative correction click says "not this" about one place; the network takes out a patch around
it. On an MR slice the false positive is often a whole tissue: a white-matter answer that took in the
grey-matter ribbon around it (a population template, whose sulci are blurred, shows the brain as one
bright region), and the ribbon then went a patch per click. Here, after the network's answer to a
negative click on relative intensities (MR): when the clicked place (a ``radius`` px disc) and the
mask differ in brightness by at least ``min_contrast`` (medians of the slice smoothed by ``sigma``
px), the mask's pixels on the clicked side of the midway brightness that reach the click (within
``reach`` px) through such pixels go, unless that is more than ``max_share`` of the mask (then the
clicked tissue is too much of the object to be the error) or it would take a positive prompt's
pixels (those stay). CT keeps the network's answer (``absolute`` off): there a negative click's
tissue recurs inside organs (vessels in the liver), and on the CT development set the rule lowered
corrections (mean Dice@3/@5) 0.9563 -> 0.9553 (clicks Dice@2 0.934 -> 0.923).

Chosen on ``bench --sets dev-mr,dev-mr-folded`` (2026-12-06): corrections 0.9602 / 0.8262 -> 0.9611 /
0.8481 (with ``extend_relative.ring_percentile``); see docs/model-development.md.

Sometimes the network turns the mask around instead: after a box around a folded brain's two
ventricles and a negative click on the bright septum between them, it answered the septum and dropped
both ventricles (Dice 0.73 -> 0.00). When the answer still holds pixels of the click's disc and less
than ``ignored_kept`` of the previous mask, the rule above runs on the previous mask and its result
is the answer (``answer_to_ignored_click``; 0.73 -> 0.91). Corrections dev-mr / dev-mr-folded 0.9611 /
0.8481 -> 0.9611 / 0.8530 (2026-12-06, thirteenth session; with any share kept, 0.9628 / 0.8539 but
the held-out brains' grey-matter boxes lost: Dice@3 0.680 -> 0.572 on one; 0.8 kept: 0.9611 /
0.8538); on the CT development set it never applies (0.9563 either way) and, like the rule, is left
to MR.

What goes must reach ``min_depth`` px into the mask somewhere (2026-12-07, twenty-ninth session): a
negative click on a one-pixel sliver at a folded brain's ventricle has a 2 px disc half outside the
ventricle, brighter than it, and the partial-volume rim of both ventricles looked like it (Dice 0.965
-> 0.834; 0.973 now). A tissue taken in by mistake (the grey-matter ribbon round a white-matter answer)
is thicker than that rim. Clicks and boxes, Dice@3 / @5: dev-mr clicks 0.9661 / 0.9664 -> 0.9660 /
0.9678, boxes 0.9660 / 0.9708 -> 0.9656 / 0.9706; dev-mr-folded clicks 0.8482 / 0.8742 -> 0.8489 /
0.8744, boxes 0.8608 / 0.8805 -> 0.8604 / 0.8803; held-out brains clicks 0.8744 / 0.8832 -> 0.8787 /
0.8838, boxes 0.8782 / 0.8940 -> 0.8786 / 0.8944.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from napari_medseg.core.appearance import crop_around
from napari_medseg.core.components import pieces_touching, prompt_anchors
from napari_medseg.core.morphology import within_distance
from napari_medseg.core.prompts import PointPrompt, Prompt, rasterize_point


@dataclass(frozen=True)
class NegativeLookOptions:
    radius: float = 2.0  # px: the disc under the click whose brightness says what is not object
    min_contrast: float = 0.06  # clicked place and mask must differ this much (slice intensities in [0, 1])
    reach: float = 16.0  # px: the taken part reaches the click within this distance
    max_share: float = 0.5  # nothing goes when more than this share of the mask would
    sigma: float = 1.0  # px: smoothing before the brightness test
    boost: float = 0.5  # |logit| a taken pixel gets (at least)
    absolute: bool = False  # on absolute intensities (CT windows) too
    enabled: bool = True
    # when the answer still holds pixels of the negative click's disc (the network did not heed it),
    # the rule runs on the previous mask instead, and its result is the answer...
    ignored: bool = True
    ignored_kept: float = 0.5  # ...and the answer holds less than this share of the previous mask (1: any)
    # what goes must reach this deep (px) into the mask somewhere: a tissue, not the partial-volume rim
    # of the object's own border (0: any)
    min_depth: float = 2.0


def answer_to_ignored_click(logits: np.ndarray, previous: np.ndarray, prompts: Sequence[Prompt], image: np.ndarray,
                            opts: NegativeLookOptions = NegativeLookOptions()) -> np.ndarray:
    """``logits``, or, when they still hold pixels of the newest (negative) click's disc, ``previous`` with
    the part that looks like the clicked place taken out (``take_out_look_alike``), if it takes any."""
    if not opts.enabled or not prompts:
        return logits
    last = prompts[-1]
    if last.positive or not isinstance(last, PointPrompt):
        return logits
    answer, before = np.asarray(logits) > 0, np.asarray(previous) > 0
    if not answer[rasterize_point(last.point, logits.shape, opts.radius)].any():
        return logits
    if np.count_nonzero(answer & before) >= opts.ignored_kept * np.count_nonzero(before):
        return logits
    taken = take_out_look_alike(previous, prompts, image, opts)
    return logits if taken is previous else taken


def take_out_look_alike(logits: np.ndarray, prompts: Sequence[Prompt], image: np.ndarray,
                        opts: NegativeLookOptions = NegativeLookOptions()) -> np.ndarray:
    """``logits`` with the mask's part that looks like the place of the newest (negative) click
    lowered to ``-boost``; unchanged unless that click is the newest prompt."""
    if not opts.enabled or not prompts:
        return logits
    last = prompts[-1]
    if last.positive or not isinstance(last, PointPrompt):
        return logits
    mask = np.asarray(logits) > 0
    if not mask.any():
        return logits
    disc = rasterize_point(last.point, mask.shape, opts.radius)
    region = mask | disc
    rows, cols = crop_around(region, int(np.ceil(3 * opts.sigma)) + 1)
    sub, at = mask[rows, cols], disc[rows, cols]
    if not at.any():  # a click beside the slice: no place to look at
        return logits
    # (a kernel of 2 sigma each side, and the mask's median over every other row and column: the
    # two costliest lines of the first version, 3.4 and 2.6 ms at 512 px)
    smooth = ndimage.gaussian_filter(np.asarray(image[rows, cols], dtype=np.float32), opts.sigma, truncate=2.0)
    clicked = float(np.median(smooth[at]))
    sparse = sub[::2, ::2]
    object_look = float(np.median(smooth[::2, ::2][sparse] if sparse.any() else smooth[sub]))
    if abs(object_look - clicked) < opts.min_contrast:
        return logits
    cut = 0.5 * (object_look + clicked)
    like = sub & ((smooth < cut) if clicked < object_look else (smooth > cut))
    near = rasterize_point(last.point, mask.shape, opts.reach)[rows, cols]
    drop = pieces_touching(like, like & near)
    if not drop.any() or np.count_nonzero(drop) > opts.max_share * np.count_nonzero(sub):
        return logits
    if opts.min_depth > 0 and not (drop & ~within_distance(~sub, opts.min_depth)).any():
        return logits
    # the user's own positive clicks and strokes stay (a box or lasso drawn around says less)
    drawn = [p for p in prompts if p.kind in ("point", "scribble")]
    positive = prompt_anchors(drawn, mask.shape)[rows, cols]
    if (drop & positive).any():
        return logits
    out = np.array(logits, dtype=np.float32, copy=True)
    view = out[rows, cols]
    view[drop] = np.minimum(view[drop], -opts.boost)
    return out


def give_back_object_look(logits: np.ndarray, before: np.ndarray, click: PointPrompt, image: np.ndarray,
                          min_contrast: float, keep: float, boost: float, sigma: float = 1.0) -> np.ndarray:
    """``logits`` (the network's answer to the negative ``click``; ``before``: the previous mask) with
    the pixels it took out that look like the mask it kept raised to at least ``boost``: those on the
    kept mask's side of the brightness midway between it and the clicked place (a 2 px disc; the
    slice smoothed by ``sigma`` px), when the two differ by at least ``min_contrast``, farther than
    ``keep`` px from the click. Unchanged (the same array) when nothing comes back.

    The network answers a negative click by taking out a patch around it, often with a band of the
    object beside it: a click on a bright kidney's grey fringe took out a third of the kidney (Dice
    0.96 -> 0.75). The click says what is not object by its brightness; the object's own brightness
    says what the band was."""
    after = np.asarray(logits) > 0
    removed = before & ~after
    kept = before & after
    at = rasterize_point(click.point, before.shape, 2.0)
    if not removed.any() or not kept.any() or not at.any():
        return logits
    rows, cols = crop_around(removed | at, int(np.ceil(2 * sigma)) + 1)
    smooth = ndimage.gaussian_filter(np.asarray(image[rows, cols], dtype=np.float32), sigma, truncate=2.0)
    clicked = float(np.median(smooth[at[rows, cols]]))
    # (the kept mask's median from every other row and column of the slice itself: no blur of the
    # whole mask, and a median is little moved by noise)
    sparse, image = kept[::2, ::2], np.asarray(image)
    object_look = float(np.median(image[::2, ::2][sparse] if sparse.any() else image[kept]))
    if abs(object_look - clicked) < min_contrast:
        return logits
    cut = 0.5 * (object_look + clicked)
    like = (smooth > cut) if object_look > clicked else (smooth < cut)
    back = removed[rows, cols] & like & ~within_distance(at[rows, cols], keep)
    if not back.any():
        return logits
    out = np.array(logits, dtype=np.float32, copy=True)
    view = out[rows, cols]
    view[back] = np.maximum(view[back], boost)
    return out
