"""How the MedSeg widget shows what the worker sends back (all on the Qt thread).

Previews go to the preview layer, commits, undo/redo, restores and propagated slices to the target
Labels layer (whose data array *is* the Session's label volume, so showing means refreshing), errors
to napari notifications. A mixin of :class:`~napari_medseg._qt.widget.MedSegWidget`, split out so
that each file stays readable; it uses the widget's layers, form, worker and signals.
"""

from __future__ import annotations

import numpy as np
from napari.utils.notifications import show_error, show_info
from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QMessageBox

from napari_medseg._qt.layer_update import plane_index, set_plane


class WorkerResults:
    """The widget's slots for the worker's signals."""

    def _on_preview(self, job_id: int, preview) -> None:
        self._handled += 1
        self._show_prompts()  # (the repaint and the markers come from the event loop, after the mask is set)
        if preview is None or self.preview_layer is None:
            return
        if self._preview_ref is not None and self._preview_ref != preview.ref:
            self._clear_preview_display()
        set_plane(self.preview_layer, preview.ref.axis, preview.ref.index, np.asarray(preview.mask, dtype=np.uint8))
        self._preview_ref = preview.ref
        self.form.status.setText(
            f"preview on slice {preview.ref.index}: {int(np.count_nonzero(preview.mask))} voxels; Enter accepts"
        )
        self.preview_shown.emit(preview)

    def _on_finished(self, job_id: int, kind: str, result) -> None:
        self._handled += 1
        if kind == "setup":
            self._on_session_ready(result)
        elif kind == "commit":
            if result is None:
                self.form.status.setText("nothing to accept: draw a prompt first")
                return
            label_id, changed = result  # (the label it went into, whatever the current one is by now)
            self._after_labels_change(f"accepted label {label_id}: {changed} voxels changed")
            self.committed.emit(int(changed))
        elif kind == "paint":
            if result:  # (refreshed and autosaved like the session's own steps; the prompts stay)
                self._after_labels_change(f"your edit: {result} voxels changed; Ctrl+Z undoes it", clear_prompts=False)
        elif kind in ("undo", "redo"):
            self._after_labels_change(f"{kind} done" if result else f"nothing to {kind}")
        elif kind == "propagate":
            label_id, changed, ml = result
            self._end_propagation()
            name = self.label_names.get(label_id) or ""
            layer = self.image_layer
            physical = layer is not None and (layer.metadata.get("affine") is not None
                                              or any(float(v) != 1.0 for v in layer.scale))
            size = f"; {ml:,.1f} mL in all" if physical else ""  # (a bare array has no voxel size)
            self._after_labels_change(f"propagated label {label_id}{f' ({name})' if name else ''}: "
                                      f"{self._walked_summary()}{size}")
            self.propagation_finished.emit(int(changed or 0))
        elif kind == "save":
            self.form.status.setText(f"saved {result}")
            show_info(f"napari-medseg: labels saved to {result}")
        elif kind == "restore":
            self.form.restore_button.setVisible(False)
            if self.recovery is not None:  # the names autosaved with the labels come back too
                self.label_names.update({k: v for k, v in self.recovery.label_names.items() if v})
                self._update_swatch()
                self._show_label_names()
            self._after_labels_change("restored the autosaved labels", clear_prompts=False)

    def _show_prompts(self) -> None:
        """The answer is in: the window repaints (paint_hold.py), and the clicks' markers are drawn
        just after that frame (tools.py), so the mask is not kept waiting for napari's point adding."""
        self.paint_hold.release()
        QTimer.singleShot(0, self._show_pending_points)

    def _show_pending_points(self) -> None:
        if self.tools is not None:
            self.tools.show_pending_points()

    def _on_failed(self, job_id: int, kind: str, message: str) -> None:
        self._handled += 1
        self._show_prompts()
        if kind == "propagate":
            self._end_propagation()
            self._refresh_labels()
        show_error(message)
        self.form.status.setText(f"error: {message}")
        self.error.emit(message)

    def _on_cancelled(self, job_id: int, kind: str) -> None:
        self._handled += 1
        self._show_prompts()
        if kind == "propagate":
            self._end_propagation()
            self._after_labels_change("propagation cancelled; the slices done are kept")
            self.propagation_finished.emit(-1)

    def _on_progress(self, job_id: int, done: int, total: int) -> None:
        if self._progress is not None:
            self._progress.set(done, total)

    def _on_partial(self, job_id: int, index: int) -> None:
        """A propagated slice is in the labels (shared array); redraw only if it is on screen."""
        self._walked.add(int(index))  # (a slice the fill between walks revisits counts once)
        if self.viewer.dims.ndisplay == 3:
            self._refresh_timer.setInterval(500)  # the whole volume is on screen: redraw now and then
        else:
            self._refresh_timer.setInterval(40)
            axis = self.session.axis if self.session is not None else self._axis()
            shown = axis not in self.viewer.dims.displayed and int(self.viewer.dims.current_step[axis]) == index
            if not shown:
                self.slice_propagated.emit(index)
                return
        if not self._refresh_timer.isActive():
            self._refresh_timer.start()
        self.slice_propagated.emit(index)

    def _on_session_ready(self, recovery) -> None:
        if self.session is None or self.image_layer is None:
            return  # a newer setup (another preset, model or image chosen meanwhile) is being built: it reports
        # a coarse volume, in the plane in view (models/working_scale.py)
        scaled = getattr(self.session.working_model(self._axis()), "describe", None)
        self.form.status.setText(f"ready: {self.session.model.name} on '{self.image_layer.name}'"
                                 + (f"; {scaled()}" if scaled is not None else ""))
        self.recovery = recovery
        if recovery is not None:
            self.form.restore_button.setVisible(True)
            show_info(f"napari-medseg: found {recovery.describe()}; use 'Restore autosaved labels'")
            self.restore_box = QMessageBox(
                QMessageBox.Icon.Question, "Restore labels?",
                f"Found {recovery.describe()}. Restore them into '{self.labels_layer.name}'?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, self,
            )
            self.restore_box.accepted.connect(self.restore_recovery)
            self.restore_box.open()
        self._schedule_prefetch()
        self.session_ready.emit()

    def _after_labels_change(self, status: str, clear_prompts: bool = True) -> None:
        if clear_prompts:
            if self.tools is not None:
                self.tools.clear()
            self._clear_preview_display()
        self._refresh_labels()
        self.form.status.setText(status)
        self._autosave()

    def _autosave(self) -> None:
        """Snapshot the labels on the worker (in order with the edits), write them on the autosave thread."""
        if self.session is None or self.signature is None:
            return
        self.ops.autosave(self.image_layer.name, {int(k): v for k, v in self.label_names.items()})

    def _refresh_labels(self) -> None:
        if self.labels_layer is not None and self.session is not None:
            if self.labels_layer.data is not self.session.labels:
                self.labels_layer.data = self.session.labels
            else:
                self.labels_layer.refresh()

    def _clear_preview_display(self) -> None:
        if self.preview_layer is not None and self._preview_ref is not None:
            ref, self._preview_ref = self._preview_ref, None
            shape = self.preview_layer.data[plane_index(ref.axis, ref.index)].shape
            set_plane(self.preview_layer, ref.axis, ref.index, np.zeros(shape, np.uint8))

    def _walked_summary(self) -> str:
        """Where the walk went, so the user sees at once whether it stopped at the object's ends."""
        if not self._walked:
            return "no neighbouring slice was added (the object ends here, or a stop rule fired at once)"
        return f"{len(self._walked)} slices added, from {min(self._walked)} to {max(self._walked)}"

    def _end_propagation(self) -> None:
        self._close_progress()
        self._propagation_job = None
        self.form.cancel_button.setEnabled(False)
        self.form.propagate_button.setEnabled(True)

    def _close_progress(self) -> None:
        if self._progress is not None:
            self._progress.close()
            self._progress = None
