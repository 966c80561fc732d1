"""Prompts: plane coordinates, validation (every error, one line), rasterising."""

from __future__ import annotations

import numpy as np
import pytest

from napari_medseg.core.prompts import (
    BoxPrompt,
    LassoPrompt,
    PointPrompt,
    ScribblePrompt,
    SliceRef,
    fill_polygon,
    join_voxel,
    prompt_coords,
    rasterize,
    rasterize_box,
    rasterize_point,
    rasterize_polygon,
    rasterize_polyline,
    segment_pixels,
    split_voxel,
    validate_interaction,
    validate_prompt,
)
from napari_medseg.errors import PromptError

SHAPE = (20, 16, 8)  # volume (i, j, k)
REF = SliceRef(axis=2, index=3)  # plane 20 x 16


def _error(prompt_or_call, match: str) -> str:
    with pytest.raises(PromptError, match=match) as exc:
        if callable(prompt_or_call):
            prompt_or_call()
        else:
            validate_prompt(prompt_or_call, SHAPE)
    msg = str(exc.value)
    assert "\n" not in msg
    return msg


@pytest.mark.parametrize(("axis", "plane"), [(0, (16, 8)), (1, (20, 8)), (2, (20, 16))])
def test_plane_shape_drops_the_slicing_axis(axis, plane):
    assert SliceRef(axis, 0).plane_shape(SHAPE) == plane


@pytest.mark.parametrize("axis", [0, 1, 2])
def test_split_and_join_voxel_round_trip(axis):
    voxel = (4.0, 7.5, 2.0)
    index, rc = split_voxel(voxel, axis)
    assert index == voxel[axis]
    assert rc == tuple(v for i, v in enumerate(voxel) if i != axis)
    assert join_voxel(index, rc, axis) == voxel
    plane = np.take(np.arange(np.prod(SHAPE)).reshape(SHAPE), 2, axis=axis)
    vol = np.arange(np.prod(SHAPE)).reshape(SHAPE)
    i, j, k = (int(x) for x in join_voxel(2, (3, 5), axis))
    assert plane[3, 5] == vol[i, j, k]  # (row, col) are the remaining axes in order


def test_split_voxel_errors():
    _error(lambda: split_voxel((1, 2), 2), "needs 3 values")
    _error(lambda: split_voxel((1, 2, 3), 3), "axis must be 0, 1 or 2")


def test_valid_prompts_pass():
    for prompt in (
        PointPrompt(REF, (0, 0)),
        PointPrompt(REF, (19.5, 15.5), positive=False),
        PointPrompt(SliceRef(np.int64(0), np.int64(19)), (15, 7)),
        BoxPrompt(REF, (2, 3), (10, 12)),
        ScribblePrompt(REF, ((1, 1), (5, 9), (10, 2)), width=2.5),
        ScribblePrompt(REF, ((4, 4),)),
        LassoPrompt(REF, ((1, 1), (1, 10), (12, 5))),
    ):
        validate_prompt(prompt, SHAPE)


@pytest.mark.parametrize("axis", [-1, 3, 2.0, "2", True])
def test_bad_axis(axis):
    _error(PointPrompt(SliceRef(axis, 0), (1, 1)), "axis must be 0, 1 or 2")


def test_bad_index():
    msg = _error(PointPrompt(SliceRef(2, 8), (1, 1)), "outside the volume")
    assert "0..7" in msg
    _error(PointPrompt(SliceRef(2, -1), (1, 1)), "outside the volume")
    _error(PointPrompt(SliceRef(2, 1.5), (1, 1)), "whole number")


@pytest.mark.parametrize("point", [(-0.6, 3), (3, 15.6), (20, 0), (100, 100)])
def test_point_outside_the_slice(point):
    msg = _error(PointPrompt(REF, point), "outside the slice")
    assert "20x16" in msg


@pytest.mark.parametrize("point", [(np.nan, 1), (1, np.inf)])
def test_non_finite_coordinates(point):
    _error(PointPrompt(REF, point), "non-finite")


@pytest.mark.parametrize("point", [("a", 1), (1, None), (1, 2, 3)])
def test_malformed_coordinates(point):
    _error(PointPrompt(REF, point), r"\(row, col\) pair")


def test_degenerate_box():
    _error(BoxPrompt(REF, (4, 4), (4, 9)), "degenerate")
    _error(BoxPrompt(REF, (4, 4), (4.5, 9)), "degenerate")
    _error(BoxPrompt(REF, (2, 3), (30, 12)), "outside the slice")


def test_scribble_errors():
    _error(ScribblePrompt(REF, ()), "empty")
    _error(ScribblePrompt(REF, ((1, 1),), width=0), "width")
    _error(ScribblePrompt(REF, ((1, 1),), width=float("nan")), "width")
    _error(ScribblePrompt(REF, ((1, 1),), width=float("inf")), "width")
    _error(ScribblePrompt(REF, ((1, 1), (40, 1))), "outside the slice")


