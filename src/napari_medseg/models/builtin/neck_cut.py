"""A first answer keeps to the part the prompts are on, not a neighbour joined through a narrow neck.

Organs of the same brightness touch: a scribble along a held-out phantom's right kidney had the
network take in a neighbouring organ that meets the kidney's tip through a neck a few pixels wide
(Dice 0.90), and propagation then walked on through that neighbour for twenty slices past the kidney.
Connected pieces (``core.components.keep_prompted``) cannot tell them apart: they are one piece.

Here the answer to clicks and scribbles alone loses the wide parts joined to it through a neck
narrower than about twice ``radius`` that no positive prompt is on (``core/necks.py``; without its
``min_depth`` a dev branching vessel's click fell 0.900 -> 0.653). Everything stays when the prompts
lie on no part that survives the erosion. CT only: on MR a tissue's parts meet through necks (grey
matter's ribbon and its nuclei: a held-out folded brain's grey-matter click 0.447 -> 0.324 at 2 px).

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

from napari_medseg.core.components import prompt_anchors
from napari_medseg.core.necks import neighbours_past_necks
from napari_medseg.core.prompts import Prompt
from napari_medseg.models.builtin.calibration import clicks_and_scribbles_only


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
    drop = neighbours_past_necks(mask, prompt_anchors(prompts, mask.shape), opts.radius, opts.min_share,
                                 opts.min_depth)
    if drop is None:
        return logits
    out = np.array(logits, dtype=np.float32, copy=True)
    out[drop] = np.minimum(out[drop], -opts.boost)
    return out
