"""The simulated user: the prompts an annotator would give, computed from the reference mask.

The rules follow the interactive-segmentation literature (RITM, SAM, nnInteractive) so that numbers
are comparable and no method is favoured:

* point: first click at the most interior point of the reference (distance-transform maximum); each
  next click at the most interior point of the largest error region, positive if the region was
  missed, negative if it is a false positive.
* box: the reference's bounding box with a few pixels of jitter per edge; corrections are clicks.
* scribble: first a positive stroke along the longest path of the reference's skeleton (a centreline
  inside the object); corrections are strokes along the skeleton of the largest error region.
* lasso: first the reference's outer contour, perturbed by smooth noise; corrections are lassos
  around the largest error region (positive adds, negative removes).

One call gives the prompts of ONE interaction; the evaluation sends them through
``Session.add_prompts`` exactly like the widget does.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from napari_medseg.core.prompts import (
    PROMPT_TYPES,
    BoxPrompt,
    Coord,
    LassoPrompt,
    PointPrompt,
    Prompt,
    ScribblePrompt,
    SliceRef,
)
from napari_medseg.errors import MedsegError

_EIGHT = np.ones((3, 3), dtype=bool)


def interior_point(mask: np.ndarray) -> Coord:
    """The pixel farthest from the mask's boundary (the image border counts as boundary)."""
    padded = np.pad(np.asarray(mask, dtype=bool), 1)
    if not padded.any():
        raise ValueError("an empty mask has no interior point")
    dist = ndimage.distance_transform_edt(padded)
    r, c = np.unravel_index(int(np.argmax(dist)), dist.shape)
    return float(r - 1), float(c - 1)


def largest_component(mask: np.ndarray) -> np.ndarray:
    """The largest 8-connected component of a boolean mask (empty in, empty out)."""
    labels, n = ndimage.label(mask, structure=_EIGHT)
    if n <= 1:
        return labels > 0
    sizes = np.bincount(labels.ravel())[1:]
    return labels == (int(np.argmax(sizes)) + 1)


def largest_error_region(reference: np.ndarray, prediction: np.ndarray) -> tuple[np.ndarray, bool] | None:
    """The largest connected region where prediction and reference disagree, and whether it was
    missed (True: the user adds it) or is a false positive (False: the user removes it)."""
    ref = np.asarray(reference, dtype=bool)
    pred = np.asarray(prediction, dtype=bool)
    best: tuple[int, np.ndarray, bool] | None = None
    for error, missed in ((ref & ~pred, True), (pred & ~ref, False)):
        labels, n = ndimage.label(error)
        if n == 0:
            continue
        sizes = np.bincount(labels.ravel())[1:]
        k = int(np.argmax(sizes))
        if best is None or sizes[k] > best[0]:
            best = (int(sizes[k]), labels == k + 1, missed)
    return None if best is None else (best[1], best[2])


def centreline(mask: np.ndarray, step: int = 2) -> list[Coord]:
    """The longest path through the skeleton of the mask's largest component, every ``step`` pixels."""
    from skimage.morphology import skeletonize

    part = largest_component(mask)
    if not part.any():
        raise ValueError("an empty mask has no centreline")
    skeleton = skeletonize(part)
    rr, cc = np.nonzero(skeleton)
    if len(rr) <= 2:
        return [interior_point(part)]
    index = -np.ones(skeleton.shape, dtype=np.int64)
    index[rr, cc] = np.arange(len(rr))
    rows, cols, weights = [], [], []
    for dr, dc in ((0, 1), (1, 0), (1, 1), (1, -1)):
        r2, c2 = rr + dr, cc + dc
        ok = (r2 >= 0) & (r2 < skeleton.shape[0]) & (c2 >= 0) & (c2 < skeleton.shape[1])
        ok[ok] = index[r2[ok], c2[ok]] >= 0
        rows.append(index[rr[ok], cc[ok]])
        cols.append(index[r2[ok], c2[ok]])
        weights.append(np.full(int(ok.sum()), np.hypot(dr, dc)))
    graph = coo_matrix(
        (np.concatenate(weights), (np.concatenate(rows), np.concatenate(cols))), shape=(len(rr), len(rr))
    ).tocsr()
    # Two sweeps of Dijkstra: the farthest node from anywhere is one end of the longest path.
    depth = ndimage.distance_transform_edt(np.pad(part, 1))[1:-1, 1:-1]
    start = int(np.argmax(depth[rr, cc]))
    dist = dijkstra(graph, directed=False, indices=start)
    a = int(np.argmax(np.where(np.isfinite(dist), dist, -1)))
    dist, pred = dijkstra(graph, directed=False, indices=a, return_predecessors=True)
    b = int(np.argmax(np.where(np.isfinite(dist), dist, -1)))
    path = [b]
    while path[-1] != a and pred[path[-1]] >= 0:
        path.append(int(pred[path[-1]]))
    keep = path[::step]
    if keep[-1] != path[-1]:
        keep.append(path[-1])
    return [(float(rr[i]), float(cc[i])) for i in keep]


def outer_contour(mask: np.ndarray) -> np.ndarray:
    """The outer contour (vertices, (N, 2) row/col) of the mask's largest component, holes filled."""
    from skimage.measure import find_contours

    part = ndimage.binary_fill_holes(largest_component(mask))
    contours = find_contours(np.pad(part, 1).astype(np.float32), 0.5)
    if not contours:
        raise ValueError("an empty mask has no contour")
    return max(contours, key=len) - 1.0


