"""The user's own pixels in a correction: where the user drew or clicked, the mask agrees.

The network sees the prompts on its 1/4-resolution grid and can leave a one-pixel sliver that a
stroke or click was put on outside its answer, interaction after interaction. These steps run last
in ``correction.bound_correction``, over what the network and the other rules decided: the line of
each stroke, the medial axis of a thin correction lasso and (optionally) the pixel under each click
take the prompt's sign, and a click's pixel left on the other side is joined to its side.
Measurements: ``correction.py``'s module docstring and docs/model-development.md.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from scipy import ndimage
from skimage.draw import line

from napari_medseg.core.appearance import crop_around
from napari_medseg.core.prompts import (
    PointPrompt,
    Prompt,
    polygon_area,
    rasterize,
    rasterize_point,
    rasterize_polyline,
)

THIN_LASSO = 8.0  # px: a correction lasso no wider than this on average is honoured (its axis)


def honour_prompts(logits: np.ndarray, prompts: Sequence[Prompt], boost: float, clicks: bool = True,
                   lassos: bool = False) -> np.ndarray:
    """``logits`` with the line of each stroke (one pixel wide), the pixel under each click
    (``clicks``) and the axis of each thin positive lasso after the slice's first prompt
    (``lassos``) at least ``boost`` for positive prompts and at most ``-boost`` for negative ones,
    later prompts over earlier ones: a copy, or ``logits`` itself when every such pixel agrees."""
    shape = logits.shape
    chosen = [p for i, p in enumerate(prompts) if p.kind == "scribble" or (clicks and p.kind == "point")
              or (lassos and p.kind == "lasso" and p.positive and i > 0 and _is_thin(p))]
    if not chosen:
        return logits
    sign = np.zeros(shape, dtype=np.int8)
    for p in chosen:
        if isinstance(p, PointPrompt):
            at = rasterize_point(p.point, shape, 0.0)
        elif p.kind == "scribble":
            at = rasterize_polyline(p.points, shape, 1.0)
        else:
            at = _lasso_axis(p, shape)
        sign[at] = 1 if p.positive else -1
    wrong = ((sign > 0) & (logits <= 0)) | ((sign < 0) & (logits > 0))
    if not wrong.any():
        return logits
    out = np.array(logits, dtype=np.float32, copy=True)
    out[wrong] = boost * sign[wrong]
    return out


def bridge_clicks(logits: np.ndarray, prompts: Sequence[Prompt], boost: float, adjacent: float) -> np.ndarray:
    """``logits`` with the pixel under each click that the answer puts on the other side joined to
    the click's side by the straight line to the nearest pixel there (object for a positive click,
    background for a negative one), when that lies within ``adjacent`` px (a farther positive click
    marks a new part, a farther negative one a hole: the network's answer stands). A later click of
    the other sign on the same pixel wins."""
    out = logits
    h, w = logits.shape
    r_max = int(np.ceil(adjacent)) + 1
    for i, p in enumerate(prompts):
        if not isinstance(p, PointPrompt):
            continue
        r, c = (int(round(v)) for v in p.point)
        if not (0 <= r < h and 0 <= c < w) or (out[r, c] > 0) == p.positive:
            continue
        if any(isinstance(q, PointPrompt) and q.positive != p.positive and abs(q.point[0] - p.point[0]) < 1
               and abs(q.point[1] - p.point[1]) < 1 for q in prompts[i + 1 :]):
            continue  # a later click of the other sign on the same pixel
        r0, r1, c0, c1 = max(r - r_max, 0), min(r + r_max + 1, h), max(c - r_max, 0), min(c + r_max + 1, w)
        window = out[r0:r1, c0:c1] > 0
        inside = np.argwhere(window if p.positive else ~window)
        if not len(inside):
            continue
        d = np.hypot(inside[:, 0] + r0 - r, inside[:, 1] + c0 - c)
        k = int(np.argmin(d))
        if d[k] > adjacent:
            continue
        rr, cc = line(r, c, int(inside[k, 0]) + r0, int(inside[k, 1]) + c0)
        if out is logits:
            out = np.array(logits, dtype=np.float32, copy=True)
        if p.positive:
            out[rr, cc] = np.maximum(out[rr, cc], boost)
        else:
            out[rr, cc] = np.minimum(out[rr, cc], -boost)
    return out


def _is_thin(lasso: Prompt) -> bool:
    """Whether a lasso is drawn around a sliver: its mean width (2 x area / perimeter) is at most
    ``THIN_LASSO`` px. A wider one is a region the network and the lasso evidence take in anyway."""
    v = np.asarray(lasso.vertices, dtype=float)
    perimeter = float(np.hypot(*np.diff(np.vstack([v, v[:1]]), axis=0).T).sum())
    return perimeter > 0 and 2.0 * abs(polygon_area(v)) / perimeter <= THIN_LASSO


def _lasso_axis(lasso: Prompt, shape: tuple[int, int]) -> np.ndarray:
    """The medial axis (skeleton) of a lasso's inside: the line a lasso around a sliver is drawn about."""
    from skimage.morphology import skeletonize

    inside = rasterize(lasso, shape)
    rows, cols = crop_around(inside, 1)
    sub = inside[rows, cols]
    depth = ndimage.distance_transform_edt(sub)
    out = np.zeros(shape, dtype=bool)
    # the spurs a polygon's corners grow run out towards the outline: only the axis's deeper half
    out[rows, cols] = skeletonize(sub) & (depth >= 0.5 * depth.max())
    return out
