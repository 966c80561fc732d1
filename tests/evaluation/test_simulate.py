"""The simulated user puts its prompts where the protocol says."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from napari_medseg.core.prompts import (
    BoxPrompt,
    LassoPrompt,
    PointPrompt,
    ScribblePrompt,
    SliceRef,
    rasterize,
)
from napari_medseg.errors import MedsegError
from napari_medseg.evaluation.simulate import (
    SimulatedUser,
    centreline,
    interior_point,
    largest_error_region,
    outer_contour,
)

REF = SliceRef(2, 5)


def disk(shape=(64, 64), centre=(30, 34), radius=12):
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    return (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= radius**2


def l_shape():
    m = np.zeros((60, 60), dtype=bool)
    m[10:50, 10:20] = True  # vertical bar 10 wide
    m[40:50, 10:50] = True  # horizontal bar 10 high
    return m


def test_first_click_is_the_most_interior_point():
    gt = disk()
    (prompt,) = SimulatedUser("point", REF).next_interaction(gt, None)
    assert isinstance(prompt, PointPrompt) and prompt.positive and prompt.slice == REF
    assert prompt.point == (30.0, 34.0)
    # On a non-convex shape the click lies inside, at the distance-transform maximum.
    r, c = interior_point(l_shape())
    depth = ndimage.distance_transform_edt(np.pad(l_shape(), 1))[1:-1, 1:-1]
    assert l_shape()[int(r), int(c)] and depth[int(r), int(c)] == depth.max()


def test_correction_click_lies_in_the_largest_error_region_with_its_polarity():
    gt = disk()
    user = SimulatedUser("point", REF)
    missed = gt.copy()
    missed[:, 34:] = False  # the right half was missed, a small false positive elsewhere
    missed[2:5, 2:5] = True
    (click,) = user.next_interaction(gt, missed)
    r, c = int(click.point[0]), int(click.point[1])
    assert click.positive and gt[r, c] and not missed[r, c]
    extra = gt | disk(centre=(30, 50), radius=9)  # a false-positive bulge, bigger than any miss
    (click,) = user.next_interaction(gt, extra)
    r, c = int(click.point[0]), int(click.point[1])
    assert not click.positive and extra[r, c] and not gt[r, c]
    assert user.next_interaction(gt, gt) == []  # nothing left to correct


def test_largest_error_region_picks_the_bigger_of_missed_and_extra():
    gt = np.zeros((20, 20), dtype=bool)
    gt[5:15, 5:15] = True
    pred = gt.copy()
    pred[5:7, 5:15] = False  # 20 missed
    pred[0:2, 0:3] = True  # 6 extra
    region, missed = largest_error_region(gt, pred)
    assert missed and region.sum() == 20
    assert largest_error_region(gt, gt) is None


@pytest.mark.parametrize("seed", range(5))
def test_box_covers_the_reference_up_to_its_jitter(seed):
    gt = disk()
    user = SimulatedUser("box", REF, seed=seed, box_jitter=3)
    (box,) = user.next_interaction(gt, None)
    assert isinstance(box, BoxPrompt) and box.positive
    r0, c0, r1, c1 = box.bounds
    rows, cols = np.nonzero(gt)
    for got, want in ((r0, rows.min()), (c0, cols.min()), (r1, rows.max()), (c1, cols.max())):
        assert abs(got - want) <= 3
    shrunk = ndimage.binary_erosion(gt, iterations=3)
    assert (rasterize(box, gt.shape) | ~shrunk).all()  # box contains the reference minus the jitter
    # corrections after a box are clicks
    (click,) = user.next_interaction(gt, np.zeros_like(gt))
    assert isinstance(click, PointPrompt) and click.positive


def test_box_jitter_is_small_on_a_small_object():
    gt = disk(radius=3)
    for seed in range(10):
        (box,) = SimulatedUser("box", REF, seed=seed, box_jitter=3).next_interaction(gt, None)
        rows, cols = np.nonzero(gt)
        assert abs(box.bounds[0] - rows.min()) <= 1 and abs(box.bounds[2] - rows.max()) <= 1


def test_scribble_follows_a_centreline_inside_the_object():
    gt = l_shape()
    (stroke,) = SimulatedUser("scribble", REF).next_interaction(gt, None)
    assert isinstance(stroke, ScribblePrompt) and stroke.positive
    pts = np.round(np.asarray(stroke.points)).astype(int)
    assert gt[pts[:, 0], pts[:, 1]].all()
    # it runs along both arms of the L, not just around one point
    assert np.ptp(pts[:, 0]) > 25 and np.ptp(pts[:, 1]) > 25
    # a negative correction stroke lies inside the false positive
    fp = gt | disk(shape=gt.shape, centre=(20, 40), radius=8)
    (neg,) = SimulatedUser("scribble", REF).next_interaction(gt, fp)
    pts = np.round(np.asarray(neg.points)).astype(int)
    assert not neg.positive and (fp & ~gt)[pts[:, 0], pts[:, 1]].all()
    assert len(centreline(disk(radius=1))) >= 1


def test_lasso_vertices_lie_near_the_contour():
    gt = disk()
    (lasso,) = SimulatedUser("lasso", REF, seed=3, lasso_noise=1.5).next_interaction(gt, None)
    assert isinstance(lasso, LassoPrompt) and lasso.positive and len(lasso.vertices) >= 10
    v = np.asarray(lasso.vertices)
    radius = np.hypot(v[:, 0] - 30, v[:, 1] - 34)
    assert np.all(np.abs(radius - 12.5) < 5.0)  # the outline of a radius-12 disk, a hand's wobble off
    filled = rasterize(lasso, gt.shape)
    assert (filled & gt).sum() / gt.sum() > 0.9
    contour = outer_contour(gt)
    assert np.abs(np.hypot(contour[:, 0] - 30, contour[:, 1] - 34) - 12.5).max() < 1.0
    # a negative correction lasso surrounds the false-positive bulge
    fp = gt | disk(centre=(30, 52), radius=7)
    (neg,) = SimulatedUser("lasso", REF, seed=3).next_interaction(gt, fp)
    inside = rasterize(neg, gt.shape)
    assert not neg.positive and (inside & (fp & ~gt)).sum() >= 0.8 * (fp & ~gt).sum()


def test_tiny_error_region_still_gives_a_valid_lasso():
    gt = disk()
    pred = gt.copy()
    pred[30, 34] = False  # one missed pixel
    (lasso,) = SimulatedUser("lasso", REF).next_interaction(gt, pred)
    assert lasso.positive and rasterize(lasso, gt.shape)[30, 34]


def test_unknown_prompt_type_and_empty_reference_are_refused():
    with pytest.raises(MedsegError, match="unknown prompt type"):
        SimulatedUser("polygon", REF)
    with pytest.raises(ValueError, match="empty"):
        SimulatedUser("point", REF).next_interaction(np.zeros((8, 8), bool), None)
