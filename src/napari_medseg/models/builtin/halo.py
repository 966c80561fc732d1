"""A first click's answer without the halo of surrounding tissue the network was unsure of.

A small low-contrast lesion (a hypodense liver lesion: 30 HU darker than the liver, with the
liver's own texture) gets from the network a confident core over the lesion (logits near 4) and a
wide, weak halo (logits near 1) over the liver around it, and the steps after the network keep the
halo: ``benchmarks/dev_more_phantoms.py`` gave the lesion clicks of seeds 9 to 16 first-answer
Dice 0.36 to 0.82, where the confident core alone scored 0.77 to 0.91. The halo is dropped when the
image says it is the surroundings: its median intensity lies at least ``separation`` core standard
deviations from the core's, on the same side as the tissue just outside the answer, and about as
far (within ``outside_match`` of the step). What is kept is the answer's part on the core's side of
the halfway intensity that touches the core, holes filled. A kidney's medulla inside its brighter
cortex is not a halo: the fat outside the cortex is far darker than the cortex (rim.py joins it).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from napari_medseg.core.appearance import crop_around
from napari_medseg.core.components import fill_holes, pieces_touching, prompt_anchors
from napari_medseg.core.morphology import within_distance
from napari_medseg.core.prompts import Prompt
from napari_medseg.models.builtin.scale import clicks_only

MIN_CORE = 20  # px


@dataclass(frozen=True)
class HaloOptions:
    enabled: bool = True
    core: float = 2.0  # the network's logit above which an answer's pixel is its confident core
    max_core_share: float = 0.8  # a core holding more of the answer leaves no halo worth a look
    separation: float = 1.0  # core standard deviations between the core's and the halo's median intensity
    # the tissue just outside the answer lies on the halo's side of the core, from this share of the
    # step short of the halo to ``outside_far`` of it beyond (the halo holds the lesion's blurred edge)
    outside_match: float = 0.5
    outside_far: float = 2.0
    ring: float = 3.0  # px: the outside is the median this far outside the answer
    sigma: float = 1.0  # px: smoothing of the slice before the intensity tests
    scribbles: bool = False  # a first answer from scribbles too (not only clicks)
    relative: bool = False  # also on relative intensities (MR)


def trim_halo(out: np.ndarray, network: np.ndarray, image: np.ndarray, prompts: Sequence[Prompt],
              previous_given: bool, relative: bool, opts: HaloOptions = HaloOptions()) -> np.ndarray:
    """``out`` (the answer's logits after the steps) without the halo around ``network``'s confident
    core (a copy), or ``out`` itself."""
    if not opts.enabled or previous_given or (relative and not opts.relative) or not prompts:
        return out
    if not (clicks_only(prompts) or (opts.scribbles and all(p.kind in ("point", "scribble") for p in prompts))):
        return out
    answer = out > 0
    area = int(np.count_nonzero(answer))
    if area == 0:
        return out
    rows, cols = crop_around(answer, int(np.ceil(opts.ring + 4 * opts.sigma)) + 1)
    inside = answer[rows, cols]
    anchors = prompt_anchors(prompts, out.shape)[rows, cols]
    core = pieces_touching(inside & (network[rows, cols] > opts.core), anchors)
    n_core = int(np.count_nonzero(core))
    if n_core < MIN_CORE or n_core > opts.max_core_share * area:
        return out
    smooth = ndimage.gaussian_filter(np.asarray(image[rows, cols], dtype=np.float32), opts.sigma)
    halo = inside & ~core
    outside = within_distance(inside, opts.ring) & ~inside
    if not outside.any():
        return out
    m_core, m_halo, m_out = (float(np.median(smooth[m])) for m in (core, halo, outside))
    step = m_halo - m_core
    if abs(step) < opts.separation * (float(smooth[core].std()) + 1e-4):
        return out
    beyond = (m_out - m_core) / step  # 1: the outside looks like the halo
    if not 1.0 - opts.outside_match <= beyond <= 1.0 + opts.outside_far:
        return out
    near_core = np.sign(step) * (smooth - (m_core + 0.5 * step)) < 0
    keep = fill_holes(pieces_touching(inside & near_core, core)) & inside
    drop = inside & ~keep
    if not drop.any():
        return out
    trimmed = np.array(out, dtype=np.float32, copy=True)
    region = trimmed[rows, cols]
    region[drop] = np.minimum(region[drop], -0.5)
    return trimmed