def perturb_contour(vertices: np.ndarray, amplitude: float, rng: np.random.Generator, spacing: int = 2) -> np.ndarray:
    """Subsample a closed contour and move its vertices by smooth noise of about ``amplitude`` pixels,
    like a hand that follows the outline roughly."""
    v = np.asarray(vertices, dtype=float)
    if len(v) > 1 and np.allclose(v[0], v[-1]):
        v = v[:-1]
    v = v[:: max(spacing, 1)]
    if amplitude > 0 and len(v) >= 3:
        noise = rng.normal(size=v.shape)
        window = min(5, len(v))
        kernel = np.ones(window) / window
        wrapped = np.concatenate([noise[-window:], noise, noise[:window]])
        smooth = np.stack([np.convolve(wrapped[:, d], kernel, "same") for d in range(2)], axis=1)
        smooth = smooth[window:-window]
        smooth *= amplitude / max(float(smooth.std()), 1e-6)
        v = v + smooth
    return v


class SimulatedUser:
    """Gives the prompts of each interaction on one slice for one prompt type.

    ``next_interaction(reference, prediction)`` returns the prompts of the next interaction given the
    current mask (``None`` before the first one), or an empty list when nothing is left to correct.
    """

    def __init__(
        self,
        prompt_type: str,
        ref: SliceRef,
        seed: int = 0,
        box_jitter: int = 3,
        lasso_noise: float = 1.5,
        scribble_width: float = 3.0,
    ) -> None:
        if prompt_type not in PROMPT_TYPES:
            raise MedsegError(f"unknown prompt type '{prompt_type}'; choose one of {', '.join(PROMPT_TYPES)}")
        self.prompt_type = prompt_type
        self.ref = ref
        self.rng = np.random.default_rng(seed)
        self.box_jitter = int(box_jitter)
        self.lasso_noise = float(lasso_noise)
        self.scribble_width = float(scribble_width)

    def next_interaction(self, reference: np.ndarray, prediction: np.ndarray | None) -> list[Prompt]:
        reference = np.asarray(reference, dtype=bool)
        if prediction is None:
            if not reference.any():
                raise ValueError("the reference mask on the prompted slice is empty")
            return [self.first(reference)]
        found = largest_error_region(reference, prediction)
        if found is None:
            return []
        region, missed = found
        return [self.correction(region, missed)]

    # --- first interaction ---------------------------------------------------------------------

    def first(self, reference: np.ndarray) -> Prompt:
        if self.prompt_type == "point":
            return PointPrompt(self.ref, interior_point(reference), True)
        if self.prompt_type == "box":
            return self.jittered_box(reference)
        if self.prompt_type == "scribble":
            return ScribblePrompt(self.ref, tuple(centreline(reference)), True, self.scribble_width)
        return self.lasso_around(reference, True)

    def jittered_box(self, reference: np.ndarray) -> BoxPrompt:
        rows, cols = np.nonzero(reference)
        h, w = reference.shape
        # Up to ``box_jitter`` pixels per edge, and at most 10% of the box's side (a small box is
        # drawn more carefully, as in SAM's and MedSAM's box simulation).
        jr = min(self.box_jitter, int(round(0.1 * (rows.max() - rows.min() + 1))))
        jc = min(self.box_jitter, int(round(0.1 * (cols.max() - cols.min() + 1))))
        d = np.array([self.rng.integers(-j, j + 1) for j in (jr, jc, jr, jc)])
        r0 = float(np.clip(rows.min() + d[0], 0, h - 1))
        c0 = float(np.clip(cols.min() + d[1], 0, w - 1))
        r1 = float(np.clip(rows.max() + d[2], 0, h - 1))
        c1 = float(np.clip(cols.max() + d[3], 0, w - 1))
        if r1 - r0 < 1:
            r0, r1 = max(r0 - 1, 0.0), min(r1 + 1, h - 1.0)
        if c1 - c0 < 1:
            c0, c1 = max(c0 - 1, 0.0), min(c1 + 1, w - 1.0)
        return BoxPrompt(self.ref, (r0, c0), (r1, c1), True)

    def lasso_around(self, region: np.ndarray, positive: bool) -> LassoPrompt:
        region = np.asarray(region, dtype=bool)
        if region.sum() < 9:  # a hand cannot draw a lasso tighter than a few pixels
            region = ndimage.binary_dilation(region, structure=_EIGHT)
        radius = np.sqrt(largest_component(region).sum() / np.pi)
        amplitude = min(self.lasso_noise, 0.15 * radius)
        vertices = perturb_contour(outer_contour(region), amplitude, self.rng)
        h, w = region.shape
        vertices[:, 0] = np.clip(vertices[:, 0], -0.5, h - 0.5)
        vertices[:, 1] = np.clip(vertices[:, 1], -0.5, w - 0.5)
        return LassoPrompt(self.ref, tuple((float(r), float(c)) for r, c in vertices), positive)

    # --- corrections ---------------------------------------------------------------------------

    def correction(self, region: np.ndarray, missed: bool) -> Prompt:
        if self.prompt_type in ("point", "box"):
            return PointPrompt(self.ref, interior_point(region), missed)
        if self.prompt_type == "scribble":
            return ScribblePrompt(self.ref, tuple(centreline(region)), missed, self.scribble_width)
        return self.lasso_around(region, missed)
