"""Training samples: a synthetic slice, one target object, the prompts a user would give, and
optionally the previous logits (propagation). Label maps are expensive to draw, so a pool of them is
kept and refreshed a few at a time; each use gets a random flip/rotation, a fresh rendering and a
fresh target, so no two samples are the same.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from napari_medseg.core.prompts import Prompt
from napari_medseg.training import prompt_sim as ps
from napari_medseg.training.pairs import WIDE, PairProfile, make_pair
from napari_medseg.training.synth import (
    anisotropic,
    boundary_contrast,
    pick_target,
    random_appearance,
    random_label_map,
    render,
    smooth_noise,
)

KINDS = ("click", "box", "scribble", "lasso", "propagation", "combo", "edit")
KIND_P = np.array([0.22, 0.10, 0.10, 0.08, 0.38, 0.07, 0.05])
PROP_MIN_CONTRAST = 1.0
MIN_CONTRAST = {"click": 1.0, "scribble": 0.8, "combo": 0.5, "edit": 0.5, "box": 0.3, "lasso": 0.3}


@dataclass
class Sample:
    image: np.ndarray  # float32 (S, S) in [0, 1]
    target: np.ndarray  # bool (S, S); may be empty (propagation past the object's end)
    prompts: list[Prompt]
    prev: np.ndarray | None = None  # float32 logits (S, S)
    kind: str = "click"
    extra: dict = field(default_factory=dict)


class LabelPool:
    """A pool of random label maps, ``refresh`` of them redrawn per call to ``step``."""

    def __init__(self, rng: np.random.Generator, size: int, n: int = 256, refresh: int = 3) -> None:
        self.rng, self.size, self.refresh = rng, size, refresh
        self.maps = [random_label_map(rng, (size, size)) for _ in range(n)]

    def step(self) -> None:
        for _ in range(self.refresh):
            self.maps[int(self.rng.integers(len(self.maps)))] = random_label_map(self.rng, (self.size, self.size))

    def draw(self) -> np.ndarray:
        m = self.maps[int(self.rng.integers(len(self.maps)))]
        m = np.rot90(m, int(self.rng.integers(4)))
        if self.rng.random() < 0.5:
            m = m[:, ::-1]
        return np.ascontiguousarray(m)


def _render_slice(rng: np.random.Generator, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    app = random_appearance(rng, int(labels.max()) + 1)
    if app.aniso is not None:
        labels = anisotropic(labels, app.aniso[0], app.aniso[1], order=0)
    image = render(rng, labels, app)
    if app.aniso is not None:
        image = anisotropic(image, app.aniso[0], app.aniso[1], order=1)
    return image, labels


def propagation_prev(rng: np.random.Generator, mask: np.ndarray) -> np.ndarray:
    """The previous slice's mask as propagation passes it (``mask_logits``, +-``mask_scale``), with the
    scale varied (mostly 8 as at inference, sometimes softer, so the image has to decide) and sometimes
    the mask itself a little off, as the model's own result on the previous slice is."""
    u = rng.random()
    if u < 0.25:
        sdf = ps.ndi.distance_transform_edt(mask) - ps.ndi.distance_transform_edt(~mask)
        level = rng.uniform(-1.0, 1.0) + rng.uniform(0.3, 1.5) * smooth_noise(rng, mask.shape, rng.uniform(3, 10))
        off = sdf > level
        mask = off if off.sum() >= 4 else mask
    elif u < 0.4:
        return ps.prev_logits_from_mask(rng, mask)
    scale = 8.0 if rng.random() < 0.5 else float(rng.uniform(2.0, 8.0))
    return np.where(mask, scale, -scale).astype(np.float32)