def test_lasso_errors():
    _error(LassoPrompt(REF, ((1, 1), (5, 5))), "at least 3")
    _error(LassoPrompt(REF, ((1, 1), (2, 2), (3, 3))), "no area")
    _error(LassoPrompt(REF, ((1, 1), (1, 5), (1, 1), (1, 5))), "no area")


def test_interaction_validation():
    other = SliceRef(2, 4)
    assert validate_interaction([PointPrompt(REF, (1, 1)), BoxPrompt(REF, (1, 1), (5, 5))], SHAPE) == REF
    _error(lambda: validate_interaction([], SHAPE), "at least one prompt")
    msg = _error(
        lambda: validate_interaction([PointPrompt(other, (1, 1)), PointPrompt(REF, (1, 1))], SHAPE),
        "different slices",
    )
    assert msg.index("slice 3") < msg.index("slice 4")
    _error(
        lambda: validate_interaction([PointPrompt(REF, (1, 1)), PointPrompt(REF, (99, 1))], SHAPE), "outside"
    )


def test_prompt_coords():
    assert prompt_coords(PointPrompt(REF, (1, 2))) == [(1, 2)]
    assert prompt_coords(BoxPrompt(REF, (1, 2), (3, 4))) == [(1, 2), (3, 4)]
    assert prompt_coords(ScribblePrompt(REF, ((1, 2), (3, 4)))) == [(1, 2), (3, 4)]
    assert len(prompt_coords(LassoPrompt(REF, ((1, 1), (1, 5), (5, 1))))) == 3


def test_box_bounds_are_ordered():
    assert BoxPrompt(REF, (9, 2), (3, 7)).bounds == (3, 2, 9, 7)


# --- rasterising --------------------------------------------------------------------------------


def test_rasterize_point_pixel_and_disc():
    one = rasterize_point((3.4, 5.6), (10, 10))
    assert one.sum() == 1 and one[3, 6]
    clamped = rasterize_point((-0.5, 9.5), (10, 10))
    assert clamped.sum() == 1 and clamped[0, 9]
    disc = rasterize_point((5, 5), (11, 11), radius=2)
    assert disc.sum() == 13 and disc[5, 7] and not disc[6, 7]
    edge = rasterize_point((0, 0), (11, 11), radius=2)
    assert edge.sum() == 6  # the quarter of the disc inside the plane


def test_rasterize_box_covers_the_pixels_of_its_corners():
    out = rasterize_box(BoxPrompt(REF, (5.6, 2.4), (2.4, 5.6)), (10, 10))
    rows, cols = np.nonzero(out)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (2, 6, 2, 6)
    assert out.sum() == 25
    full = rasterize_box(BoxPrompt(REF, (-0.5, -0.5), (9.5, 9.5)), (10, 10))
    assert full.all()


def test_rasterize_polyline_width_and_connectivity():
    thin = rasterize_polyline([(1, 1), (1, 8), (8, 8)], (10, 10), width=1)
    assert thin.sum() == 15 and thin[1, 1:9].all() and thin[1:9, 8].all()
    thick = rasterize_polyline([(5, 1), (5, 8)], (11, 11), width=3)
    assert thick[4:7, 1:9].all() and not thick[3, 4] and not thick[7, 4]
    wide = rasterize_polyline([(5, 5)], (11, 11), width=5)
    assert wide.sum() == 13  # a disc of radius 2 around the single point
    clipped = rasterize_polyline([(-3, 2), (12, 2)], (10, 10), width=1)
    assert clipped[:, 2].all() and clipped.sum() == 10


def test_rasterize_polygon_fills_and_keeps_the_outline():
    square = rasterize_polygon([(1, 1), (1, 5), (5, 5), (5, 1)], (8, 8))
    assert square[1:6, 1:6].all() and square.sum() == 25
    thin = rasterize_polygon([(2, 0), (2.4, 7), (2.2, 0)], (6, 8))
    assert thin[2].sum() >= 7  # a sliver lasso still covers the pixels along its outline
    tri = rasterize_polygon([(0, 0), (0, 9), (9, 0)], (10, 10))
    assert tri[0].all() and tri[:, 0].all() and not tri[9, 9] and tri[3, 3]


def test_rasterize_dispatches_by_type():
    shape = (20, 16)
    np.testing.assert_array_equal(rasterize(PointPrompt(REF, (2, 3)), shape), rasterize_point((2, 3), shape))
    box = BoxPrompt(REF, (2, 3), (6, 9))
    np.testing.assert_array_equal(rasterize(box, shape), rasterize_box(box, shape))
    scribble = ScribblePrompt(REF, ((2, 3), (8, 3)), width=3)
    np.testing.assert_array_equal(rasterize(scribble, shape), rasterize_polyline(scribble.points, shape, 3))
    lasso = LassoPrompt(REF, ((1, 1), (1, 8), (8, 4)))
    np.testing.assert_array_equal(rasterize(lasso, shape), rasterize_polygon(lasso.vertices, shape))
    for prompt in (PointPrompt(REF, (2, 3)), box, scribble, lasso):
        out = rasterize(prompt, shape)
        assert out.dtype == bool and out.shape == shape


