"""The promptable-model protocol: encode a slice once, decode each interaction cheaply.

Like segment-anything's predictor, the expensive part (``encode``: image to embedding) is separate
from the cheap part (``decode``: embedding plus prompts to mask logits), so the session can cache
embeddings and answer every click from the cache.

Contract, shared by the built-in model and the SAM family:

* ``encode(image)`` takes one slice as float32 ``(H, W)`` with intensities already mapped to [0, 1]
  by the volume's :class:`~napari_medseg.core.intensity.IntensityPreset` (per volume, not per slice).
  It returns an :data:`Embedding`: a dict of named numpy arrays. The cache stores and restores these
  arrays exactly (dtype included, so a model may store float16 to save memory).
* ``decode(embedding, prompts, prev_logits)`` takes the prompts of one interaction, all on that
  slice, in plane coordinates (row, col), applied in order; and optionally the previous mask's logits
  on that slice, float32 ``(H, W)`` (a refinement, a correction of an existing label, or the
  neighbouring slice's mask during propagation). It returns float32 logits ``(H, W)`` at slice
  resolution; the mask is ``logits > 0``. An empty prompt list with ``prev_logits`` is valid.
* ``identity`` names the model, a hash of its weights and its preprocessing, so that cached
  embeddings of another model or other weights are never reused.

Optional: ``appearance_features(embedding)`` returns image features of the slice, channels last
``(h, w, C)``, on a grid of ``stride`` pixels, and the stride (:class:`OffersAppearanceFeatures`). Propagation then tells
the object from its surroundings by those features as well as by intensity
(``core/feature_appearance.py``). The built-in model offers them; the SAM family does not (its
embedding lives on the resized, padded 1024 grid).

Optional: ``decode_relative(embedding, prompts, prev_logits, relative)`` (:class:`ReadsIntensityScale`):
the session tells such a model whether the volume's intensities are relative (a percentile range:
MR, or ``auto``) rather than absolute (a CT window), where they mean different things: a tissue's
brightness drifts across an MR slice with the bias field, while a CT neighbour of the same HU is
a different organ. The built-in model grows a click's answer more freely on relative intensities.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np

from napari_medseg.core.prompts import Prompt

Embedding = dict[str, np.ndarray]


@runtime_checkable
class PromptableModel(Protocol):
    """What the session, the cache, the command line and the widgets need from a model."""

    name: str

    @property
    def identity(self) -> str:
        """Model name, weights hash and preprocessing: the model part of a cache key."""
        ...

    def encode(self, image: np.ndarray) -> Embedding:
        """Image (float32, (H, W), values in [0, 1]) to a cacheable embedding."""
        ...

    def decode(
        self,
        embedding: Embedding,
        prompts: Sequence[Prompt],
        prev_logits: np.ndarray | None = None,
    ) -> np.ndarray:
        """Embedding plus the prompts of one interaction to float32 mask logits (H, W)."""
        ...


@runtime_checkable
class OffersAppearanceFeatures(Protocol):
    """A model whose embedding can serve as features of the slice (the optional part of the protocol)."""

    def appearance_features(self, embedding: Embedding) -> tuple[np.ndarray, int]:
        """``(features (h, w, C) float, stride)``: grid row ``i`` covers slice rows ``i*stride`` on."""
        ...


@runtime_checkable
class ReadsIntensityScale(Protocol):
    """A model whose decoding depends on whether the slice's intensities are relative or absolute."""

    def decode_relative(self, embedding: Embedding, prompts: Sequence[Prompt],
                        prev_logits: np.ndarray | None, relative: bool) -> np.ndarray:
        """``decode``, told whether the intensities are relative (percentile range) or absolute (CT window)."""
        ...


@runtime_checkable
class DecodesPropagationSteps(Protocol):
    """A model with its own way to answer a propagation step (a decoder trained to carry masks)."""

    def decode_step(self, embedding: Embedding, prompts: Sequence[Prompt],
                    prev_logits: np.ndarray, relative: bool) -> np.ndarray:
        """Logits for a slice from the prompts and the logits derived from its neighbour's mask."""
        ...


def logits_from_mask(mask: np.ndarray, scale: float = 8.0) -> np.ndarray:
    """A binary mask as confident logits (+scale inside, -scale outside), for ``prev_logits``."""
    return np.where(np.asarray(mask, dtype=bool), scale, -scale).astype(np.float32)


def embedding_nbytes(embedding: Embedding) -> int:
    return int(sum(np.asarray(a).nbytes for a in embedding.values()))