def propagation_sample(rng: np.random.Generator, labels: np.ndarray, strict: bool = True,
                       profile: PairProfile = WIDE, visible_p: float = 0.9) -> Sample | None:
    """The next slice, the previous slice's mask as ``prev`` and (mostly) its enlarged box. Mostly a
    target one can see on the previous slice (as one a user segmented): then the image, not the
    previous mask alone, tells whether and where the object goes on (else copying is the best bet)."""
    pair = make_pair(rng, labels.shape[0], labels, profile)
    if pair is None or pair.target_a.sum() < 8:
        return None
    if strict and rng.random() < visible_p and boundary_contrast(pair.image_a, pair.target_a) < PROP_MIN_CONTRAST:
        return None
    prompts: list[Prompt] = []
    u = rng.random()
    if u < 0.75:  # the enlarged box of the previous mask, as ``core.propagation`` gives it
        prompts.append(ps.box_prompt(rng, pair.target_a, margin=0.1))
    elif u < 0.85:
        prompts.extend(ps.PointPrompt(ps.REF, ps.interior_point(rng, pair.target_a), True) for _ in range(2))
    prev = propagation_prev(rng, pair.target_a)
    return Sample(pair.image_b, pair.target_b, prompts, prev, "propagation")


def _damaged(rng: np.random.Generator, target: np.ndarray) -> np.ndarray:
    """An existing label that is a bit wrong: a chunk missing, a leak, or the border off by pixels."""
    from napari_medseg.training.synth import deformed_blob

    u = rng.random()
    if u < 0.6:
        blob = deformed_blob(rng, target.shape, rng.uniform(4, 20))
        anchor = np.argwhere(target if u < 0.35 else ps.ndi.binary_dilation(target, iterations=3) & ~target)
        if len(anchor):
            shift = anchor[rng.integers(len(anchor))] - np.array(np.nonzero(blob)).mean(axis=1).astype(int)
            blob = np.roll(blob, tuple(shift), axis=(0, 1))
        return target & ~blob if u < 0.35 else target | blob
    it = int(rng.integers(2, 5))
    return ps.ndi.binary_dilation(target, iterations=it) if u < 0.8 else ps.ndi.binary_erosion(target, iterations=it)


def make_sample(rng: np.random.Generator, pool: LabelPool, kind: str | None = None) -> Sample:
    """One training sample of the given (or a random) prompt kind."""
    kind = kind or str(rng.choice(KINDS, p=KIND_P))
    for try_ in range(20):
        labels = pool.draw()
        if kind == "propagation":
            s = propagation_sample(rng, labels, strict=try_ < 15)
            if s is not None:
                return s
            continue
        image, labels = _render_slice(rng, labels)
        target = pick_target(rng, labels, whole_label_p=0.15 if kind in ("box", "lasso") else 0.0)
        if target is None:
            continue
        # Mostly targets one can see: a click cannot say where an invisible border lies.
        need = MIN_CONTRAST.get(kind, 0.0)
        if try_ < 15 and rng.random() < 0.9 and boundary_contrast(image, target) < need:
            continue
        if kind == "click":
            prompts = ps.click_prompts(rng, target)
        elif kind == "box":
            prompts = [ps.box_prompt(rng, target)]
        elif kind == "scribble":
            prompts = ps.scribble_prompts(rng, target)
            if rng.random() < 0.3:
                ring = ps.ndi.binary_dilation(target, iterations=int(rng.integers(3, 12))) & ~target
                if ring.sum() > 10:
                    prompts += ps.scribble_prompts(rng, ring, positive=False)
        elif kind == "lasso":
            prompts = ps.lasso_prompts(rng, target)
        elif kind == "edit":  # correcting an existing, imperfect label: its mask as prev + a click
            wrong = _damaged(rng, target)
            prompts = [c for c in (ps.correction_click(rng, wrong, target),) if c is not None]
            return Sample(image, target, prompts, ps.prev_logits_from_mask(rng, wrong), kind)
        else:  # combo: a box or lasso plus clicks/scribbles
            prompts = [ps.box_prompt(rng, target)] if rng.random() < 0.6 else ps.lasso_prompts(rng, target)
            prompts += ps.click_prompts(rng, target) if rng.random() < 0.6 else ps.scribble_prompts(rng, target)
        return Sample(image, target, prompts, None, kind)
    raise RuntimeError("could not draw a usable synthetic sample in 20 tries")


def validation_set(seed: int, size: int, per_kind: int) -> dict[str, list[Sample]]:
    """A fixed held-out synthetic set (its own seed and its own label maps), per prompt kind."""
    rng = np.random.default_rng([seed, 7_919])
    pool = LabelPool(rng, size, n=max(8, per_kind), refresh=0)
    kinds = ("click", "box", "scribble", "lasso", "propagation", "edit")
    return {k: [make_sample(rng, pool, k) for _ in range(per_kind)] for k in kinds}
