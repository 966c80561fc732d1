"""The benchmark loop: the simulated user through the real session, and the 3D numbers."""

from __future__ import annotations

import numpy as np

from napari_medseg.evaluation.baselines import FloodModel, RandomWalkerModel
from napari_medseg.evaluation.datasets import Case
from napari_medseg.evaluation.run import Bench, BenchConfig, interactive_curve, propagated


def cylinder_case(depth=14, everywhere=False):
    """A bright rod, absent from the first and last two slices (``everywhere``: present in all)."""
    rng = np.random.default_rng(5)
    rr, cc = np.mgrid[:48, :48]
    ref = np.zeros((48, 48, depth), dtype=bool)
    for k in range(depth) if everywhere else range(2, depth - 2):
        ref[:, :, k] = (rr - 24) ** 2 + (cc - 22 - k // 4) ** 2 <= 9**2
    image = (np.where(ref, 120.0, 20.0) + rng.normal(0, 8, ref.shape)).astype(np.float32)
    return Case("test", "cylinder", "rod", image, ref, axis=2, preset="window:70:300")


def test_curve_runs_at_least_five_interactions_then_stops_at_090():
    case = cylinder_case()
    bench = Bench(BenchConfig(sets=["synthetic"], models=["random_walker"]))
    session = bench.session(case, RandomWalkerModel())
    curve = interactive_curve(session, case, "point", case.key_slice(), 20)
    assert 1 <= len(curve) <= 20 and curve[0] > 0.8
    assert len(curve) == 5 or curve[-1] < 0.90 or len(curve) < 5  # stops once >= 0.90 after 5
    assert session.preview is None and not session.labels.any()  # the loop leaves the session clean


def test_propagated_counts_slices_beyond_and_missed():
    bench = Bench(BenchConfig(sets=["synthetic"], models=["random_walker"]))
    full = cylinder_case(everywhere=True)  # the rod runs through every slice
    found = propagated(bench.session(full, RandomWalkerModel()), full, "box", full.key_slice())
    assert found["dice3d"] > 0.85 and found["slices_beyond"] == 0 and found["slices_missed"] == 0
    # The same image with the rod's reference cut short: every labelled end slice counts as beyond.
    cut_case = cylinder_case(everywhere=True)
    cut_case.reference[:, :, :2] = False
    cut_case.reference[:, :, -2:] = False
    session = bench.session(cut_case, RandomWalkerModel())
    cut = propagated(session, cut_case, "box", cut_case.key_slice())
    assert cut["slices_missed"] == 0 and cut["slices_beyond"] == 4
    assert cut["dice3d"] < found["dice3d"]
    # The image without the rod's ends: the walk stops where the rod ends (the appearance rule).
    short = cylinder_case()
    stopped = propagated(bench.session(short, RandomWalkerModel()), short, "box", short.key_slice())
    assert stopped["slices_beyond"] == 0 and stopped["slices_missed"] == 0 and stopped["dice3d"] > 0.85
    assert not session.labels.any()


def test_flood_oracle_keeps_a_tolerance_from_its_grid():
    case = cylinder_case()
    bench = Bench(BenchConfig(sets=["synthetic"], models=["flood"], flood_tolerances=(0.01, 0.2)))
    result = bench.run_case(case, "flood", FloodModel(), "point")
    assert result.flood_tolerance in (0.01, 0.2) and result.flood_tolerance_3d in (0.01, 0.2)
    assert result.metrics["dice@1"] > 0.8 and result.metrics["dice3d"] > 0.6
