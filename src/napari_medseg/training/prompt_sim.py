"""Simulated users: prompts of every type drawn from a target mask, and corrections from errors.

Clicks go to interior points (weighted towards the distance-transform maxima, as people click in the
middle) and always mean "the whole connected structure"; corrections go to the most interior point of
the largest error region (RITM/SAM-style iterative training). Boxes are jittered bounding boxes;
scribbles follow the skeleton or random lines inside, with gaps; lassos are perturbed contours.
Propagation prompts are made the way ``core.propagation`` makes them: the neighbouring slice's mask as
logits plus its enlarged box.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage as ndi
from skimage.measure import find_contours
from skimage.morphology import skeletonize

from napari_medseg.core.appearance import crop_around
from napari_medseg.core.prompts import BoxPrompt, LassoPrompt, PointPrompt, Prompt, ScribblePrompt, SliceRef

REF = SliceRef(2, 0)


def interior_point(rng: np.random.Generator, mask: np.ndarray) -> tuple[float, float]:
    """A point inside ``mask``: mostly towards its middle (weight ~ distance^2), sometimes anywhere."""
    dist = ndi.distance_transform_edt(mask)
    flat = dist.ravel()
    u = rng.random()
    if u < 0.2:
        idx = int(np.argmax(flat))
    else:
        w = flat**2 if u < 0.75 else (flat > 0).astype(float)
        idx = int(rng.choice(flat.size, p=w / w.sum()))
    r, c = divmod(idx, mask.shape[1])
    return float(r), float(c)


def click_prompts(rng: np.random.Generator, target: np.ndarray, labels: np.ndarray | None = None) -> list[Prompt]:
    prompts: list[Prompt] = [PointPrompt(REF, interior_point(rng, target), True)]
    if rng.random() < 0.2:
        for _ in range(int(rng.integers(1, 3))):
            prompts.append(PointPrompt(REF, interior_point(rng, target), True))
    if rng.random() < 0.25:
        ring = ndi.binary_dilation(target, iterations=int(rng.integers(2, 12))) & ~target
        if ring.any():
            prompts.append(PointPrompt(REF, interior_point(rng, ring), False))
    return prompts


def box_prompt(rng: np.random.Generator, target: np.ndarray, margin: float | None = None) -> BoxPrompt:
    """A jittered bounding box, enlarged by ``margin`` of its size per side (default: a random 0-15%,
    as people draw loose boxes; propagation uses 10%), so that "fill the box" is never the answer."""
    if margin is None:
        margin = float(rng.choice([0.0, rng.uniform(0.0, 0.15)]))
    rows, cols = np.nonzero(target)
    r0, r1, c0, c1 = rows.min(), rows.max(), cols.min(), cols.max()
    h, w = r1 - r0 + 1, c1 - c0 + 1
    mr, mc = max(margin * h, 2.0 * (margin > 0)), max(margin * w, 2.0 * (margin > 0))
    jit = rng.normal(0, 0.05, 4) * np.array([h, w, h, w]) + rng.normal(0, 1.0, 4)
    H, W = target.shape
    b = np.array([r0 - mr, c0 - mc, r1 + mr, c1 + mc]) + jit
    b = np.clip(b, 0, [H - 1, W - 1, H - 1, W - 1])
    if b[2] - b[0] < 1:
        b[2] = min(b[0] + 1, H - 1) if b[0] + 1 <= H - 1 else b[2]
        b[0] = b[2] - 1
    if b[3] - b[1] < 1:
        b[3] = min(b[1] + 1, W - 1) if b[1] + 1 <= W - 1 else b[3]
        b[1] = b[3] - 1
    return BoxPrompt(REF, (float(b[0]), float(b[1])), (float(b[2]), float(b[3])))


def _skeleton_walk(rng: np.random.Generator, skel: np.ndarray, length: int) -> np.ndarray:
    pts = np.argwhere(skel)
    start = pts[rng.integers(len(pts))]
    visited = {tuple(start)}
    path = [start]
    cur = start
    h, w = skel.shape
    for _ in range(length):
        nbrs = [
            (cur[0] + dr, cur[1] + dc)
            for dr in (-1, 0, 1)
            for dc in (-1, 0, 1)
            if (dr or dc) and 0 <= cur[0] + dr < h and 0 <= cur[1] + dc < w
        ]
        nbrs = [p for p in nbrs if skel[p] and p not in visited]
        if not nbrs:
            break
        nxt = nbrs[rng.integers(len(nbrs))]
        visited.add(nxt)
        path.append(np.array(nxt))
        cur = path[-1]
    return np.array(path, dtype=float)


def _with_gaps(rng: np.random.Generator, path: np.ndarray, inside: np.ndarray | None = None) -> list[np.ndarray]:
    """Split a path into strokes at random gaps (and where it leaves ``inside``)."""
    keep = rng.random(len(path)) > 0.0
    if len(path) > 12 and rng.random() < 0.5:
        for _ in range(int(rng.integers(1, 3))):
            a = int(rng.integers(0, len(path)))
            keep[a : a + int(rng.integers(2, max(3, len(path) // 4)))] = False
    if inside is not None:
        idx = np.round(path).astype(int)
        keep &= inside[idx[:, 0], idx[:, 1]]
    strokes, cur = [], []
    for p, k in zip(path, keep, strict=True):
        if k:
            cur.append(p)
        elif cur:
            strokes.append(np.array(cur))
            cur = []
    if cur:
        strokes.append(np.array(cur))
    return [s for s in strokes if len(s) >= 1]


def _as_scribbles(strokes: list[np.ndarray], positive: bool, width: float) -> list[Prompt]:
    out: list[Prompt] = []
    for s in strokes:
        pts = s[:: max(1, len(s) // 24)] if len(s) > 2 else s
        if len(pts) >= 1 and not np.array_equal(pts[-1], s[-1]):
            pts = np.vstack([pts, s[-1]])
        out.append(ScribblePrompt(REF, tuple((float(r), float(c)) for r, c in pts), positive, width))
    return out


def scribble_prompts(rng: np.random.Generator, target: np.ndarray, positive: bool = True) -> list[Prompt]:
    """Strokes along the skeleton (centreline) or along random lines inside ``target``."""
    width = float(rng.choice([1.0, 2.0, 3.0, 3.0, 5.0, 7.0]))
    size = int(target.sum())
    if rng.random() < 0.55:
        skel = skeletonize(target)
        if skel.any():
            length = int(rng.integers(8, 40 + int(np.sqrt(size) * 2)))
            strokes = _with_gaps(rng, _skeleton_walk(rng, skel, length))
            if strokes:
                return _as_scribbles(strokes, positive, width)
    a, b = interior_point(rng, target), interior_point(rng, target)
    n = int(max(2, np.hypot(a[0] - b[0], a[1] - b[1])))
    t = np.linspace(0, 1, n)[:, None]
    bend = rng.normal(0, 0.15) * np.hypot(a[0] - b[0], a[1] - b[1])
    normal = np.array([-(b[1] - a[1]), b[0] - a[0]]) / max(np.hypot(a[0] - b[0], a[1] - b[1]), 1e-6)
    path = (1 - t) * np.array(a) + t * np.array(b) + (4 * t * (1 - t)) * bend * normal
    path = np.clip(path, 0, np.array(target.shape) - 1)
    strokes = _with_gaps(rng, path, inside=target)
    if not strokes:
        strokes = [np.array([a])]
    return _as_scribbles(strokes, positive, width)


def lasso_prompts(rng: np.random.Generator, target: np.ndarray) -> list[Prompt]:
    """A perturbed contour drawn a few pixels outside the object (one lasso per piece)."""
    inside = ndi.distance_transform_edt(target)
    outside = ndi.distance_transform_edt(~target)
    sdf = outside - inside
    from napari_medseg.training.synth import smooth_noise

    level = rng.uniform(0.5, 6.0) + smooth_noise(rng, target.shape, rng.uniform(6, 20)) * rng.uniform(0, 2.0)
    field = np.pad(sdf - level, 1, constant_values=1e3)
    contours = [c - 1 for c in find_contours(field, 0.0) if len(c) >= 6]
    out: list[Prompt] = []
    H, W = target.shape
    for c in sorted(contours, key=len, reverse=True)[:3]:
        n = int(np.clip(len(c) // 3, 8, 60))
        v = c[np.linspace(0, len(c) - 1, n).astype(int)] + rng.normal(0, 0.7, (n, 2))
        v = np.clip(v, 0, [H - 1, W - 1])
        area = 0.5 * abs(np.dot(v[:, 1], np.roll(v[:, 0], 1)) - np.dot(v[:, 0], np.roll(v[:, 1], 1)))
        if area >= 4:
            out.append(LassoPrompt(REF, tuple((float(r), float(cc)) for r, cc in v), True))
    if not out:
        out.append(box_prompt(rng, target))
    return out


def correction_click(rng: np.random.Generator, pred: np.ndarray, target: np.ndarray) -> PointPrompt | None:
    """A click at the most interior point of the largest error region: positive if missed, else negative."""
    best = None
    for missed, err in ((True, target & ~pred), (False, pred & ~target)):
        rows, cols = crop_around(err, 0)
        if rows.start == rows.stop:
            continue
        # The distance transform of the error's bounding box (plus a background ring) is exact, and
        # much cheaper than the whole slice when the error is small.
        r0, c0 = rows.start, cols.start
        dist = ndi.distance_transform_edt(np.pad(err[rows, cols], 1))[1:-1, 1:-1]
        peak = float(dist.max())
        if best is None or peak > best[0]:
            best = (peak, missed, dist, r0, c0)
    if best is None:
        return None
    peak, missed, dist, r0, c0 = best
    cand = np.argwhere(dist >= max(peak * 0.7, min(peak, 1.0)))
    r, c = cand[rng.integers(len(cand))]
    return PointPrompt(REF, (float(r + r0), float(c + c0)), missed)


def correction_scribble(rng: np.random.Generator, pred: np.ndarray, target: np.ndarray) -> list[Prompt]:
    """A stroke inside the largest error region (a correction scribble)."""
    for missed, err in sorted(
        ((True, target & ~pred), (False, pred & ~target)), key=lambda t: -int(t[1].sum())
    ):
        lab, n = ndi.label(err)
        if n == 0:
            continue
        biggest = lab == (np.argmax(np.bincount(lab.ravel())[1:]) + 1)
        if biggest.sum() >= 6:
            return scribble_prompts(rng, biggest, positive=missed)
    return []


def prev_logits_from_mask(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """The neighbouring slice's mask as the decoder will see it: confident +-8 logits (as
    ``logits_from_mask``), sometimes softened like a model's own logits, sometimes 1 px off."""
    m = mask
    u = rng.random()
    if u < 0.1:
        m = ndi.binary_dilation(m)
    elif u < 0.2:
        m = ndi.binary_erosion(m)
    if rng.random() < 0.7:
        return np.where(m, 8.0, -8.0).astype(np.float32)
    soft = ndi.gaussian_filter(np.where(m, 1.0, -1.0).astype(np.float32), rng.uniform(0.5, 2.0))
    return (soft * rng.uniform(3.0, 15.0)).astype(np.float32)
