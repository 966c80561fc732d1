"""Shared by the appearance-rule tests: a disc mask and a model double that only copies the
previous slice's mask (the failure the rules exist for: a mask prompt carried past the object)."""

from __future__ import annotations

import numpy as np


def disc(shape, centre, radius) -> np.ndarray:
    rr, cc = np.indices(shape)
    return (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= radius**2


def copy_previous(index, prompts, prev_logits):
    """A model that only repeats the previous mask."""
    assert prev_logits is not None
    return np.where(prev_logits > 0, 4.0, -4.0).astype(np.float32)
