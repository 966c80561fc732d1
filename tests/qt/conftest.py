"""Fixtures for the widget tests: a real napari viewer holding a small synthetic CT, the real model.

Mouse helpers send napari's own mouse events (press, move, release through the layer's mouse
callbacks, as napari's tests do), so the tool layers see exactly what a user's drag produces.
"""

from __future__ import annotations

import numpy as np
import pytest
from napari.utils._test_utils import read_only_mouse_event
from napari.utils.interactions import mouse_move_callbacks, mouse_press_callbacks, mouse_release_callbacks

SHAPE = (16, 64, 64)  # slices along axis 0, the axis napari hides by default
CENTER = (8, 30, 34)
RADII = (6.5, 13.0, 11.0)


def blob_mask(shape=SHAPE, center=CENTER, radii=RADII) -> np.ndarray:
    """The bright ellipsoid of :func:`synthetic_ct`."""
    grid = np.indices(shape, dtype=float)
    return sum(((g - c) / r) ** 2 for g, c, r in zip(grid, center, radii, strict=True)) <= 1.0


def synthetic_ct(shape=SHAPE, seed: int = 0) -> np.ndarray:
    """Air, a soft-tissue body and a bright ellipsoidal organ, in HU with noise."""
    rng = np.random.default_rng(seed)
    body = blob_mask(shape, (shape[0] / 2, shape[1] / 2, shape[2] / 2), (shape[0], 28.0, 29.0))
    vol = np.full(shape, -1000.0)
    vol[body] = 30.0
    vol[blob_mask(shape)] = 180.0
    vol += rng.normal(0, 8, shape)
    return vol.round().astype(np.int16)


@pytest.fixture(autouse=True)
def medseg_cache(tmp_path, monkeypatch):
    """Autosave and caches go to a temporary folder, never to the user's home."""
    folder = tmp_path / "medseg-cache"
    monkeypatch.setenv("NAPARI_MEDSEG_CACHE", str(folder))
    return folder


@pytest.fixture
def ct_viewer(make_napari_viewer):
    """A viewer showing the synthetic CT (anisotropic voxels, an origin offset)."""
    viewer = make_napari_viewer()
    viewer.add_image(synthetic_ct(), name="ct", scale=(2.5, 0.8, 0.8), translate=(-20.0, 5.0, 7.0))
    return viewer


@pytest.fixture
def widget(ct_viewer, qtbot):
    """The dock widget on the synthetic CT with the built-in model, session ready."""
    from napari_medseg._qt.widget import MedSegWidget

    w = MedSegWidget(ct_viewer)
    ct_viewer.window.add_dock_widget(w, name="medseg")
    assert w.wait_idle(60), "the session was not ready in time"
    assert w.session is not None
    yield w
    w.shutdown()


def world(layer, voxel) -> np.ndarray:
    """Voxel (data) coordinates of ``layer`` to napari world coordinates."""
    return np.asarray(layer.data_to_world(np.asarray(voxel, dtype=float)), dtype=float)


def _event(kind: str, layer, voxel, modifiers=(), dims_displayed=(1, 2)):
    position = world(layer, voxel)
    pos = np.asarray([position[d] for d in dims_displayed], dtype=float) * 20.0  # canvas pixels
    return read_only_mouse_event(
        type=kind, position=tuple(position), pos=pos, modifiers=list(modifiers),
        is_dragging=kind != "mouse_press", dims_displayed=list(dims_displayed), button=1,
    )


def drag(layer, voxels, modifiers=(), dims_displayed=(1, 2)) -> None:
    """Press at the first voxel, move through the others, release at the last."""
    voxels = [np.asarray(v, dtype=float) for v in voxels]
    mouse_press_callbacks(layer, _event("mouse_press", layer, voxels[0], modifiers, dims_displayed))
    for v in voxels[1:]:
        mouse_move_callbacks(layer, _event("mouse_move", layer, v, modifiers, dims_displayed))
    mouse_release_callbacks(layer, _event("mouse_release", layer, voxels[-1], modifiers, dims_displayed))


def click(layer, voxel, modifiers=(), dims_displayed=(1, 2)) -> None:
    drag(layer, [voxel], modifiers, dims_displayed)


class Mouse:
    """napari mouse events on a layer: ``mouse.click(layer, voxel)``, ``mouse.drag(layer, voxels)``."""

    click = staticmethod(click)
    drag = staticmethod(drag)


@pytest.fixture
def mouse() -> Mouse:
    return Mouse()


@pytest.fixture
def box_on_organ(widget, ct_viewer, mouse, organ):
    """``box_on_organ()`` drags a box around the organ on its centre slice with the widget's box tool
    and waits for the preview; it returns the slice index."""

    def draw() -> int:
        mask, (k, _, _) = organ
        rows, cols = np.nonzero(mask[k])
        ct_viewer.dims.set_current_step(0, k)
        widget.set_tool("box")
        mouse.drag(widget.tools.boxes, [(k, rows.min() - 2, cols.min() - 2), (k, rows.max() + 2, cols.max() + 2)])
        assert widget.wait_idle(30)
        return k

    return draw


@pytest.fixture
def organ() -> tuple[np.ndarray, tuple[int, int, int]]:
    """The organ's true mask in the synthetic CT, and its centre voxel."""
    return blob_mask(), CENTER
