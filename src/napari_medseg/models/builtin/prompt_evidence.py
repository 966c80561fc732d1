"""What boxes and lassos say about the mask, applied at full resolution after the network.

The network sees the prompts on its 1/4-resolution grid, where a lasso drawn along an organ's
outline is blurred over four pixels and a box edge can be off by two. Here the prompts are
rasterised at slice resolution and used as the user meant them:

* a positive lasso is evidence that its inside is object and its outside is not: the logits move by
  ``lasso_bias`` towards that (the network still decides where image and outline disagree);
* nothing lies outside the positive boxes and lassos (plus ``margin`` pixels for a hand that
  trembled): logits there are held at or below ``-floor``;
* the inside of a negative lasso or box is background.

Bias, margin and floor were chosen on the development volumes (``napari-medseg bench --sets dev``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from napari_medseg.core.prompts import BoxPrompt, LassoPrompt, Prompt, rasterize_box, rasterize_polygon


@dataclass(frozen=True)
class EvidenceOptions:
    lasso_bias: float = 1.0  # logit added inside the positive lassos, subtracted outside
    margin: int = 3  # pixels around positive boxes / lassos still allowed to be object
    floor: float = 1.0  # outside that, and inside negative regions, logits are at most -floor
    enabled: bool = True


def _region(prompt: BoxPrompt | LassoPrompt, shape: tuple[int, int]) -> np.ndarray:
    if isinstance(prompt, BoxPrompt):
        return rasterize_box(prompt, shape)
    return rasterize_polygon(prompt.vertices, shape)


def _dilate(mask: np.ndarray, margin: int) -> np.ndarray:
    """Binary dilation by ``margin`` pixels, computed on the mask's bounding box only."""
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return mask
    r0, r1 = max(rows[0] - margin, 0), min(rows[-1] + margin + 1, mask.shape[0])
    c0, c1 = max(cols[0] - margin, 0), min(cols[-1] + margin + 1, mask.shape[1])
    out = np.zeros_like(mask)
    out[r0:r1, c0:c1] = ndimage.binary_dilation(mask[r0:r1, c0:c1], iterations=margin)
    return out


def apply_prompt_evidence(logits: np.ndarray, prompts: Sequence[Prompt],
                          opts: EvidenceOptions = EvidenceOptions()) -> np.ndarray:
    """(H, W) float32 logits and the slice's prompts -> logits that respect the boxes and lassos."""
    regions = [p for p in prompts if isinstance(p, (BoxPrompt, LassoPrompt))]
    if not opts.enabled or not regions:
        return logits
    shape = logits.shape
    out = np.array(logits, dtype=np.float32, copy=True)
    lassos = [p for p in regions if isinstance(p, LassoPrompt) and p.positive]
    if lassos and opts.lasso_bias:
        inside = np.zeros(shape, dtype=bool)
        for p in lassos:
            inside |= _region(p, shape)
        out += np.where(inside, opts.lasso_bias, -opts.lasso_bias).astype(np.float32)
    positive = [p for p in regions if p.positive]
    if positive:
        allowed = np.zeros(shape, dtype=bool)
        for p in positive:
            allowed |= _region(p, shape)
        if opts.margin > 0:
            allowed = _dilate(allowed, int(opts.margin))
        np.minimum(out, -opts.floor, out=out, where=~allowed)
    for p in regions:
        if not p.positive:
            np.minimum(out, -opts.floor, out=out, where=_region(p, shape))
    return out
