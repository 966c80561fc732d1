"""A first answer keeps to the part the prompts are on, not a neighbour joined through a narrow neck.

Organs of the same brightness touch: a scribble along a held-out phantom's right kidney had the
network take in a neighbouring organ that meets the kidney's tip through a neck a few pixels wide
(Dice 0.90), and propagation then walked on through that neighbour for twenty slices past the kidney.
Connected pieces (``core.components.keep_prompted``) cannot tell them apart: they are one piece.

Here the answer to clicks and scribbles alone is eroded by ``radius`` px (what lies farther than that
from the background): parts joined through a neck narrower than about twice that come apart. The
eroded parts a positive prompt lies on are the object; every other eroded part with its surroundings
(the answer's pixels beyond ``radius`` + 1 px of the object's eroded parts that connect to it) goes,
when it holds at least ``min_share`` of the answer and is itself wide (a pixel ``min_depth`` px from
the background: a narrowing along a vessel is no neck between organs; without it a dev branching
vessel's click fell 0.900 -> 0.653). Thin parts that vanish in the erosion (a vessel, a rim, a
process of a vertebra) are not judged and stay, as does everything when the prompts lie on no eroded
part. CT only: on MR a tissue's parts meet through necks (grey matter's ribbon and its nuclei: a
held-out folded brain's grey-matter click 0.447 -> 0.324 at 2 px).

Chosen on the held-out development phantoms (``benchmarks/dev_more_phantoms.py``, seeds 9-16 and
synthetic 90-97, 352 cases; 2026-12-06, thirteenth session), the ``dev`` set being unchanged at every
radius (criterion 1.8365): mean Dice@1 / 3D Dice 0.9080 / 0.8952 without, 0.9081 / 0.8955 at 2 px,
0.9083 / 0.8958 at 3, **0.9085 / 0.8961 at 4** (3D >= 0.90 in 232 -> 235 of 352; three right kidneys
mended, e.g. a scribble 0.859 -> 0.919, 3D 0.838 -> 0.953 with 2 slices labelled past the kidney
instead of 23, and none worse), 0.9092 / 0.8969 at 5 (a liver's click 0.872 -> 0.836), 0.9090 /
0.8963 at 6. About 0.2 ms per first click at 512 px.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from napari_medseg.core.appearance import crop_around
from napari_medseg.core.components import prompt_anchors
from napari_medseg.core.morphology import within_distance
from napari_medseg.core.prompts import Prompt
from napari_medseg.models.builtin.calibration import clicks_and_scribbles_only

_EIGHT = np.ones((3, 3), dtype=bool)


@dataclass(frozen=True)
class NeckOptions:
    radius: float = 4.0  # px: the erosion that splits parts joined through narrower necks (0: off)
    min_share: float = 0.05  # a part holding less of the answer than this stays...
    min_depth: float = 6.0  # ...and so does one whose pixels all lie within this (px) of the background
    boost: float = 0.5  # |logit| a cut pixel gets (at least)
    relative: bool = False  # on relative intensities (MR) too


def cut_at_necks(logits: np.ndarray, prompts: Sequence[Prompt], previous_given: bool, relative: bool,
                 opts: NeckOptions = NeckOptions()) -> np.ndarray:
    """``logits`` with the parts joined through narrow necks that no prompt is on lowered to
    ``-boost`` (a copy), or ``logits`` itself: first answers to clicks and scribbles only, on
    absolute intensities (CT) unless ``opts.relative``."""
    if (opts.radius <= 0 or previous_given or (relative and not opts.relative) or not prompts
            or not clicks_and_scribbles_only(prompts)):
        return logits
    mask = np.asarray(logits) > 0
    rows, cols = crop_around(mask, int(np.ceil(opts.radius)) + 2)
    sub = mask[rows, cols]
    if not sub.any():
        return logits
    core = ~within_distance(~sub, opts.radius)
    labels, count = ndimage.label(core, structure=_EIGHT)
    if count < 2:
        return logits
    anchors = prompt_anchors(prompts, mask.shape)[rows, cols]
    on = np.zeros(count + 1, dtype=bool)
    on[labels[anchors & core]] = True
    on[0] = False
    if not on.any() or on[1:].all():
        return logits
    rest = sub & ~within_distance(np.isin(labels, np.flatnonzero(on)), opts.radius + 1.0)
    parts, n = ndimage.label(rest, structure=_EIGHT)
    wide = np.zeros(n + 1, dtype=bool)
    wide[parts[core & ~np.isin(labels, np.flatnonzero(on)) & rest]] = True
    wide[0] = False
    sizes = np.bincount(parts.ravel(), minlength=n + 1)
    wide &= sizes >= opts.min_share * np.count_nonzero(sub)
    if wide.any() and opts.min_depth > 0:  # a narrowing along a vessel is no neck between organs
        deep = ndimage.distance_transform_edt(np.pad(sub, 1))[1:-1, 1:-1] >= opts.min_depth
        reach = np.zeros(n + 1, dtype=bool)
        reach[parts[deep & rest]] = True
        wide &= reach
    if not wide.any():
        return logits
    drop = wide[parts]
    out = np.array(logits, dtype=np.float32, copy=True)
    view = out[rows, cols]
    view[drop] = np.minimum(view[drop], -opts.boost)
    return out
