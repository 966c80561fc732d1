"""Classical baselines behind the same model protocol: random walker and flood fill.

They take exactly the prompts the built-in model takes, through the same session, propagation and
simulated user, so the benchmark compares algorithms and nothing else. ``encode`` keeps the slice
itself (flood smooths it first); ``decode`` turns the prompts into seeds and runs the algorithm.
They live here, not in the model registry: they are yardsticks, not products.

Seeds from prompts (for both):

* object: positive clicks (a disc of ``point_radius``), positive scribbles, the core of a positive
  box (a centred ellipse of ``box_core`` of its size), the core of a positive lasso (the half of its
  interior farthest from its outline);
* background: negative clicks, scribbles, boxes and lassos; everything outside a positive box or lasso
  (plus ``margin`` pixels); and the border of the slice as a far background (random walker only).
* The previous mask (``prev_logits``) seeds its core as object and its far outside as background
  only when the interaction has no click, scribble or lasso: that is propagation (or correcting an
  existing label), where the neighbouring slice's mask is the only thing said about this slice.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence

import numpy as np
from scipy import ndimage

from napari_medseg.core.morphology import within_distance
from napari_medseg.core.prompts import (
    BoxPrompt,
    LassoPrompt,
    PointPrompt,
    Prompt,
    ScribblePrompt,
    rasterize,
    rasterize_box,
    rasterize_point,
)
from napari_medseg.models.protocol import Embedding

OBJECT, BACKGROUND = 1, 2
LOGIT_SCALE = 8.0


def _core(region: np.ndarray, fraction: float = 0.5, min_depth: float = 1.0) -> np.ndarray:
    """The deepest part of a region: pixels at least ``fraction`` of the maximal depth inside."""
    depth = ndimage.distance_transform_edt(np.pad(region, 1))[1:-1, 1:-1]
    if depth.max() <= 0:
        return region.copy()
    core = depth >= max(min(min_depth, depth.max()), fraction * depth.max())
    return core


def _box_core(box: BoxPrompt, shape: tuple[int, int], fraction: float) -> np.ndarray:
    r0, c0, r1, c1 = box.bounds
    cr, cc = (r0 + r1) / 2, (c0 + c1) / 2
    ar, ac = max(fraction * (r1 - r0) / 2, 0.5), max(fraction * (c1 - c0) / 2, 0.5)
    rr, cc_ = np.ogrid[: shape[0], : shape[1]]
    core = ((rr - cr) / ar) ** 2 + ((cc_ - cc) / ac) ** 2 <= 1.0
    core[min(max(int(round(cr)), 0), shape[0] - 1), min(max(int(round(cc)), 0), shape[1] - 1)] = True
    return core


def _grow(mask: np.ndarray, pixels: int) -> np.ndarray:
    if pixels <= 0:
        return mask
    return within_distance(mask, pixels)


class SeedRules:
    """Prompts (and, in propagation, the previous mask) to object/background seed maps."""

    def __init__(self, point_radius: float = 1.0, box_core: float = 0.3, margin: int = 2) -> None:
        self.point_radius = point_radius
        self.box_core = box_core
        self.margin = margin

    def footprint(self, prompt: Prompt, shape: tuple[int, int]) -> np.ndarray:
        """The pixels a prompt states something about directly (a click is a small disc)."""
        if isinstance(prompt, PointPrompt):
            return rasterize_point(prompt.point, shape, self.point_radius)
        return rasterize(prompt, shape)

    def positive_core(self, prompt: Prompt, shape: tuple[int, int]) -> np.ndarray:
        """Pixels of a positive prompt that are object for sure."""
        if isinstance(prompt, BoxPrompt):
            return _box_core(prompt, shape, self.box_core) & rasterize_box(prompt, shape)
        if isinstance(prompt, LassoPrompt):
            return _core(rasterize(prompt, shape), 0.5)
        return self.footprint(prompt, shape)

    def enclosure(self, prompts: Sequence[Prompt], shape: tuple[int, int]) -> np.ndarray | None:
        """Where the positive boxes and lassos together say the object lies (plus a small margin);
        ``None`` when the interaction has none."""
        drawn = [rasterize(p, shape) for p in prompts if p.positive and isinstance(p, BoxPrompt | LassoPrompt)]
        if not drawn:
            return None
        return _grow(np.logical_or.reduce(drawn), self.margin)

    @staticmethod
    def uses_previous(prompts: Sequence[Prompt], prev_logits: np.ndarray | None) -> bool:
        if prev_logits is None:
            return False
        return not any(isinstance(p, PointPrompt | ScribblePrompt | LassoPrompt) for p in prompts)

    def seeds(
        self, shape: tuple[int, int], prompts: Sequence[Prompt], prev_logits: np.ndarray | None, border: bool
    ) -> np.ndarray:
        """uint8 map: 0 unknown, OBJECT, BACKGROUND; explicit prompts override implicit ones."""
        seeds = np.zeros(shape, dtype=np.uint8)
        if border:
            seeds[0, :] = seeds[-1, :] = seeds[:, 0] = seeds[:, -1] = BACKGROUND
        if self.uses_previous(prompts, prev_logits):
            prev = np.asarray(prev_logits) > 0
            if prev.any():
                radius = np.sqrt(prev.sum() / np.pi)
                seeds[~_grow(prev, max(3, int(round(0.3 * radius))))] = BACKGROUND
                seeds[_core(prev, 0.4, min_depth=2.0)] = OBJECT
        inside = self.enclosure(prompts, shape)
        if inside is not None:
            seeds[~inside] = BACKGROUND
        for p in prompts:  # a box's core first: a box says where the object lies, not what is object
            if p.positive and isinstance(p, BoxPrompt):
                seeds[self.positive_core(p, shape)] = OBJECT
        for p in prompts:  # then in the order given: a later prompt overrides an earlier one
            if not p.positive:
                seeds[self.footprint(p, shape)] = BACKGROUND
            elif not isinstance(p, BoxPrompt):
                seeds[self.positive_core(p, shape)] = OBJECT
        return seeds


def _as_logits(mask_or_prob: np.ndarray, probability: bool) -> np.ndarray:
    if probability:
        p = np.clip(mask_or_prob.astype(np.float64), 1e-4, 1 - 1e-4)
        return np.clip(np.log(p / (1 - p)), -LOGIT_SCALE, LOGIT_SCALE).astype(np.float32)
    return np.where(mask_or_prob, LOGIT_SCALE, -LOGIT_SCALE).astype(np.float32)


class RandomWalkerModel:
    """scikit-image's random walker (Grady 2006) from prompt seeds; ``beta`` sets edge sensitivity.

    ``beta=1000`` was chosen on a development volume of the synthetic generator (seed 99, not an
    evaluation volume) from 30..8000: it gave the best Dice after 1 and 5 interactions there (the
    scikit-image default of 130 leaks far less but grows far too little from a click). The direct
    solver (``mode="bf"``) is exact and, at this beta, faster than the iterative ones.
    """

    name = "random_walker"

    def __init__(self, beta: float = 1000.0, rules: SeedRules | None = None) -> None:
        self.beta = float(beta)
        self.rules = rules or SeedRules()

    @property
    def identity(self) -> str:
        return f"random_walker:slice-as-is:beta{self.beta:g}"

    def encode(self, image: np.ndarray) -> Embedding:
        return {"image": np.asarray(image, dtype=np.float32)}

    def decode(
        self, embedding: Embedding, prompts: Sequence[Prompt], prev_logits: np.ndarray | None = None
    ) -> np.ndarray:
        from skimage.segmentation import random_walker

        image = np.asarray(embedding["image"], dtype=np.float64)
        seeds = self.rules.seeds(image.shape, prompts, prev_logits, border=True)
        if not (seeds == OBJECT).any():
            return np.full(image.shape, -LOGIT_SCALE, dtype=np.float32)
        if not (seeds == BACKGROUND).any() or not (seeds == 0).any():
            return _as_logits(seeds == OBJECT, probability=False)
        if float(image.std()) == 0.0:  # a flat slice has no edges to follow: the seeds are all we know
            return _as_logits(seeds == OBJECT, probability=False)
        with warnings.catch_warnings():  # its loose-tolerance warning says nothing about the mask
            warnings.simplefilter("ignore", UserWarning)
            prob = random_walker(image, seeds, beta=self.beta, mode="bf", return_full_prob=True)
        return _as_logits(prob[0], probability=True)


class FloodModel:
    """Flood fill from each positive prompt: the connected pixels within ``tolerance`` of the
    prompt's median intensity (on the lightly smoothed slice). Positive boxes and lassos bound the
    result; negative prompts inside it cut it (marker watershed between positive and negative seeds)."""

    name = "flood"

    def __init__(self, tolerance: float = 0.1, smoothing: float = 1.0, rules: SeedRules | None = None) -> None:
        self.tolerance = float(tolerance)
        self.smoothing = float(smoothing)
        self.rules = rules or SeedRules()

    @property
    def identity(self) -> str:  # the tolerance acts in decode only, so it is not part of the key
        return f"flood:gaussian{self.smoothing:g}"

    def encode(self, image: np.ndarray) -> Embedding:
        smooth = ndimage.gaussian_filter(np.asarray(image, dtype=np.float32), self.smoothing)
        return {"image": smooth.astype(np.float32)}

    def _flood(self, image: np.ndarray, seeds: np.ndarray) -> np.ndarray:
        if not seeds.any():
            return seeds
        ref = float(np.median(image[seeds]))
        candidate = (np.abs(image - ref) <= self.tolerance) | seeds
        labels, _ = ndimage.label(candidate)
        hit = np.unique(labels[seeds])
        return np.isin(labels, hit[hit > 0])

    @staticmethod
    def _split(image: np.ndarray, region: np.ndarray, positive: np.ndarray, negative: np.ndarray) -> np.ndarray:
        """A negative prompt inside the flooded region cuts it: a marker watershed on the image's
        gradient, within the region, keeps what the positive seeds reach first."""
        from skimage.filters import sobel
        from skimage.segmentation import watershed

        markers = np.zeros(image.shape, dtype=np.int32)
        markers[positive] = 1
        markers[negative] = 2
        if not (markers == 1).any():
            return region & ~negative
        return watershed(sobel(image), markers, mask=region | negative) == 1

    def decode(
        self, embedding: Embedding, prompts: Sequence[Prompt], prev_logits: np.ndarray | None = None
    ) -> np.ndarray:
        image = np.asarray(embedding["image"], dtype=np.float32)
        shape = image.shape
        rules = self.rules
        bound = np.ones(shape, dtype=bool)
        sources: list[np.ndarray] = []
        if rules.uses_previous(prompts, prev_logits):
            prev = np.asarray(prev_logits) > 0
            if prev.any():
                sources.append(_core(prev, 0.4, min_depth=2.0))
                radius = np.sqrt(prev.sum() / np.pi)
                bound &= _grow(prev, max(3, int(round(0.3 * radius))))
        for p in prompts:
            if p.positive:
                sources.append(rules.positive_core(p, shape))
        inside = rules.enclosure(prompts, shape)
        if inside is not None:
            bound &= inside
        result = np.zeros(shape, dtype=bool)
        for src in sources:
            result |= self._flood(image, src)
        result &= bound
        negative = np.zeros(shape, dtype=bool)
        for p in prompts:
            if not p.positive:
                negative |= rules.footprint(p, shape)
        if (negative & result).any() and sources:
            result = self._split(image, result, np.logical_or.reduce(sources) & result & ~negative, negative)
        result &= ~negative
        result = ndimage.binary_fill_holes(result)
        for p in prompts:  # a click on the object is object, whatever the tolerance
            if p.positive and isinstance(p, PointPrompt | ScribblePrompt):
                result |= rules.footprint(p, shape)
        return _as_logits(result, probability=False)