def test_fill_polygon_matches_skimage_point_in_polygon():
    """The vectorised scanline fill agrees with skimage.draw.polygon (a per-pixel test) on random
    convex, star-shaped and self-intersecting polygons, also ones that leave the slice."""
    from skimage.draw import polygon

    rng = np.random.default_rng(3)
    differing = total = 0
    for k in range(200):
        n = int(rng.integers(3, 40))
        angles = np.sort(rng.uniform(0, 2 * np.pi, n)) if k % 2 else rng.uniform(0, 2 * np.pi, n)
        radii = rng.uniform(3, 50, n)
        centre = rng.uniform(-10, 90, 2)
        v = np.stack([centre[0] + radii * np.sin(angles), centre[1] + radii * np.cos(angles)], 1)
        expected = np.zeros((80, 96), dtype=bool)
        rr, cc = polygon(v[:, 0], v[:, 1], shape=expected.shape)
        expected[rr, cc] = True
        got = fill_polygon(v, expected.shape)
        differing += int((got != expected).sum())
        total += int(expected.sum())
    assert total > 100_000
    assert differing <= total * 1e-3  # only pixel centres lying exactly on an edge may differ
    assert not fill_polygon([(1, 1), (5, 5)], (8, 8)).any()  # two vertices enclose nothing


def test_segment_pixels_are_skimages_lines():
    """The outline and stroke pixels, drawn for all segments at once, are skimage.draw.line's."""
    from skimage.draw import line

    rng = np.random.default_rng(5)
    for _ in range(3000):
        r0, c0, r1, c1 = (int(v) for v in rng.integers(-3, 40, 4))
        rr, cc = segment_pixels(np.array([[r0, c0], [r1, c1]]), closed=False)
        expected = line(r0, c0, r1, c1)
        np.testing.assert_array_equal(rr, expected[0])
        np.testing.assert_array_equal(cc, expected[1])
    pts = rng.integers(0, 30, (7, 2))
    rr, cc = segment_pixels(pts, closed=True)
    drawn = [line(*a, *b) for a, b in zip(pts, np.roll(pts, -1, axis=0), strict=True)]
    np.testing.assert_array_equal(rr, np.concatenate([d[0] for d in drawn]))
    np.testing.assert_array_equal(cc, np.concatenate([d[1] for d in drawn]))


def test_fill_polygon_is_the_even_odd_rule_at_pixel_centres():
    """Every pixel centre, tested on its own: inside when a ray along its row crosses the outline an
    odd number of times to its left, counting an edge when exactly one end lies at or above the row
    (half-open, so a vertex on the row counts once). Random and self-crossing polygons, vertices on
    whole and half pixels (edges through centres, edges along rows), ones that leave the slice."""
    rng = np.random.default_rng(11)
    for k in range(300):
        n = int(rng.integers(3, 30))
        shape = (int(rng.integers(1, 40)), int(rng.integers(1, 40)))
        v = rng.uniform(-5, 45, (n, 2))
        if k % 2:
            v = np.round(v * 2) / 2
        r0, c0 = v[:, 0], v[:, 1]
        r1, c1 = np.roll(r0, -1), np.roll(c0, -1)
        expected = np.zeros(shape, dtype=bool)
        for y in range(shape[0]):
            crossing = (r0 <= y) != (r1 <= y)
            with np.errstate(divide="ignore", invalid="ignore"):
                xs = np.sort((c0 + (y - r0) * ((c1 - c0) / (r1 - r0)))[crossing])
            for a, b in zip(xs[0::2], xs[1::2], strict=False):
                expected[y, max(int(np.ceil(a)), 0) : max(int(np.floor(b)) + 1, 0)] = True
        np.testing.assert_array_equal(fill_polygon(v, shape), expected)


def test_rasterized_prompts_are_fresh_arrays():
    """A lasso or stroke drawn again comes from memory; changing the array one caller got changes
    neither the next caller's nor the remembered one."""
    lasso = [(2.0, 2.0), (2.0, 12.0), (12.0, 7.0)]
    first = rasterize_polygon(lasso, (16, 16))
    expected = first.copy()
    first[:] = False
    again = rasterize_polygon(lasso, (16, 16))
    np.testing.assert_array_equal(again, expected)
    again[:] = False  # (the remembered copy must not be the array handed out)
    np.testing.assert_array_equal(rasterize_polygon(lasso, (16, 16)), expected)
    stroke = rasterize_polyline([(1, 1), (9, 9)], (12, 12), 3.0)
    kept = stroke.copy()
    stroke[:] = True
    again = rasterize_polyline([(1, 1), (9, 9)], (12, 12), 3.0)
    np.testing.assert_array_equal(again, kept)
    again[:] = True
    np.testing.assert_array_equal(rasterize_polyline([(1, 1), (9, 9)], (12, 12), 3.0), kept)
    assert not np.array_equal(rasterize_polyline([(1, 1), (9, 9)], (12, 12), 1.0), kept)  # width is part of it
