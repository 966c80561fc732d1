"""propagate(): slice-to-slice prompts, stop rules, key slices meeting in the middle.

The model here is a test double of the algorithm's collaborator (allowed in a unit test of the
algorithm): on slice z it returns the connected components of a known truth slice that touch the
region the prompts point at (previous mask logits > 0, the box, the positive points).
"""

from __future__ import annotations

import numpy as np
import pytest
from propagation_doubles import disc
from scipy import ndimage

from napari_medseg.core.prompts import BoxPrompt, PointPrompt, rasterize
from napari_medseg.core.propagation import PropagationOptions, plan_walks, propagate
from napari_medseg.core.slice_prompts import (
    bounding_box,
    enlarge_box,
    interior_points,
    keep_overlapping,
    outside_points,
)
from napari_medseg.errors import CancelledError, MedsegError


class TruthDecoder:
    """Returns the truth components touched by the prompts; records every call."""

    def __init__(self, truth: np.ndarray, extra: np.ndarray | None = None):
        self.truth = truth.astype(bool)  # (depth, H, W)
        self.extra = extra  # pixels added to every answer (spurious blobs)
        self.calls: list[tuple[int, list, np.ndarray | None]] = []

    def __call__(self, index, prompts, prev_logits):
        self.calls.append((index, list(prompts), prev_logits))
        shape = self.truth.shape[1:]
        seed = np.zeros(shape, dtype=bool)
        if prev_logits is not None:
            seed |= prev_logits > 0
        for p in prompts:
            if isinstance(p, BoxPrompt):
                r0, c0, r1, c1 = p.bounds
                box = rasterize(p, shape)
                # a box selects what lies mostly inside it: components whose box fits in it
                lab, n = ndimage.label(self.truth[index])
                for i, sl in enumerate(ndimage.find_objects(lab), start=1):
                    if (
                        sl[0].start >= r0
                        and sl[0].stop - 1 <= r1
                        and sl[1].start >= c0
                        and sl[1].stop - 1 <= c1
                    ):
                        seed |= (lab == i) & box
            elif isinstance(p, PointPrompt) and p.positive:
                seed |= rasterize(p, shape)
        lab, _ = ndimage.label(self.truth[index])
        keep = np.unique(lab[seed])
        mask = np.isin(lab, keep[keep > 0])
        if self.extra is not None:
            mask |= self.extra
        return np.where(mask, 4.0, -4.0).astype(np.float32)


