"""Autosave: recovery files written atomically after changes, found again, restored by a new widget."""

from __future__ import annotations

import os
import sys
import threading

import numpy as np
import pytest

from napari_medseg._qt import autosave
from napari_medseg.core.volume_io import Volume, read_volume
from napari_medseg.errors import VolumeReadError


def _reference(shape) -> Volume:
    affine = np.diag([-0.8, -0.8, 2.5, 1.0])
    affine[:3, 3] = (100.0, 90.0, -30.0)
    return Volume(data=np.zeros(shape, np.int16), affine=affine, spacing=(0.8, 0.8, 2.5))


def test_recovery_round_trip_in_the_cache_folder(medseg_cache):
    labels = np.zeros((6, 10, 12), np.uint16)
    labels[2, 3:6, 4:9] = 7
    path = autosave.write_recovery("abc123", labels, _reference(labels.shape), "ct", {7: "liver"})
    assert path.parent == medseg_cache / "recovery" and path.name == "abc123.nii.gz"
    assert sorted(p.name for p in path.parent.iterdir()) == ["abc123.json", "abc123.nii.gz"]  # no temp files
    info = autosave.find_recovery("abc123")
    assert info is not None and info.image_name == "ct" and info.label_names == {7: "liver"}
    assert "ct" in info.describe()
    assert np.array_equal(autosave.read_recovery("abc123", labels.shape), labels)
    assert np.allclose(read_volume(path).affine, _reference(labels.shape).affine)
    with pytest.raises(VolumeReadError, match="shape"):
        autosave.read_recovery("abc123", (6, 10, 13))
    assert autosave.find_recovery("other") is None
    autosave.discard_recovery("abc123")
    assert autosave.find_recovery("abc123") is None


def test_autosaver_writes_the_newest_snapshot(qtbot):
    saver = autosave.Autosaver()
    saved, failed = [], []
    saver.saved.connect(saved.append)
    saver.failed.connect(failed.append)
    for value in range(1, 6):
        saver.save("sig", np.full((4, 5, 6), value, np.uint8), None, "img")
    assert saver.flush(30)
    qtbot.waitUntil(lambda: len(saved) >= 1, timeout=5000)
    assert not failed and saver.is_idle()
    assert np.all(autosave.read_recovery("sig", (4, 5, 6)) == 5)
    saver.save("bad", np.zeros((4, 5), np.uint8))  # not 3D: reported, never raised
    assert saver.flush(30)
    qtbot.waitUntil(lambda: len(failed) == 1, timeout=5000)
    assert failed[0].startswith("autosave failed") and autosave.find_recovery("bad") is None
    saver.stop()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="threads have their own nice value on Linux")
def test_the_autosave_writer_runs_niced_so_a_click_is_not_kept_waiting(qtbot):
    """Compressing a snapshot must yield the cores to the model's threads (autosave.WRITER_NICENESS)."""
    saver = autosave.Autosaver()
    try:
        saver.save("sig", np.ones((4, 5, 6), np.uint8))
        assert saver.flush(30)  # the loop has lowered its priority before its first write
        mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        writer = os.getpriority(os.PRIO_PROCESS, saver._thread.native_id)
        assert writer == max(mine, autosave.WRITER_NICENESS)  # and this (Qt's) thread keeps its own
    finally:
        saver.stop()


def test_commit_autosaves_exports_and_a_new_widget_offers_to_restore(widget, ct_viewer, mouse, organ, qtbot, tmp_path, box_on_organ):
    from qtpy.QtWidgets import QMessageBox

    from napari_medseg._qt.widget import MedSegWidget

    widget.set_label_id(4, "organ")
    box_on_organ()
    widget.commit()
    assert widget.wait_idle(30)
    saved = widget.labels_layer.data.copy()
    assert (saved == 4).any()
    info = autosave.find_recovery(widget.signature)
    assert info is not None and info.image_name == "ct" and info.label_names == {4: "organ"}
    assert np.array_equal(autosave.read_recovery(widget.signature, saved.shape), saved)
    widget.save_labels(tmp_path / "out" / "organ.nii.gz")  # the explicit export, same writer
    assert widget.wait_idle(30) and widget.form.status.text().startswith("saved")
    exported = read_volume(tmp_path / "out" / "organ.nii.gz")
    assert (tmp_path / "out" / "organ.json").read_text().split() == ["{", '"4":', '"organ"', "}"]  # the names
    assert np.array_equal(np.asarray(exported.data), saved)
    assert np.allclose(exported.affine, [[2.5, 0, 0, -20], [0, 0.8, 0, 5], [0, 0, 0.8, 7], [0, 0, 0, 1]])
    # the session ends (a crash, a closed window): the same image opened again offers the labels back
    widget.shutdown()
    ct_viewer.layers.remove(widget.labels_layer)
    second = MedSegWidget(ct_viewer)
    try:
        assert second.wait_idle(60)
        assert second.recovery is not None and not second.form.restore_button.isHidden()
        assert not second.labels_layer.data.any()
        box = second.restore_box
        assert box is not None and not box.isHidden()
        box.button(QMessageBox.StandardButton.Yes).click()
        qtbot.waitUntil(lambda: second.labels_layer.data.any(), timeout=20_000)
        assert second.wait_idle(30)
        assert np.array_equal(second.labels_layer.data, saved)
        second.set_label_id(4)
        assert second.label_names == {4: "organ"} and second.form.label_name.text() == "organ"  # names too
        assert "organ" in second.labels_layer.get_status(tuple(np.argwhere(saved == 4)[0]), world=False)["coordinates"]
        assert second.form.restore_button.isHidden()
    finally:
        second.shutdown()


def test_a_removed_target_layer_is_replaced_and_its_labels_are_offered_back(widget, ct_viewer, mouse, organ, qtbot, box_on_organ):
    """Deleting the target labels layer by mistake: the panel gets a new target and offers the removed
    labels back from the autosave (before, commits went on into the deleted layer's array, unseen)."""
    from qtpy.QtWidgets import QMessageBox

    box_on_organ()
    widget.commit()
    assert widget.wait_idle(30)
    removed = widget.labels_layer
    saved = removed.data.copy()
    assert saved.any()
    ct_viewer.layers.remove(removed)
    assert widget.wait_idle(60)
    assert widget.labels_layer is not removed and widget.labels_layer in ct_viewer.layers
    assert widget.session.labels is widget.labels_layer.data and not widget.labels_layer.data.any()
    assert widget.recovery is not None
    widget.restore_box.button(QMessageBox.StandardButton.Yes).click()
    qtbot.waitUntil(lambda: widget.labels_layer.data.any(), timeout=20_000)
    assert widget.wait_idle(30)
    assert np.array_equal(widget.labels_layer.data, saved)


def test_deleting_every_layer_at_once_ends_with_an_empty_viewer(widget, ct_viewer, qtbot, monkeypatch):
    """Select all, delete: the panel must not put its layers back or make a new target while the image
    goes too (done at once inside the deletion, that re-created layers for ever)."""
    calls = []
    original = widget.set_labels_layer

    def counted(labels):
        calls.append(labels)
        if len(calls) > 3:
            raise RuntimeError("the target was replaced again and again")
        original(labels)

    monkeypatch.setattr(widget, "set_labels_layer", counted)
    ct_viewer.layers.clear()
    qtbot.wait(100)
    assert len(ct_viewer.layers) == 0 and calls == []
    assert widget.image_layer is None and widget.form.status.text() == "Choose an image layer."
