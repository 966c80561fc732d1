"""The prompt tools and the dock widget, driven by napari mouse events on a real viewer."""

from __future__ import annotations

import numpy as np
import pytest

from napari_medseg._qt.tools import PromptTools
from napari_medseg.core.prompts import BoxPrompt, LassoPrompt, PointPrompt, ScribblePrompt, SliceRef


def _same(got: list, expected: list) -> bool:
    """Same prompts up to floating-point noise of the world <-> data transforms."""
    return len(got) == len(expected) and all(
        type(g) is type(e) and g.slice == e.slice and g.positive == e.positive and np.allclose(g.point, e.point)
        for g, e in zip(got, expected, strict=True)
    )


@pytest.fixture
def tools(ct_viewer):
    received: list = []
    t = PromptTools(ct_viewer, ct_viewer.layers["ct"], received.append)
    t.received = received
    return t


def test_point_tool_click_gives_plane_point_with_polarity(tools, ct_viewer, mouse):
    ct_viewer.dims.set_current_step(0, 5)
    tools.set_tool("point")
    mouse.click(tools.points, (5, 20, 30))
    mouse.click(tools.points, (5, 22, 31), modifiers=("Shift",))
    tools.set_positive(False)
    mouse.click(tools.points, (5, 40, 41))
    assert _same(tools.received, [
        PointPrompt(SliceRef(0, 5), (20.0, 30.0), True),
        PointPrompt(SliceRef(0, 5), (22.0, 31.0), False),
        PointPrompt(SliceRef(0, 5), (40.0, 41.0), False),
    ])
    colors = tools.points.face_color
    assert colors[0][1] > colors[0][0] and colors[1][0] > colors[1][1]  # green, then red


def test_box_tool_rectangle_gives_box(tools, ct_viewer, mouse):
    ct_viewer.dims.set_current_step(0, 7)
    tools.set_tool("box")
    mouse.drag(tools.boxes, [(7, 10, 12), (7, 20, 25), (7, 30, 40)])
    assert len(tools.received) == 1
    box = tools.received[0]
    assert isinstance(box, BoxPrompt) and box.slice == SliceRef(0, 7) and box.positive
    assert np.allclose(box.bounds, (10, 12, 30, 40), atol=0.6)


def test_lasso_tool_freehand_polygon_gives_lasso(tools, ct_viewer, mouse):
    from napari.settings import get_settings

    get_settings().experimental.rdp_epsilon = 0
    ct_viewer.dims.set_current_step(0, 3)
    tools.set_tool("lasso")
    outline = [(3, 10, 10), (3, 10, 40), (3, 40, 40), (3, 40, 10), (3, 12, 10)]
    mouse.drag(tools.lassos, outline, modifiers=("Control",))
    assert len(tools.received) == 1
    lasso = tools.received[0]
    assert isinstance(lasso, LassoPrompt) and lasso.slice == SliceRef(0, 3) and not lasso.positive
    assert len(lasso.vertices) >= 4
    assert {tuple(np.round(v)) for v in lasso.vertices} >= {(10.0, 40.0), (40.0, 40.0)}


def test_scribble_tool_stroke_gives_ordered_scribble_and_paints(tools, ct_viewer, mouse):
    ct_viewer.dims.set_current_step(0, 9)
    tools.set_tool("scribble")
    stroke = [(9, 20, 20), (9, 20, 24), (9, 24, 28), (9, 30, 30)]
    mouse.drag(tools.scribbles, stroke)
    assert len(tools.received) == 1
    scribble = tools.received[0]
    assert isinstance(scribble, ScribblePrompt) and scribble.slice == SliceRef(0, 9) and scribble.positive
    assert np.allclose(scribble.points[0], (20, 20)) and np.allclose(scribble.points[-1], (30, 30))
    assert scribble.width == tools.scribbles.brush_size
    painted = tools.scribbles.data[9]
    assert painted[20, 20] == 1 and painted[30, 30] == 1 and not tools.scribbles.data[8].any()
    mouse.drag(tools.scribbles, [(9, 50, 50), (9, 52, 52)], modifiers=("Shift",))
    assert not tools.received[1].positive and tools.scribbles.data[9][51, 51] == 2


def test_transposed_view_uses_hidden_axis(tools, ct_viewer, mouse):
    ct_viewer.dims.order = (1, 0, 2)  # hide axis 1, show axes 0 and 2
    ct_viewer.dims.set_current_step(1, 33)
    tools.set_tool("point")
    mouse.click(tools.points, (6, 33, 12), dims_displayed=(0, 2))
    assert _same(tools.received, [PointPrompt(SliceRef(1, 33), (6.0, 12.0), True)])


def test_clear_removes_drawings(tools, ct_viewer, mouse):
    ct_viewer.dims.set_current_step(0, 0)
    tools.set_tool("box")
    mouse.drag(tools.boxes, [(0, 10, 10), (0, 20, 20)])
    tools.set_tool("scribble")
    mouse.drag(tools.scribbles, [(0, 5, 5), (0, 8, 8)])
    tools.clear()
    assert tools.boxes.nshapes == 0 and not tools.scribbles.data.any()
    tools.set_tool("box")
    mouse.drag(tools.boxes, [(0, 30, 30), (0, 40, 40)])
    assert len(tools.received) == 3  # the box after clearing counts as new