def ball(depth=21, size=48, radius=8.0, center=None):
    c = center or (depth // 2, size // 2, size // 2)
    z, y, x = np.ogrid[:depth, :size, :size]
    return (z - c[0]) ** 2 + (y - c[1]) ** 2 + (x - c[2]) ** 2 <= radius**2


@pytest.mark.parametrize("mode", ["mask", "box", "points", "mask+box", "mask+box+points"])
def test_every_mode_recovers_a_ball_from_its_middle_slice(mode):
    truth = ball()
    decoder = TruthDecoder(truth)
    out = propagate(
        decoder, {10: truth[10]}, depth=21, options=PropagationOptions(prompt_mode=mode, min_area=4)
    )
    expected = {z for z in range(21) if z != 10 and truth[z].sum() >= 4}
    assert set(out) == expected
    for z in expected:
        np.testing.assert_array_equal(out[z], truth[z])
    # prompts follow the mode
    _, prompts, prev_logits = decoder.calls[0]
    assert (prev_logits is not None) == ("mask" in mode)
    assert any(isinstance(p, BoxPrompt) for p in prompts) == ("box" in mode)
    assert any(isinstance(p, PointPrompt) for p in prompts) == ("points" in mode)


def test_a_cylinder_runs_to_both_borders_and_stops_there():
    truth = np.zeros((9, 32, 32), dtype=bool)
    truth[:, 10:20, 8:18] = True
    decoder = TruthDecoder(truth)
    out = propagate(decoder, {4: truth[4]}, depth=9)
    assert set(out) == {0, 1, 2, 3, 5, 6, 7, 8}
    assert sorted(c[0] for c in decoder.calls) == [0, 1, 2, 3, 5, 6, 7, 8]


def test_iou_rule_stops_where_the_object_jumps():
    truth = np.zeros((10, 40, 40), dtype=bool)
    truth[:6, 5:15, 5:15] = True
    truth[6:, 5:15, 11:21] = True  # overlaps slice 5 with IoU 4/16 = 0.25
    out = propagate(
        TruthDecoder(truth), {0: truth[0]}, depth=10, options=PropagationOptions(iou_threshold=0.5)
    )
    assert set(out) == {1, 2, 3, 4, 5}
    out = propagate(
        TruthDecoder(truth), {0: truth[0]}, depth=10, options=PropagationOptions(iou_threshold=0.2)
    )
    assert set(out) == set(range(1, 10))


def test_vanishing_mask_stops_at_min_area():
    truth = np.zeros((8, 20, 20), dtype=bool)
    truth[:4, 5:10, 5:10] = True
    truth[4, 5:7, 5:7] = True  # 4 pixels
    decoder = TruthDecoder(truth)
    assert set(
        propagate(decoder, {0: truth[0]}, depth=8, options=PropagationOptions(min_area=5, iou_threshold=0))
    ) == {
        1,
        2,
        3,
    }
    out = propagate(
        TruthDecoder(truth), {0: truth[0]}, depth=8, options=PropagationOptions(min_area=4, iou_threshold=0)
    )
    assert set(out) == {1, 2, 3, 4}


def test_max_distance_stop_slices_and_directions():
    truth = np.zeros((15, 24, 24), dtype=bool)
    truth[:, 6:16, 6:16] = True
    key = {7: truth[7]}
    assert set(propagate(TruthDecoder(truth), key, 15, PropagationOptions(max_distance=2))) == {5, 6, 8, 9}
    decoder = TruthDecoder(truth)
    out = propagate(decoder, key, 15, PropagationOptions(stop_slices=frozenset({4, 12})))
    assert set(out) == {5, 6, 8, 9, 10, 11}
    assert {c[0] for c in decoder.calls}.isdisjoint({4, 12}), "a stop slice itself is never decoded"
    assert set(propagate(TruthDecoder(truth), key, 15, PropagationOptions(direction="forward"))) == set(
        range(8, 15)
    )
    assert set(propagate(TruthDecoder(truth), key, 15, PropagationOptions(direction="backward"))) == set(
        range(0, 7)
    )


def test_two_key_slices_meet_in_the_middle_each_slice_from_its_nearer_key():
    # two separate tubes; key 2 holds tube A, key 9 holds tube B: slices 3..5 follow A, 6..8 follow B
    truth = np.zeros((12, 30, 30), dtype=bool)
    truth[:, 3:10, 3:10] = True
    truth[:, 18:26, 18:26] = True
    key_a = np.zeros((30, 30), dtype=bool)
    key_a[3:10, 3:10] = True
    key_b = np.zeros((30, 30), dtype=bool)
    key_b[18:26, 18:26] = True
    decoder = TruthDecoder(truth)
    out = propagate(decoder, {2: key_a, 9: key_b}, depth=12, options=PropagationOptions(prompt_mode="mask"))
    assert set(out) == {0, 1, 3, 4, 5, 6, 7, 8, 10, 11}
    for z in (0, 1, 3, 4, 5):
        np.testing.assert_array_equal(out[z], key_a)
    for z in (6, 7, 8, 10, 11):
        np.testing.assert_array_equal(out[z], key_b)
    decoded = [c[0] for c in decoder.calls]
    assert sorted(decoded) == sorted(out), "every slice decoded exactly once, key slices never"


def test_plan_walks_between_keys():
    opts = PropagationOptions()
    walks = plan_walks([2, 9], 12, opts)
    assert {(w.key, w.step, w.last) for w in walks} == {(2, -1, 0), (2, 1, 5), (9, -1, 6), (9, 1, 11)}
    forward = plan_walks([2, 9], 12, PropagationOptions(direction="forward"))
    assert {(w.key, w.step, w.last) for w in forward} == {(2, 1, 8), (9, 1, 11)}
    assert [
        (w.key, w.step, w.last) for w in plan_walks([3, 4], 6, PropagationOptions(direction="forward"))
    ] == [(4, 1, 5)]
    limited = plan_walks([5], 12, PropagationOptions(max_distance=3, stop_slices=frozenset({3})))
    assert {(w.key, w.step, w.last) for w in limited} == {(5, -1, 4), (5, 1, 8)}


def test_keep_overlapping_drops_a_spurious_blob_and_the_option_turns_it_off():
    truth = np.zeros((6, 40, 40), dtype=bool)
    truth[:, 5:15, 5:15] = True
    blob = np.zeros((40, 40), dtype=bool)
    blob[30:33, 30:33] = True
    out = propagate(
        TruthDecoder(truth, extra=blob), {0: truth[0]}, 6, PropagationOptions(keep_overlapping=True)
    )
    for z in range(1, 6):
        np.testing.assert_array_equal(out[z], truth[z])
    out = propagate(
        TruthDecoder(truth, extra=blob), {0: truth[0]}, 6, PropagationOptions(keep_overlapping=False)
    )
    assert all(out[z][31, 31] for z in range(1, 6))


def test_keep_overlapping_keeps_every_touching_piece():
    prev = np.zeros((20, 20), dtype=bool)
    prev[2:18, 2:8] = True
    mask = np.zeros((20, 20), dtype=bool)
    mask[2:8, 2:8] = True  # touches prev
    mask[12:18, 2:8] = True  # touches prev
    mask[10:12, 15:18] = True  # does not
    kept, box = keep_overlapping(mask, bounding_box(mask), prev)
    assert kept[5, 5] and kept[15, 5] and not kept[11, 16]
    assert box == (2, 18, 2, 8)


def test_cancel_keeps_finished_slices_and_reports_progress():
    truth = np.zeros((12, 20, 20), dtype=bool)
    truth[:, 4:12, 4:12] = True
    seen, reports = [], []
    with pytest.raises(CancelledError):
        propagate(
            TruthDecoder(truth),
            {0: truth[0]},
            12,
            PropagationOptions(),
            progress=lambda d, t: reports.append((d, t)),
            cancel=lambda: len(seen) >= 3,
            on_slice=lambda z, m: seen.append(z),
        )
    assert seen == [1, 2, 3]
    assert reports == [(1, 11), (2, 11), (3, 11)]


def test_progress_total_shrinks_when_a_walk_stops_early():
    truth = ball(depth=21, radius=5.0)
    reports = []
    out = propagate(TruthDecoder(truth), {10: truth[10]}, 21, progress=lambda d, t: reports.append((d, t)))
    assert reports[-1] == (len(out), len(out))
    assert [d for d, _ in reports] == sorted(d for d, _ in reports)


def test_raw_logits_passes_the_previous_decoder_output():
    truth = np.zeros((4, 16, 16), dtype=bool)
    truth[:, 4:10, 4:10] = True
    decoder = TruthDecoder(truth)
    propagate(
        decoder,
        {0: truth[0]},
        4,
        PropagationOptions(prompt_mode="mask", raw_logits=True, direction="forward"),
    )
    assert float(decoder.calls[0][2].max()) == 8.0  # the key slice: mask as confident logits
    assert float(decoder.calls[1][2].max()) == 4.0  # then the decoder's own logits


def test_bad_options_inputs_and_model_outputs_raise_one_line_errors():
    truth = ball()
    for opts in (
        PropagationOptions(prompt_mode="mask+lines"),
        PropagationOptions(direction="up"),
        PropagationOptions(iou_threshold=1.5),
        PropagationOptions(max_distance=-1),
    ):
        with pytest.raises(MedsegError) as err:
            propagate(TruthDecoder(truth), {10: truth[10]}, 21, opts)
        assert "\n" not in str(err.value)
    with pytest.raises(MedsegError):
        propagate(TruthDecoder(truth), {}, 21)
    with pytest.raises(MedsegError):
        propagate(TruthDecoder(truth), {30: truth[10]}, 21)
    with pytest.raises(MedsegError, match="shape"):
        propagate(lambda i, p, prev: np.zeros((5, 5), np.float32), {10: truth[10]}, 21)


def test_interior_points_and_negatives():
    dumbbell = np.zeros((40, 80), dtype=bool)
    dumbbell[5:35, 5:35] = True
    dumbbell[5:35, 45:75] = True
    dumbbell[18:22, 35:45] = True
    box = bounding_box(dumbbell)
    pts = interior_points(dumbbell, box, 3)
    assert len(pts) == 2, "two lobes, the bridge is too thin to deserve a click"
    assert all(dumbbell[int(r), int(c)] for r, c in pts)
    assert {int(c) < 40 for _, c in pts} == {True, False}
    big = np.zeros((512, 512), dtype=bool)
    big[100:400, 50:450] = True
    pts = interior_points(big, bounding_box(big), 1)
    ((r, c),) = pts
    assert min(r - 100, 399 - r, c - 50, 449 - c) >= 140, "the click lies deep inside (subsampled transform)"
    enlarged = enlarge_box(box, dumbbell.shape, 0.1)
    assert enlarged == (2, 38, 0, 80)
    negs = outside_points(enlarged, dumbbell.shape)
    assert negs == [(1.0, 39.5), (38.0, 39.5)]


def test_a_walk_that_stops_early_between_keys_is_made_up_by_the_other_one():
    truth = np.zeros((14, 24, 24), dtype=bool)
    truth[:4, 5:15, 5:15] = True
    truth[4:, 5:15, 11:21] = True  # the object jumps between slices 3 and 4 (IoU 0.25)
    keys = {2: truth[2], 12: truth[12]}
    reports = []
    out = propagate(
        TruthDecoder(truth), keys, 14, PropagationOptions(), progress=lambda d, t: reports.append((d, t))
    )
    assert set(out) == {0, 1, 3, *range(4, 12), 13}, "slices 4..7 came from key 12 once key 2's walk stopped"
    for z in range(4, 8):
        np.testing.assert_array_equal(out[z], truth[z])
    assert reports[-1] == (len(out), len(out))
    without = propagate(TruthDecoder(truth), keys, 14, PropagationOptions(fill_gaps=False))
    assert set(without) == {0, 1, 3, 8, 9, 10, 11, 13}
    blocked = propagate(TruthDecoder(truth), keys, 14, PropagationOptions(stop_slices=frozenset({6})))
    assert set(blocked) == {0, 1, 3, 7, 8, 9, 10, 11, 13}, "the extension respects stop slices"


def test_a_short_gap_is_skipped_and_left_empty_a_longer_one_ends_the_walk():
    truth = np.zeros((14, 32, 32), dtype=bool)
    truth[:, 10:20, 8:18] = True
    truth[5:7] = False  # a two-slice gap (a disc between vertebrae)
    truth[10:13] = False  # a three-slice gap
    decoder = TruthDecoder(truth)
    done = []
    out = propagate(decoder, {2: truth[2]}, depth=14, progress=lambda d, t: done.append((d, t)))
    assert set(out) == {0, 1, 3, 4, 7, 8, 9}  # over the 2-slice gap, not over the 3-slice one
    assert done[-1][0] == done[-1][1] == 7  # the skipped and unreached slices left the estimate
    assert set(propagate(TruthDecoder(truth), {2: truth[2]}, 14, PropagationOptions(max_gap=0))) == {0, 1, 3, 4}
    with pytest.raises(MedsegError, match="max_gap"):
        PropagationOptions(max_gap=-1).validate()


def test_a_tapered_object_is_not_looked_for_past_a_gap():
    truth = np.zeros((14, 40, 40), dtype=bool)
    for z, radius in enumerate((12, 11, 9, 7, 5, 3)):  # an object tapering to its end at slice 5
        truth[z] = disc((40, 40), (20, 20), radius)
    truth[8:12] = disc((40, 40), (20, 21), 2)  # after a two-slice gap, a small stray blob
    out = propagate(TruthDecoder(truth), {0: truth[0]}, depth=14)
    assert set(out) == {1, 2, 3, 4, 5}, "the walk ended with the object: 29 px < 10% of the key's 441"
    anyway = propagate(TruthDecoder(truth), {0: truth[0]}, 14, PropagationOptions(gap_min_share=0.0))
    assert set(anyway) == {1, 2, 3, 4, 5, 8, 9, 10, 11}, "without the rule the blob was taken for the object"
    blunt = truth.copy()
    blunt[1:6] = truth[0]
    blunt[8:12] = truth[0]  # an object that stays large up to the gap (a vertebra before a disc)
    assert set(propagate(TruthDecoder(blunt), {0: truth[0]}, 14)) == {1, 2, 3, 4, 5, 8, 9, 10, 11}
    with pytest.raises(MedsegError, match="gap_min_share"):
        PropagationOptions(gap_min_share=1.5).validate()
