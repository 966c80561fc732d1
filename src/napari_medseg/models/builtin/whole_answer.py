"""A positive click or stroke beyond the mask may mark a part of a whole: join the fresh answer.

A correction is decoded from the previous logits, and the network then keeps to the part it has: a
first click deep in a dev MR brain got the white matter, and a second, on the cortex beyond it,
redrew the white matter plus a few pixels (brain Dice@2 0.65), where the same two clicks decoded
afresh give the brain (0.99). That fresh answer (decoded only when it may be used) joins the
correction's when it holds the new prompt, most of the previous mask and no negative prompt
(``CorrectionOptions.whole_*``; see "A positive click beyond a part" in docs/model-development.md).

On CT (absolute intensities) the fresh answer joins only when it is at most ``whole_max_ratio`` (4)
times the previous mask (2026-12-07, thirtieth session): a development lesion on a slice scaled 3x,
its first answer recut to the lesion (``faint_border.py``), then a click just beside it, and the fresh
answer to both clicks was the liver around it, 18 times the lesion (Dice 0.857 -> 0.120; 0.468
without the join, 0.800 after the next click). The wholes this step is for are a few times their
part on CT (a kidney round its medulla, a liver round the half a click got: 1.8 times at 512 px); on
MR a ventricle's brain is twenty times it, so MR has no bound. The development sets' crops and the
phantoms 7-16 on whole slices scaled 0.5-3x moved nowhere else.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from napari_medseg.core.appearance import crop_around
from napari_medseg.core.components import pieces_touching
from napari_medseg.core.morphology import distance_to
from napari_medseg.core.prompts import PointPrompt, Prompt
from napari_medseg.models.builtin.correction import CorrectionOptions, prompt_marks


def wants_whole(before: np.ndarray, marks: np.ndarray, last: Prompt, opts: CorrectionOptions) -> bool:
    """Whether the newest prompt ``last`` (its pixels ``marks``) may mark a part beyond a whole that
    the previous mask ``before`` is only a part of: a positive click farther than ``whole_distance``
    px outside it, or a positive scribble wholly outside it."""
    if not before.any() or not marks.any() or (before & marks).any():
        return False
    if not isinstance(last, PointPrompt):
        return True
    rows, cols = crop_around(marks, int(np.ceil(opts.whole_distance)) + 2)
    sub = before[rows, cols]
    if not sub.any():
        return True  # nothing of the mask within the crop: farther than the limit
    return bool(distance_to(sub, np.argwhere(marks[rows, cols])).min() > opts.whole_distance)


def whole_from_fresh(logits: np.ndarray, prev_logits: np.ndarray, prompts: Sequence[Prompt],
                     fresh: Callable[[], np.ndarray], opts: CorrectionOptions = CorrectionOptions(),
                     relative: bool = False) -> np.ndarray:
    """The correction's answer ``logits`` joined (pixel-wise maximum) with ``fresh()``, the answer to
    all ``prompts`` without the previous logits, when the newest prompt lies beyond the mask (see
    ``wants_whole``), the correction added less than
    ``whole_gain`` of the previous mask's area at the newest prompt (the network kept to its part) or
    the fresh answer is at least ``whole_bigger`` times the correction's (the network took a new part,
    and the fresh answer a whole it lies in: a ventricle clicked, then the white matter, is the
    brain), and the fresh answer holds that prompt, at least ``whole_cover`` of the previous mask and
    no negative prompt; else ``logits`` itself. Only clicks and scribbles on the slice qualify (a box
    or lasso gave the object's extent). ``fresh`` is called only when its answer may be used."""
    if not opts.enabled or opts.whole_distance <= 0 or not prompts:
        return logits
    last = prompts[-1]
    if not last.positive or any(p.kind not in ("point", "scribble") for p in prompts):
        return logits
    before = np.asarray(prev_logits) > 0
    marks = prompt_marks(last, before.shape, 1.0)
    if not wants_whole(before, marks, last, opts):
        return logits
    after = np.asarray(logits) > 0
    grown = after & ~before
    took_part = grown.any() and np.count_nonzero(pieces_touching(grown, marks)) >= opts.whole_gain * np.count_nonzero(before)
    if took_part and opts.whole_bigger <= 0:
        return logits  # the network took a new part at the prompt: its answer stands, one decode
    whole = np.asarray(fresh(), dtype=np.float32)
    inside = whole > 0
    if took_part and np.count_nonzero(inside) < opts.whole_bigger * np.count_nonzero(after):
        return logits
    if not (inside & marks).any():
        return logits
    if np.count_nonzero(inside & before) < opts.whole_cover * np.count_nonzero(before):
        return logits
    if opts.whole_max_ratio > 0 and not relative and np.count_nonzero(inside) > opts.whole_max_ratio * np.count_nonzero(before):
        return logits
    if any((inside & prompt_marks(p, inside.shape, 1.0)).any() for p in prompts if not p.positive):
        return logits
    return np.maximum(np.asarray(logits, dtype=np.float32), whole)
