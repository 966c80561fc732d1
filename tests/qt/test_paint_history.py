"""region_before: napari's paint events (every edit kind of its Labels layer) as region + values before."""

from __future__ import annotations

import numpy as np
import pytest
from napari.layers import Labels

from napari_medseg._qt.paint_history import region_before


@pytest.mark.parametrize(
    "edit",
    [
        lambda layer: layer.paint((3, 10, 12), 4),  # the brush
        lambda layer: layer.fill((3, 20, 20), 6),  # the bucket, contiguous: the block of 2s
        lambda layer: setattr(layer, "contiguous", False) or layer.fill((5, 1, 1), 9),  # every 0 voxel
        lambda layer: layer.data_setitem((np.array([1, 2, 2]), np.array([4, 5, 30]), np.array([6, 7, 8])), 3),
        lambda layer: layer.paint_polygon([(3, 5, 5), (3, 5, 25), (3, 25, 15)], 5),
    ],
)
def test_the_values_before_each_kind_of_napari_edit_come_back(edit):
    data = np.zeros((6, 32, 40), dtype=np.uint16)
    data[:, 15:25, 15:30] = 2
    data[3, 8:12, 10:14] = 1
    layer = Labels(data.copy())
    layer.brush_size = 4
    seen = []  # worked out inside the event, as the widget does: napari emits it before it writes a dab
    layer.events.paint.connect(lambda event: seen.append(region_before(layer.data, event.value)))
    previous = layer.data.copy()
    edit(layer)
    assert len(seen) == 1 and (layer.data != previous).any()
    region, before, after = seen[0]
    np.testing.assert_array_equal(before, previous[region])
    np.testing.assert_array_equal(after, layer.data[region])
    outside = np.ones(data.shape, dtype=bool)
    outside[region] = False
    assert np.array_equal(layer.data[outside], previous[outside])  # the region holds every change


def test_an_event_that_changed_nothing_gives_none():
    assert region_before(np.zeros((2, 3, 4)), []) is None


def test_a_stroke_of_several_dabs_is_one_event_with_its_values_before_and_after():
    layer = Labels(np.zeros((4, 30, 30), dtype=np.uint8))
    layer.brush_size = 3
    seen = []
    layer.events.paint.connect(lambda event: seen.append(region_before(layer.data, event.value)))
    layer._begin_stroke()
    for c in range(5, 20, 2):
        layer.paint((2, 10, c), 3)
    assert seen == []
    layer._commit_stroke()
    region, before, after = seen[0]
    assert not before.any() and np.array_equal(after, layer.data[region]) and (after == 3).sum() > 20
