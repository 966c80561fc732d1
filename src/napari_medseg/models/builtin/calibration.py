"""Calibration of the network's first answer on a slice, by the kind of prompt it was given.

Measured on the development volumes (``napari-medseg bench --sets dev``, not the evaluation sets):
from clicks and scribbles alone the network's mask runs into neighbouring tissue of similar
brightness (its logits there hover just above 0), and from a box alone it stays inside the object's
border. Moving the decision threshold of the FIRST interaction on a slice (no previous mask) fixes
most of both: Dice@1 on dev, clicks 0.803 -> 0.827, scribbles 0.782 -> 0.862, boxes 0.837 -> 0.874.
Later interactions refine a previous mask and propagation carries one, so they are left alone
(an offset there changed nothing or lowered the dev scores).

The offset also depends on the object's size, read from the network's own (uncalibrated) mask: the
leaks a negative offset cuts are those of large organs, while on small objects the network's
logits stay low and the same offset eats into the object (a 140 px blob from a scribble kept 85
px); and inside a small box the network is timid, inside a large one it fills the box. So the
click/scribble offset fades to none under 400 px and the box offset goes from +2.5 under 200 px to 0
from 2,000 px. A lasso's answer is bounded by the lasso itself (``prompt_evidence.py``), so it gets
+2 at any size. Dev criterion 1.784 -> 1.808, MR dev 1.378 -> 1.422 (docs/model-development.md).

The lasso's offset went to +2.5 on 2026-12-06 (thirteenth session): answers to small lassos (a liver
lesion's, too small for the second look) stayed a pixel inside the drawn object (held-out phantoms'
lesions: 45-63 pixels missed, 5-19 too many). Lasso Dice@1 dev / dev-mr / dev-mr-folded 0.9284 /
0.8473 / 0.7187 -> 0.9302 / 0.8480 / 0.7188 (+3: 0.9299 / 0.8476 / 0.7178), lasso corrections (mean
Dice@3, @5) 0.9560 / 0.9503 / 0.8629 -> 0.9572 / 0.9503 / 0.8629; held-out phantoms
(``dev_more_phantoms.py``) lasso Dice@1 0.9239 -> 0.9257, 3D 0.9127 -> 0.9139.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from napari_medseg.core.prompts import Prompt


@dataclass(frozen=True)
class CalibrationOptions:
    clicks: float = -1.5  # logit offset when only clicks were given
    scribbles: float = -1.5  # ... when only clicks and scribbles, at least one scribble, were given
    # where the calibrated answer has none of the positive clicks/scribbles inside but the network's
    # own answer had, the network's own answer (no offset) is used
    keep_prompted: bool = True
    # the click/scribble offset fades out for small objects: none where the network's own mask has at
    # most ``small_area`` pixels, all of it from ``large_area`` pixels on (linear in between)
    small_area: float = 400.0
    large_area: float = 1200.0
    box: float = 0.0  # logit offset when a box was given (and no lasso), for large objects
    box_small: float = 2.5  # ... for small ones; from box_small_area to box_large_area pixels of the
    box_small_area: float = 200.0  # network's own mask it goes linearly from box_small to box
    box_large_area: float = 2000.0
    lasso: float = 2.5  # logit offset when a lasso was given (outside it the evidence bounds the mask)
    enabled: bool = True


def first_answer_offset(prompts: Sequence[Prompt], previous_given: bool,
                        opts: CalibrationOptions = CalibrationOptions(), own_area: float | None = None) -> float:
    """The logit offset for this decode: 0 unless it is the first answer on the slice.
    ``own_area``: the pixels of the network's own (uncalibrated) mask, for the fade of small objects."""
    if not opts.enabled or previous_given or not prompts:
        return 0.0
    kinds = {p.kind for p in prompts}
    if clicks_and_scribbles_only(prompts):
        offset = opts.clicks if kinds == {"point"} else opts.scribbles
        return offset * size_weight(own_area, opts.small_area, opts.large_area)
    if "lasso" in kinds:  # with or without a box: the lasso bounds the answer
        return opts.lasso
    w = size_weight(own_area, opts.box_small_area, opts.box_large_area)  # a box, maybe with clicks
    return opts.box_small + (opts.box - opts.box_small) * w


def clicks_and_scribbles_only(prompts: Sequence[Prompt]) -> bool:
    """Whether a slice's prompts hold no box and no lasso (the answer has no drawn bound)."""
    return {p.kind for p in prompts} <= {"point", "scribble"}


def size_weight(own_area: float | None, small: float, large: float) -> float:
    """0 for an object whose uncalibrated mask has at most ``small`` pixels, 1 from ``large`` pixels
    on, linear in between (1 when the area is not known)."""
    if own_area is None or own_area >= large:
        return 1.0
    if own_area <= small:
        return 0.0
    return (own_area - small) / (large - small)
