"""Metrics of the benchmark: Dice, Dice after k interactions, number of clicks (NoC) to a target Dice.

The interactive literature reports how good a mask is after a fixed number of interactions and how
many interactions it takes to reach a Dice target; these are the same numbers, so methods that are
quick to a good mask and methods that get there eventually can both be read off one curve.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

NOC_MAX = 20


def dice(pred: np.ndarray, ref: np.ndarray) -> float:
    """Dice overlap of two boolean masks; two empty masks agree perfectly (1.0)."""
    a = np.asarray(pred, dtype=bool)
    b = np.asarray(ref, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"masks differ in shape: {a.shape} vs {b.shape}")
    total = int(a.sum()) + int(b.sum())
    if total == 0:
        return 1.0
    return 2.0 * int(np.logical_and(a, b).sum()) / total


def dice_at(curve: Sequence[float], k: int) -> float:
    """Dice after ``k`` interactions (1-based); a curve that stopped early keeps its last value."""
    if k < 1:
        raise ValueError(f"k counts interactions from 1, got {k}")
    if len(curve) == 0:
        raise ValueError("an empty Dice curve has no value after any interaction")
    return float(curve[min(k, len(curve)) - 1])


def noc(curve: Sequence[float], target: float, max_interactions: int = NOC_MAX) -> int:
    """Interactions needed to reach Dice >= ``target``; ``max_interactions`` if never reached."""
    for k, value in enumerate(curve[:max_interactions], start=1):
        if value >= target:
            return k
    return max_interactions


def summarize_curve(curve: Sequence[float], max_interactions: int = NOC_MAX) -> dict[str, float]:
    """The per-case numbers of the results table from one Dice-per-interaction curve."""
    return {
        "dice@1": dice_at(curve, 1),
        "dice@3": dice_at(curve, 3),
        "dice@5": dice_at(curve, 5),
        "noc@85": float(noc(curve, 0.85, max_interactions)),
        "noc@90": float(noc(curve, 0.90, max_interactions)),
    }


def mean_of(rows: Sequence[dict[str, float]], key: str) -> float:
    """Mean of one metric over cases, NaN where no case has it."""
    values = [r[key] for r in rows if key in r and r[key] is not None and np.isfinite(r[key])]
    return float(np.mean(values)) if values else float("nan")
