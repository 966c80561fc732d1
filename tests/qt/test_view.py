"""The widget turns napari's view to axial radiological slices for a volume with an affine (_qt/view.py)."""

from __future__ import annotations

import numpy as np

from napari_medseg._qt.view import camera_of, show_axial


def _open_sample(viewer):
    from napari_medseg._sample_data import make_sample_data

    (data, kwargs, _), _ = make_sample_data()
    return viewer.add_image(data, **kwargs)


def _orientation(viewer) -> tuple[str, str]:
    return tuple(str(v.value) for v in camera_of(viewer).orientation2d)


def test_the_sample_opens_as_axial_slices_with_the_liver_on_the_screens_left(make_napari_viewer, qtbot):
    from napari_medseg._qt.widget import MedSegWidget

    viewer = make_napari_viewer()
    image = _open_sample(viewer)
    widget = MedSegWidget(viewer)
    viewer.window.add_dock_widget(widget, name="medseg")
    try:
        assert widget.wait_idle(60) and widget.image_layer is image
        assert tuple(viewer.dims.order) == (2, 1, 0)  # slices along k (the body), rows j, columns i
        assert _orientation(viewer) == ("down", "left")  # j runs to the back, i to the patient's right
        assert widget.session.axis == 2  # the prompts land on the slices shown
        viewer.dims.order = (0, 1, 2)  # the user goes back to napari's view, then picks a new target:
        camera_of(viewer).orientation2d = ("down", "right")
        widget.set_labels_layer(None)  # the view stays theirs
        assert widget.wait_idle(60) and tuple(viewer.dims.order) == (0, 1, 2)
        # the whole slice is in view again after the turn
        assert camera_of(viewer).zoom > 0 and np.all(np.isfinite(camera_of(viewer).center))
    finally:
        widget.shutdown()


def test_a_view_the_user_chose_is_kept(make_napari_viewer):
    viewer = make_napari_viewer()
    image = _open_sample(viewer)
    viewer.dims.order = (1, 0, 2)
    assert show_axial(viewer, image) is None
    assert tuple(viewer.dims.order) == (1, 0, 2) and _orientation(viewer) == ("down", "right")
    viewer.dims.order = (0, 1, 2)
    camera_of(viewer).orientation2d = ("up", "right")
    assert show_axial(viewer, image) is None and tuple(viewer.dims.order) == (0, 1, 2)


def test_an_array_without_an_affine_is_shown_as_napari_shows_it(make_napari_viewer):
    viewer = make_napari_viewer()
    layer = viewer.add_image(np.zeros((8, 16, 16), dtype=np.float32))
    assert show_axial(viewer, layer) is None
    assert tuple(viewer.dims.order) == (0, 1, 2) and _orientation(viewer) == ("down", "right")


def test_an_ras_volume_shows_anterior_up(make_napari_viewer, tmp_path):
    import nibabel as nib

    from napari_medseg._reader import read_layers

    path = tmp_path / "brain.nii.gz"
    nib.save(nib.Nifti1Image(np.zeros((10, 12, 8), dtype=np.int16), np.diag([2.0, 2.0, 2.0, 1.0])), str(path))
    viewer = make_napari_viewer()
    (data, kwargs, _), = read_layers(str(path))
    layer = viewer.add_image(data, **kwargs)
    view = show_axial(viewer, layer)
    assert view is not None and view.order == (2, 1, 0)
    assert tuple(viewer.dims.order) == (2, 1, 0) and _orientation(viewer) == ("up", "left")


def test_a_real_click_on_the_turned_view_prompts_the_voxel_under_it(make_napari_viewer, qtbot):
    """A mouse click on the screen's left half of the radiological view lands on the patient's right
    (high i), one on the upper half in front (low j): napari maps the canvas through the turned camera."""
    from qtpy.QtCore import QPoint, Qt
    from qtpy.QtTest import QTest

    from napari_medseg._qt.widget import MedSegWidget

    viewer = make_napari_viewer(show=True)
    image = _open_sample(viewer)
    widget = MedSegWidget(viewer)
    viewer.window.add_dock_widget(widget, name="medseg")
    try:
        assert widget.wait_idle(60)
        qtbot.wait(50)
        viewer.reset_view()
        canvas = viewer.window._qt_viewer.canvas.native
        clicked = []
        for x, y in ((0.3, 0.5), (0.7, 0.5), (0.5, 0.3)):
            QTest.mouseClick(canvas, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                             QPoint(int(canvas.width() * x), int(canvas.height() * y)))
            assert widget.wait_idle(30)
            clicked.append(np.asarray(widget.tools.points.data[-1]))  # (the tool layers share the image's grid)
        (left_i, left_j, k), (right_i, _, _), (_, top_j, _) = clicked
        assert round(k) == widget.session.preview.ref.index and widget.session.preview.ref.axis == 2
        assert left_i > image.data.shape[0] / 2 > right_i  # the screen's left is the patient's right
        assert top_j < left_j  # up is anterior
    finally:
        widget.shutdown()
