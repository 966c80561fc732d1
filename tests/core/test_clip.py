"""Drawings cut to the slice (core/clip.py)."""

from __future__ import annotations

import numpy as np

from napari_medseg.core.clip import clip_box, clip_polygon, clip_polyline
from napari_medseg.core.prompts import LassoPrompt, SliceRef, rasterize_polygon

SHAPE = (20, 30)  # rows -0.5..19.5, cols -0.5..29.5


def test_a_box_is_cut_to_the_slice_and_one_wholly_outside_is_none():
    assert clip_box((5.0, 25.0), (12.0, 40.0), SHAPE) == ((5.0, 25.0), (12.0, 29.5))
    assert clip_box((-8.0, -3.0), (4.0, 6.0), SHAPE) == ((-0.5, -0.5), (4.0, 6.0))
    assert clip_box((12.0, 40.0), (5.0, 25.0), SHAPE) == ((5.0, 25.0), (12.0, 29.5))  # corners in any order
    assert clip_box((3.0, 31.0), (8.0, 45.0), SHAPE) is None
    assert clip_box((2.0, 3.0), (8.0, 9.0), SHAPE) == ((2.0, 3.0), (8.0, 9.0))  # inside: as drawn


def test_a_polygon_past_the_edge_keeps_exactly_its_part_on_the_slice():
    square = [(10.0, 20.0), (10.0, 40.0), (30.0, 40.0), (30.0, 20.0)]  # reaches past the bottom-right corner
    cut = clip_polygon(square, SHAPE)
    assert len(cut) >= 4
    rr, cc = np.asarray(cut).T
    assert rr.min() == 10.0 and rr.max() == 19.5 and cc.min() == 20.0 and cc.max() == 29.5
    ref = SliceRef(2, 0)
    inside = rasterize_polygon(LassoPrompt(ref, tuple(cut)).vertices, SHAPE)
    drawn = rasterize_polygon(LassoPrompt(ref, tuple(square)).vertices, SHAPE)
    np.testing.assert_array_equal(inside, drawn)  # the same pixels as the polygon drawn
    assert clip_polygon([(25.0, 5.0), (25.0, 9.0), (28.0, 7.0)], SHAPE) == []  # below the slice
    triangle = [(2.0, 2.0), (2.0, 8.0), (6.0, 5.0)]
    assert clip_polygon(triangle, SHAPE) == triangle


def test_a_stroke_leaving_and_coming_back_gives_two_runs_ending_on_the_edge():
    stroke = [(10.0, 20.0), (10.0, 28.0), (10.0, 35.0), (14.0, 35.0), (14.0, 25.0)]  # out past col 29.5, back
    runs = clip_polyline(stroke, SHAPE)
    assert len(runs) == 2
    assert runs[0] == [(10.0, 20.0), (10.0, 28.0), (10.0, 29.5)]
    assert runs[1] == [(14.0, 29.5), (14.0, 25.0)]
    assert clip_polyline([(1.0, 1.0), (3.0, 4.0)], SHAPE) == [[(1.0, 1.0), (3.0, 4.0)]]
    assert clip_polyline([(-5.0, 1.0), (-3.0, 4.0)], SHAPE) == []
    assert clip_polyline([(-5.0, 5.0), (25.0, 5.0)], SHAPE) == [[(-0.5, 5.0), (19.5, 5.0)]]  # crosses it
    assert clip_polyline([(4.0, 4.0)], SHAPE) == [[(4.0, 4.0)]]  # a dot


def test_clipped_ends_never_land_a_rounding_error_past_the_edge():
    """Interpolated crossings (a stroke or outline leaving through a corner region at a slant) are
    held within -0.5 .. size - 0.5: the session's check refused 15.500000000000002 on a 16-row slice."""
    from napari_medseg.core.prompts import ScribblePrompt, validate_prompt

    rng = np.random.default_rng(3)
    ref = SliceRef(2, 0)
    for _ in range(2000):
        points = [tuple(float(v) for v in rng.uniform((-9, -9), (25, 35))) for _ in range(int(rng.integers(2, 6)))]
        for run in clip_polyline(points, SHAPE):
            validate_prompt(ScribblePrompt(ref, tuple(run)), (*SHAPE, 1))
        for r, c in clip_polygon(points, SHAPE):
            assert -0.5 <= r <= 19.5 and -0.5 <= c <= 29.5
