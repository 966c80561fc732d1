"""A second look at a slice's first answer: the network run again with its own mask as the previous one.

Propagation showed the way (development volumes, 2026-12-06): a walk's slices, each decoded from the
neighbour's mask as previous logits, came out better than the key slice answered from the box the
user drew (a dev kidney's box Dice 0.89 on its own slice, 0.97 on the slices around it): the network
corrects a given mask better than it draws one from a box alone. So a first answer from a box or a
lasso is fed back once as the previous mask, with the same prompts and the answer's own box enlarged
by 10 % (as a walk's step is prompted): one more decode.

Chosen on the development volumes (``napari-medseg bench --sets dev,dev-mr``): boxes Dice@1 0.902 ->
0.917 (dev) and 0.835 -> 0.900 (dev-mr), lassos 0.922 -> 0.928 and 0.840 -> 0.848; criterion (mean
Dice@1 + 3D Dice) 1.8315 -> 1.8365 and 1.6246 -> 1.6471, corrections (mean Dice@3, @5 over five
interactions) 0.9562 -> 0.9563 and 0.9592 -> 0.9609. On answers under 500 px it is skipped: there
the corrections that followed lost more than the first answer gained (every box looked at: Dice@1
0.924, but box corrections Dice@5 0.961 -> 0.949 on dev).

Two decodes cost twice one (a 230 x 240 box on a 512 x 512 slice: 15-16 ms), so (2026-12-06, tenth
session) a lasso's own drawn region stands for its first answer (``lasso_as_answer``: one decode;
dev / dev-mr lasso Dice@1 0.928 / 0.848 -> 0.928 / 0.847, the dev slices scaled 2-3x in plane 0.953-
0.964 -> 0.955-0.966), and on a slice large enough for the coarse grid (scale.py) a box's first
decode runs there (``coarse_first``; dev boxes scaled 2-3x: 0.924-0.926 -> 0.926-0.929, dev-mr
scaled 2.5-4.5x: 0.817-0.837 -> 0.827-0.845). A box's outline or inscribed ellipse instead of the
first decode was worse (dev / dev-mr box Dice@1 0.917 / 0.900 -> 0.894 / 0.830 and 0.911 / 0.857).

A correction lasso says the same as a first one: what it draws is object (or, negative, is not). Given
only as a prompt map, the network took in part of it: a second lasso around a dev folded brain's
other ventricle added a third of it (Dice 0.64 -> 0.79), and the edge refinement took back what the
network had added weakly. So the newest lasso's region enters the previous logits the network
corrects (``correction_lasso``: at least +4 inside a positive one, at most -4 inside a negative one;
2026-12-06, twentieth session). Lasso corrections, Dice@3 / @5, dev / dev-mr / dev-mr-folded: 0.9540 /
0.9603, 0.9483 / 0.9523, 0.8510 / 0.8749 -> 0.9558 / 0.9612, 0.9474 / 0.9539, 0.8564 / 0.8801 (2: 0.9553
/ 0.9608, 0.9471 / 0.9538, 0.8574 / 0.8797; 8: 0.9555 / 0.9606, 0.9481 / 0.9539, 0.8559 / 0.8805); the
held-out brains (``dev_more_brains.py``, 16 lasso sequences) 0.8825 / 0.8950 -> 0.8875 / 0.9016, the
held-out phantoms (``dev_more_phantoms.py --interactions 5``, 88) 0.9537 / 0.9612 -> 0.9555 / 0.9614.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from napari_medseg.core.prompts import BoxPrompt, LassoPrompt, Prompt, rasterize_polygon
from napari_medseg.core.slice_prompts import bounding_box, enlarge_box, mask_logits


@dataclass(frozen=True)
class SecondLookOptions:
    """Which first answers get a second look (by the kinds of all their prompts) and how it is prompted."""

    box: bool = True
    lasso: bool = True
    point: bool = False
    scribble: bool = False
    mask_scale: float = 8.0  # confidence of the mask given as previous logits (propagation's too)
    # also give the answer's bounding box, enlarged by this fraction per side (0: not given)
    answer_box: float = 0.1
    only_answer_box: bool = False  # give the enlarged answer box instead of the user's prompts
    min_area: int = 500  # no second look at an answer of fewer pixels
    # on a large slice (scale.py), the first of the two decodes runs on the coarse grid
    coarse_first: bool = True
    # lassos alone: their drawn region is the answer looked at, not a first decode of them
    lasso_as_answer: bool = True
    # a correction lasso's drawn region enters the previous logits the network corrects (0: off;
    # else the logit given inside a positive one, its negative inside a negative one)
    correction_lasso: float = 4.0


def drawn_answer(prompts: Sequence[Prompt], shape: tuple[int, int], opts: SecondLookOptions) -> np.ndarray | None:
    """Logits (+/-``mask_scale``) of the region that lassos alone draw (the positive ones less the
    negative ones), standing for the first answer that the second look corrects; None for other
    prompts, with the option off, or when the region is under ``min_area``."""
    if not opts.lasso_as_answer or not prompts or not all(isinstance(p, LassoPrompt) for p in prompts):
        return None
    region = np.zeros(shape, dtype=bool)
    for p in prompts:
        inside = rasterize_polygon(p.vertices, shape)
        region = region | inside if p.positive else region & ~inside
    if not region.any() or np.count_nonzero(region) < opts.min_area:
        return None
    return np.where(region, opts.mask_scale, -opts.mask_scale).astype(np.float32)


def gets_second_look(prompts: Sequence[Prompt], opts: SecondLookOptions) -> bool:
    """Whether a first answer from ``prompts`` is looked at again (when it is large enough)."""
    return bool(prompts) and all(getattr(opts, p.kind, False) for p in prompts)


def second_look_input(prompts: Sequence[Prompt], answer: np.ndarray, opts: SecondLookOptions
                      ) -> tuple[list[Prompt], np.ndarray] | None:
    """The prompts and previous logits of the second look at ``answer`` (logits of a first answer),
    or None when these prompts get none or the answer is empty."""
    if not gets_second_look(prompts, opts):
        return None
    mask = np.asarray(answer) > 0
    box = bounding_box(mask)
    if box is None or np.count_nonzero(mask) < opts.min_area:
        return None
    given = [] if opts.only_answer_box else list(prompts)
    if opts.answer_box > 0 or opts.only_answer_box:
        r0, r1, c0, c1 = enlarge_box(box, mask.shape, opts.answer_box)
        given.append(BoxPrompt(prompts[0].slice, (float(r0), float(c0)), (float(r1 - 1), float(c1 - 1))))
    return given, mask_logits(mask, box, opts.mask_scale)


def drawn_into_previous(prompts: Sequence[Prompt], previous: np.ndarray, opts: SecondLookOptions) -> np.ndarray:
    """The previous logits with the newest prompt's drawn region in them when it is a lasso: inside a
    positive one at least ``correction_lasso``, inside a negative one at most its negative."""
    if opts.correction_lasso <= 0 or not prompts or not isinstance(prompts[-1], LassoPrompt):
        return previous
    last = prompts[-1]
    inside = rasterize_polygon(last.vertices, previous.shape)
    out = np.array(previous, dtype=np.float32, copy=True)
    if last.positive:
        np.maximum(out, opts.correction_lasso, out=out, where=inside)
    else:
        np.minimum(out, -opts.correction_lasso, out=out, where=inside)
    return out
