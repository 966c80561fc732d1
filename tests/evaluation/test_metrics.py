"""Dice and NoC on masks and curves whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from napari_medseg.evaluation.metrics import dice, dice_at, mean_of, noc, summarize_curve


def test_dice_of_known_masks():
    a = np.zeros((10, 10), dtype=bool)
    b = np.zeros((10, 10), dtype=bool)
    a[0:4, 0:5] = True  # 20 pixels
    b[2:6, 0:5] = True  # 20 pixels, 10 shared
    assert dice(a, b) == pytest.approx(0.5)
    assert dice(a, a) == 1.0
    assert dice(a, ~a) == 0.0
    assert dice(np.zeros((3, 3)), np.zeros((3, 3))) == 1.0  # both empty: agreement
    assert dice(a, np.zeros_like(a)) == 0.0


def test_dice_rejects_masks_of_different_shape():
    with pytest.raises(ValueError, match="shape"):
        dice(np.zeros((3, 3)), np.zeros((3, 4)))


def test_noc_counts_interactions_to_target_and_caps():
    curve = [0.5, 0.8, 0.86, 0.89, 0.91]
    assert noc(curve, 0.85) == 3
    assert noc(curve, 0.90) == 5
    assert noc(curve, 0.95) == 20  # never reached: the cap
    assert noc(curve, 0.95, max_interactions=7) == 7
    assert noc([0.95], 0.90) == 1
    assert noc([0.5] * 30 + [0.99], 0.9, max_interactions=20) == 20  # beyond the cap does not count


def test_dice_at_keeps_last_value_of_a_short_curve():
    curve = [0.4, 0.7]
    assert dice_at(curve, 1) == 0.4
    assert dice_at(curve, 2) == 0.7
    assert dice_at(curve, 5) == 0.7
    with pytest.raises(ValueError):
        dice_at(curve, 0)
    with pytest.raises(ValueError):
        dice_at([], 1)


def test_summary_and_mean():
    s = summarize_curve([0.6, 0.8, 0.88, 0.9, 0.93])
    assert s == {"dice@1": 0.6, "dice@3": 0.88, "dice@5": 0.93, "noc@85": 3.0, "noc@90": 4.0}
    assert mean_of([{"x": 1.0}, {"x": 3.0}, {"x": float("nan")}], "x") == 2.0
    assert np.isnan(mean_of([{"y": 1.0}], "x"))
