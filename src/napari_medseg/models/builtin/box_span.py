"""A small box's first answer that leaves a side of the box empty is answered again, less timidly.

A box is drawn around the whole object, so the object reaches each of its sides (within the few
pixels a hand misses by). Inside a small box the network is timid (``calibration.py`` raises its
logits by up to 2.5 there), and on a low-contrast object it still stops short: the held-out
phantoms' liver lesions (30 HU darker than the liver under 17 HU of noise) were answered with
64-117 of their 250 pixels missing and none extra, the missing part on one side of the box. When
the answer stays ``min_px`` pixels and ``gap`` of the box's side away from one of its sides, the
steps after the network run again on logits raised by ``extra``. The new answer is kept only when
what it added looks like the object: its mean intensity is nearer the first answer's than the rest
of the box's (a branching vessel's box filled with the background between its branches otherwise:
held-out box Dice 0.795 -> 0.616).

Chosen on the development volumes (2026-12-06, fourteenth session; ``docs/model-development.md``): held-out
phantoms' boxes (``dev_more_phantoms.py``) Dice@1 0.9005 -> 0.9073, 3D 0.9052 -> 0.9078 (lesions
+0.058, aortas +0.016, none worse); ``dev`` boxes Dice@1 0.917 -> 0.922, corrections unchanged.

A gap of 2 px (``min_px``, was 3; 2026-12-06, eighteenth session): the held-out lesions' timid
answers stayed 2 px inside every side of the box (a lesion of 250-300 px answered with 170-235),
just short of the old threshold. Held-out phantoms and synthetic volumes (seeds 9-16, 90-97; 88 box
cases) Dice@1 0.9073 -> 0.9115, 3D 0.9078 -> 0.9081: three cases moved, none down (an aorta 0.875 ->
0.942, a lesion 0.820 -> 0.894, a winding tube 0.713 -> 0.943); ``dev`` boxes Dice@1 0.922 -> 0.925,
3D 0.915 -> 0.916 (criterion 1.8367 -> 1.8403; one case moved, a lesion 0.819 -> 0.879, whose later
corrections then ran 0.02-0.03 lower), ``dev-mr`` and ``dev-mr-folded`` unchanged. With a gap share of
0.05 as well, two more cases rose and a held-out spleen fell (0.815 -> 0.765, 3D 0.664 -> 0.574): not
taken.

A second answer that fills the box leaves nothing of it to stand for the background; the pixels just
outside the box do (``OUTSIDE_RING``; 2026-12-07): a bright organ in soft tissue boxed 3-6 px loosely
was answered as the tissue round it (Dice 0.33-0.60; now 0.96-1.00). No development, held-out or
evaluation case moved.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from napari_medseg.core.prompts import BoxPrompt, Prompt

OUTSIDE_RING = 3  # px: when the second answer fills the box, the pixels this close outside it stand for its background


@dataclass(frozen=True)
class BoxSpanOptions:
    gap: float = 0.1  # a side counts as left empty from this share of the box's side...
    min_px: float = 2.0  # ...and this many pixels (a hand misses a side by a few; 3 before 2026-12-06, 18th session)
    extra: float = 3.0  # logits added for the second answer
    max_area: float = 2000.0  # pixels of the network's own first answer: larger boxes are not timid
    like: bool = True  # keep the second answer only where what it added looks like the object
    enabled: bool = True


def box_alone(prompts: list[Prompt] | tuple[Prompt, ...]) -> BoxPrompt | None:
    """The box, when it is the only prompt."""
    if len(prompts) == 1 and isinstance(prompts[0], BoxPrompt):
        return prompts[0]
    return None


def left_side_empty(mask: np.ndarray, box: BoxPrompt, opts: BoxSpanOptions) -> bool:
    """Whether ``mask`` stays away from one of the box's sides (``gap`` of its side and ``min_px``)."""
    rows = np.flatnonzero(mask.any(axis=1))
    cols = np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return False
    r0, c0, r1, c1 = box.bounds
    height, width = r1 - r0 + 1, c1 - c0 + 1
    gaps = ((rows[0] - r0, height), (r1 - rows[-1], height), (cols[0] - c0, width), (c1 - cols[-1], width))
    return any(g >= opts.gap * side and g >= opts.min_px for g, side in gaps)


def span_box(logits: np.ndarray, box: BoxPrompt, image: np.ndarray, opts: BoxSpanOptions,
             again: Callable[[float], np.ndarray]) -> np.ndarray:
    """``logits`` (the first answer), or ``again(opts.extra)`` when the answer left a side of the box
    empty and (with ``like``) what the second answer added looks like the object."""
    mask = logits > 0
    if not opts.enabled or not left_side_empty(mask, box, opts):
        return logits
    second = again(opts.extra)
    if not opts.like:
        return second
    taken = second > 0
    grown = taken & ~mask
    inside = _box_pixels(box, mask.shape)
    rest = inside & ~taken
    if not grown.any():
        return second
    if not rest.any():  # it took the whole box: what lies just outside it is what the box left out
        rest = _box_pixels(box, mask.shape, OUTSIDE_RING) & ~inside
        if not rest.any():  # the box spans the slice
            return second
    img = np.asarray(image, dtype=np.float32)
    added, obj, background = float(img[grown].mean()), float(img[mask].mean()), float(img[rest].mean())
    return second if abs(added - obj) < abs(added - background) else logits


def _box_pixels(box: BoxPrompt, shape: tuple[int, int], pad: int = 0) -> np.ndarray:
    """The pixels of ``box`` (its bounds truncated to whole pixels, as ``span_box`` has always read
    them), grown by ``pad`` px on every side, within the slice."""
    r0, c0, r1, c1 = box.bounds
    out = np.zeros(shape, dtype=bool)
    out[max(int(r0) - pad, 0) : int(r1) + 1 + pad, max(int(c0) - pad, 0) : int(c1) + 1 + pad] = True
    return out
