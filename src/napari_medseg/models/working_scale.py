"""Coarse slices are scaled up to the pixel size a model works at.

A network learns objects at some size in pixels. The built-in model's were tens to a hundred pixels
across; a CT reconstructed at 3 mm shows the same organs two or three times smaller, and there a
click's answer leaks and a kidney or a vessel's box holds too little to answer. A model that names
the pixel size it works at (``working_spacing``, in mm: the built-in one 1 mm on a CT window, 2 mm on
relative intensities) is wrapped, per slicing axis, in :class:`ScaledModel`: each slice is scaled up
(bilinear) so that its pixels are at most that size, encoded at that size (and cached so), the
prompts and the previous logits are mapped onto it, and the logits come back to the slice's own grid
(read at its pixel centres). The factor is bounded (``max_factor``, and ``max_side`` px for the
scaled slice) so that a coarse but large slice does not cost more than it gives. The other way, on
MR finer than its working size, only a first click is answered on the slice scaled down (a second,
smaller embedding), where it reaches the whole organ; corrections keep the slice's own detail. A
model without ``working_spacing`` (the SAM family, which resizes every slice to 1024 px anyway) is
used as it is. Chosen on the development phantoms scaled in plane: "twenty-fifth session" in
docs/model-development.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from napari_medseg.core.feature_appearance import lerp_axis
from napari_medseg.core.prompts import BoxPrompt, LassoPrompt, PointPrompt, Prompt, ScribblePrompt
from napari_medseg.models.protocol import Embedding, PromptableModel

SLICE_SIZE = "working_scale.size"  # the embedding's record of the slice's own (H, W)
FIRST = "working_scale.first."  # the prefix of a first answers' own embedding
SLICE_FEATURES = "working_scale.features"  # appearance features resampled onto the slice's grid ...
SLICE_STRIDE = "working_scale.stride"  # ... of cells this many slice pixels across


@dataclass(frozen=True)
class WorkingSpacing:
    """The pixel size a model works at, and how far a slice may be scaled to reach it."""

    spacing: float = 1.0  # mm: a slice with larger pixels is scaled up to this (0: never) ...
    relative_spacing: float = 2.0  # ... on relative intensities (a percentile range: MR)
    max_factor: float = 4.0
    max_side: int = 512  # px: the scaled slice stays within this (or its own size, when larger)
    # on relative intensities, finer slices are scaled down to ``relative_spacing`` too (by at most
    # ``max_factor``, and not below ``min_side`` px across): 0 never, 1 for every answer, 2 for first
    # answers from clicks alone (a second embedding; the rest at the slice's own size)
    relative_shrink: int = 2
    min_side: int = 128


def scale_factors(plane_spacing: tuple[float, float], plane_shape: tuple[int, int],
                  opts: WorkingSpacing, relative: bool = False) -> tuple[float, float]:
    """(row, column) factors that bring a slice's pixels to the working spacing (1.0: as it is);
    ``relative``: of a volume on relative intensities (MR)."""
    target = opts.relative_spacing if relative else opts.spacing
    if target <= 0:
        return 1.0, 1.0
    if not all(np.isfinite(s) and s > 0 for s in plane_spacing):  # a voxel size that says nothing
        return 1.0, 1.0
    low = 1.0 / opts.max_factor if relative and opts.relative_shrink in (1, 2) else 1.0
    wanted = [min(max(float(s) / target, low), opts.max_factor) for s in plane_spacing]
    longest = max(n * f for n, f in zip(plane_shape, wanted, strict=True))
    if longest < max(plane_shape) and longest < opts.min_side:  # (shrunk too far: no further than min_side)
        wanted = [min(f * min(opts.min_side, max(plane_shape)) / longest, 1.0) for f in wanted]
        longest = max(n * f for n, f in zip(plane_shape, wanted, strict=True))
    bound = max(opts.max_side, max(plane_shape))
    if longest > bound:  # (both shrink alike: the aspect the spacing asked for is kept)
        wanted = [max(f * bound / longest, 1.0) for f in wanted]
    return wanted[0], wanted[1]


def resize(array: np.ndarray, size: tuple[int, int], antialias: bool = False) -> np.ndarray:
    """``array`` (H, W) resampled to ``size``, bilinear, pixel centres on pixel centres."""
    with torch.inference_mode():
        x = torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))[None, None]
        return F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=antialias)[0, 0].numpy()


def _scaled(rc: tuple[float, float], origin: tuple[int, int], fr: float, fc: float) -> tuple[float, float]:
    return ((rc[0] - origin[0] + 0.5) * fr - 0.5, (rc[1] - origin[1] + 0.5) * fc - 0.5)


def prompts_scaled(prompts: Sequence[Prompt], fr: float, fc: float, origin: tuple[int, int] = (0, 0)) -> list[Prompt]:
    """The prompts on the slice region from ``origin`` scaled by (``fr``, ``fc``) (a stroke widens too)."""
    out: list[Prompt] = []
    for p in prompts:
        if isinstance(p, PointPrompt):
            out.append(replace(p, point=_scaled(p.point, origin, fr, fc)))
        elif isinstance(p, BoxPrompt):
            out.append(replace(p, corner_a=_scaled(p.corner_a, origin, fr, fc),
                               corner_b=_scaled(p.corner_b, origin, fr, fc)))
        elif isinstance(p, ScribblePrompt):
            out.append(replace(p, points=tuple(_scaled(q, origin, fr, fc) for q in p.points),
                               width=p.width * 0.5 * (fr + fc)))
        elif isinstance(p, LassoPrompt):
            out.append(replace(p, vertices=tuple(_scaled(q, origin, fr, fc) for q in p.vertices)))
        else:
            raise TypeError(f"unknown prompt type {type(p).__name__}")
    return out


def features_on_slice(features: np.ndarray, stride: int, shape: tuple[int, int],
                      scaled_shape: tuple[int, int], out_stride: int) -> np.ndarray:
    """Features on a grid of cells of ``stride`` scaled pixels, sampled (bilinear) at the centres of
    the slice's own cells of ``out_stride`` pixels: what propagation compares masks by."""
    h, w = shape
    gh, gw = -(-h // out_stride), -(-w // out_stride)
    # a slice cell's centre, (i + 0.5) * out_stride slice px, is at that times f scaled px
    rows = (np.arange(gh) + 0.5) * out_stride * scaled_shape[0] / h / stride - 0.5
    cols = (np.arange(gw) + 0.5) * out_stride * scaled_shape[1] / w / stride - 0.5
    f = np.asarray(features, dtype=np.float32)
    return lerp_axis(lerp_axis(f, rows, 0), cols, 1).astype(features.dtype)


def slice_stride(stride: int, fr: float, fc: float) -> int:
    """The slice-pixel stride of the features a model's ``stride``-pixel grid gives on a slice scaled by
    (``fr``, ``fc``): as fine as that grid is on the slice (so a small object on a coarse slice is judged
    on as many cells as the model's grid holds of it), whole pixels."""
    return max(1, int(round(stride / max(fr, fc))))


class ScaledModel:
    """``inner`` answering on slices scaled by (``fr``, ``fc``); the slice's own grid outside.
    ``first``: other factors for first answers from clicks alone (no previous logits), on a second
    embedding.

    It offers every optional part of the protocol and passes each on to the inner model's own, or
    to its plain ``decode``; the session asks the inner model which parts it has."""

    def __init__(self, inner: PromptableModel, fr: float, fc: float,
                 first: tuple[float, float] | None = None) -> None:
        self.inner, self.fr, self.fc = inner, float(fr), float(fc)
        self.first = None if first is None else (float(first[0]), float(first[1]))
        self.name = inner.name

    @property
    def identity(self) -> str:  # the scaled slices' embeddings are other embeddings
        first = "" if self.first is None else f":first{self.first[0]:.4g},{self.first[1]:.4g}"
        return f"{self.inner.identity}:x{self.fr:.4g},{self.fc:.4g}{first}"

    def describe(self) -> str:
        """For a status line: how the slices are scaled."""
        def how(fr: float, fc: float) -> str:
            return f"x{fr:.2g}" if abs(fr - fc) < 0.01 else f"x{fr:.2g} x {fc:.2g}"

        parts = [] if (self.fr, self.fc) == (1.0, 1.0) else [f"slices scaled {how(self.fr, self.fc)}"]
        if self.first is not None:
            parts.append(f"first answers on slices scaled {how(*self.first)}")
        return ", ".join(parts) + " to its working pixel size"

    def encode(self, image: np.ndarray) -> Embedding:
        h, w = image.shape
        image = np.nan_to_num(image, nan=0.0, posinf=1.0, neginf=0.0)
        size = _size((h, w), self.fr, self.fc)
        scaled = image if size == (h, w) else resize(image, size, antialias=True)
        out = dict(self.inner.encode(scaled))
        out[SLICE_SIZE] = np.array([h, w], dtype=np.int64)
        if scaled.shape != (h, w) and hasattr(self.inner, "appearance_features"):  # on the slice's grid
            features, stride = self.inner.appearance_features(out)
            on_slice = slice_stride(stride, scaled.shape[0] / h, scaled.shape[1] / w)
            out[SLICE_FEATURES] = features_on_slice(features, stride, (h, w), scaled.shape, on_slice)
            out[SLICE_STRIDE] = np.array([on_slice], dtype=np.int64)
        if self.first is not None:
            first = self.inner.encode(resize(image, _size((h, w), *self.first), antialias=True))
            out.update({FIRST + key: value for key, value in first.items()})
        return out

    def appearance_features(self, embedding: Embedding) -> tuple[np.ndarray, int]:
        if SLICE_FEATURES in embedding:
            return embedding[SLICE_FEATURES], int(embedding[SLICE_STRIDE][0])
        if (self.fr, self.fc) == (1.0, 1.0) and hasattr(self.inner, "appearance_features"):  # the slice as it is
            return self.inner.appearance_features(embedding)
        raise TypeError(f"model '{self.name}' offers no appearance features")

    def decode(self, embedding: Embedding, prompts: Sequence[Prompt],
               prev_logits: np.ndarray | None = None) -> np.ndarray:
        return self._answer(embedding, prompts, prev_logits, lambda e, p, q: self.inner.decode(e, p, q))

    def decode_relative(self, embedding: Embedding, prompts: Sequence[Prompt],
                        prev_logits: np.ndarray | None, relative: bool) -> np.ndarray:
        if not hasattr(self.inner, "decode_relative"):
            return self.decode(embedding, prompts, prev_logits)
        return self._answer(embedding, prompts, prev_logits,
                            lambda e, p, q: self.inner.decode_relative(e, p, q, relative))

    def decode_step(self, embedding: Embedding, prompts: Sequence[Prompt],
                    prev_logits: np.ndarray, relative: bool) -> np.ndarray:
        if not hasattr(self.inner, "decode_step"):
            return self.decode_relative(embedding, prompts, prev_logits, relative)
        return self._answer(embedding, prompts, prev_logits,
                            lambda e, p, q: self.inner.decode_step(e, p, q, relative))

    def _answer(self, embedding: Embedding, prompts: Sequence[Prompt], prev_logits: np.ndarray | None,
                decode) -> np.ndarray:
        if SLICE_SIZE not in embedding:
            raise TypeError("embedding was not made at this working scale: clear the embedding cache")
        h, w = (int(v) for v in embedding[SLICE_SIZE])
        factors = (self.fr, self.fc)
        if (prev_logits is None and self.first is not None  # a first answer from clicks: on its own embedding
                and prompts and all(isinstance(p, PointPrompt) for p in prompts)):
            factors = self.first
            embedding = {key[len(FIRST):]: value for key, value in embedding.items() if key.startswith(FIRST)}
        size = _size((h, w), *factors)
        if size == (h, w):
            return np.asarray(decode(embedding, prompts, prev_logits), dtype=np.float32)
        fr, fc = size[0] / h, size[1] / w  # (the exact factors of the rounded size)
        prev = None if prev_logits is None else resize(prev_logits, size, antialias=True)
        logits = np.asarray(decode(embedding, prompts_scaled(prompts, fr, fc), prev), dtype=np.float32)
        # back at the slice's pixel centres (bilinear): on the development phantoms at a third this beat
        # averaging each pixel's area (Dice@5 0.926-0.966 -> 0.934-0.969; see model-development.md)
        return resize(logits, (h, w))


def _size(shape: tuple[int, int], fr: float, fc: float) -> tuple[int, int]:
    return max(int(round(shape[0] * fr)), 1), max(int(round(shape[1] * fc)), 1)


def at_working_scale(model: PromptableModel, plane_spacing: tuple[float, float],
                     plane_shape: tuple[int, int], relative: bool = False) -> PromptableModel:
    """``model`` for slices of this pixel spacing (mm) and shape (``relative``: on relative
    intensities): on scaled slices when the model names a working spacing that the slices' pixels
    are coarser (or, as the options say, finer) than, else the model itself."""
    opts = getattr(model, "working_spacing", None)
    if not isinstance(opts, WorkingSpacing):
        return model
    fr, fc = scale_factors(plane_spacing, plane_shape, opts, relative)
    if _size(plane_shape, fr, fc) == tuple(plane_shape):
        return model
    if relative and opts.relative_shrink == 2 and fr <= 1.0 and fc <= 1.0:  # finer: first answers alone
        return ScaledModel(model, 1.0, 1.0, first=(fr, fc))
    return ScaledModel(model, fr, fc)
