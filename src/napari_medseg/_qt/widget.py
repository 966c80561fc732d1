"""The MedSeg dock widget: turns layer events into prompts and shows what the Session returns.

It holds no segmentation logic. Prompts drawn on the tool layers (see :mod:`.tools`) go to the
background worker (:mod:`.worker`), which owns every call into the
:class:`~napari_medseg.core.session.Session`; previews, commits, undo/redo and propagated slices
come back as signals and are shown on the Qt thread. The Session's label volume *is* the target
Labels layer's data array, so showing a result means refreshing the layer.

Programmatic use (the demo, benchmarks and tests drive the widget this way)::

    widget = MedSegWidget(viewer)
    widget.set_image_layer(image)          # builds the session in the background
    widget.add_prompt(BoxPrompt(...))      # what the tools call
    widget.wait_idle()
    widget.commit(); widget.propagate(); widget.wait_idle()
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from napari.layers import Image, Labels
from napari.utils.notifications import show_warning
from qtpy.QtCore import QTimer, Signal
from qtpy.QtWidgets import QApplication, QMessageBox, QWidget

from napari_medseg._qt import autosave
from napari_medseg._qt.form_actions import FormActions
from napari_medseg._qt.keys import UNDO_KEYS, Shortcuts
from napari_medseg._qt.layer_update import (
    LABELS_NAME,
    PREVIEW_NAME,
    add_labels_like,
    image_volume,
    without_history,
)
from napari_medseg._qt.paint_history import region_before
from napari_medseg._qt.paint_hold import PaintHold
from napari_medseg._qt.panels import MedSegForm
from napari_medseg._qt.progress import PropagationProgress
from napari_medseg._qt.results import WorkerResults
from napari_medseg._qt.session_ops import SessionOps
from napari_medseg._qt.tools import PromptTools, slicing_axis
from napari_medseg._qt.view import show_axial
from napari_medseg._qt.worker import Job, SessionWorker
from napari_medseg.core.prompts import Prompt
from napari_medseg.errors import MedsegError, PromptError

PREFETCH_RADIUS = 3


class MedSegWidget(FormActions, WorkerResults, QWidget):
    """Interactive 3D segmentation of the chosen image into a Labels layer."""

    #: emitted on the Qt thread when a session is ready for the chosen image.
    session_ready = Signal()
    #: the Preview shown (after the newest interaction).
    preview_shown = Signal(object)
    #: voxels changed by a commit.
    committed = Signal(int)
    #: a propagated slice index, as soon as it arrived in the Labels layer.
    slice_propagated = Signal(int)
    #: propagation ended: slices written, or -1 when cancelled.
    propagation_finished = Signal(int)
    #: a one-line error shown to the user.
    error = Signal(str)

    def __init__(self, napari_viewer, model: str = "builtin") -> None:
        super().__init__()
        self.viewer = napari_viewer
        self.image_layer: Image | None = None
        self.labels_layer: Labels | None = None
        self.preview_layer: Labels | None = None
        self.tools: PromptTools | None = None
        self.label_names: dict[int, str] = {}
        self.recovery: autosave.RecoveryInfo | None = None
        self.restore_box: QMessageBox | None = None
        self._preview_ref = None
        self._handled = 0
        self._progress = None
        self._shown_axial: set[int] = set()  # the image layers whose view was turned (_qt/view.py)
        self._walked: set[int] = set()  # slices the running propagation has written, for the status line
        self._propagation_job: Job | None = None
        self._shut_down = False

        self.form = MedSegForm(self)
        self.form.model_combo.setCurrentText(model)
        self.worker = SessionWorker(self)
        self.worker.set_interaction_handler(self._interact)
        self.worker.preview_ready.connect(self._on_preview)
        self.worker.finished.connect(self._on_finished)
        self.worker.failed.connect(self._on_failed)
        self.worker.cancelled.connect(self._on_cancelled)
        self.worker.progress.connect(self._on_progress)
        self.worker.partial.connect(self._on_partial)
        self.autosaver = autosave.Autosaver(self)
        self.autosaver.failed.connect(show_warning)
        self.ops = SessionOps(self.worker, self.autosaver)
        self.paint_hold = PaintHold(self.viewer, self)  # no repaint while a prompt is decoded
        self.shortcuts = Shortcuts(self.viewer, self._key_actions())
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.setInterval(40)
        self._refresh_timer.timeout.connect(self._refresh_labels)
        self._prefetch_timer = QTimer(self)
        self._prefetch_timer.setSingleShot(True)
        self._prefetch_timer.setInterval(120)
        self._prefetch_timer.timeout.connect(self._schedule_prefetch)

        self._connect_form()
        self.viewer.layers.events.inserted.connect(self._sync_layer_choices)
        self.viewer.layers.events.removed.connect(self._on_layer_removed)
        self.viewer.dims.events.current_step.connect(self._on_step)
        self.shortcuts.bind_viewer()
        self._sync_layer_choices()
        volumes = [layer for layer in self.viewer.layers if _is_volume(layer)]
        if volumes:
            self.set_image_layer(volumes[-1])

    # --- public API --------------------------------------------------------------------------------

    @property
    def session(self):
        """The Session of the chosen image (owned by the worker thread; None while it is being built)."""
        return self.ops.session

    @property
    def signature(self) -> str | None:
        """Content signature of the image: names its autosave file."""
        return self.ops.signature

    @property
    def label_id(self) -> int:
        return int(self.form.label_spin.value())

    def set_label_id(self, label_id: int, name: str | None = None) -> None:
        self.form.label_spin.setValue(int(label_id))
        if name is not None:
            self.form.label_name.setText(name)

    def set_image_layer(self, layer: Image, labels: Labels | None = None) -> None:
        """Segment ``layer`` into ``labels`` (an existing Labels layer to correct) or a new layer."""
        if not _is_volume(layer):
            raise MedsegError(f"layer '{layer.name}' is not a 3D scalar image; choose a CT or MR volume")
        self._teardown_layers()
        self.image_layer = layer
        if id(layer) not in self._shown_axial:  # once per image: a view chosen after that is the user's
            self._shown_axial.add(id(layer))
            show_axial(self.viewer, layer)  # a NIfTI's axial slices, read as radiologists do
        self.form.image_combo.blockSignals(True)
        self.form.image_combo.setCurrentText(layer.name)
        self.form.image_combo.blockSignals(False)
        if labels is None:
            labels = add_labels_like(self.viewer, layer, LABELS_NAME)
        self._use_labels_layer(labels)
        preset = layer.metadata.get("medseg_preset") if isinstance(layer.metadata, dict) else None
        if preset and self.form.preset_combo.findText(preset) >= 0:  # our reader recognised a CT
            self.form.preset_combo.blockSignals(True)
            self.form.preset_combo.setCurrentText(preset)
            self.form.preset_combo.blockSignals(False)
        self.preview_layer = without_history(
            add_labels_like(self.viewer, layer, PREVIEW_NAME, dtype=np.uint8, opacity=0.55)
        )
        self.tools = PromptTools(self.viewer, layer, self.add_prompt)
        self.shortcuts.bind_layers(self.tools.layers.values())  # our keys win on our tool layers
        self.shortcuts.bind_layers([labels], (*UNDO_KEYS, "M"))  # the session's undo and next object
        self._update_swatch()
        self.set_tool("point")
        self._build_session()

    def set_labels_layer(self, labels: Labels | None) -> None:
        """Switch the target: an existing Labels layer (its labels are corrected) or a new one."""
        if self.image_layer is None:
            raise MedsegError("choose an image layer first")
        self.set_image_layer(self.image_layer, labels)

    def set_model(self, name: str, checkpoint: str | Path | None = None) -> None:
        self.form.model_combo.setCurrentText(name)
        self.form.checkpoint_edit.setText("" if checkpoint is None else str(checkpoint))
        if self.image_layer is not None:
            self._build_session()

    def set_preset(self, name: str) -> None:
        self.form.preset_combo.setCurrentText(name)
        if self.image_layer is not None:
            self._build_session()

    def set_tool(self, tool: str) -> None:
        if self.tools is None:
            raise MedsegError("choose an image layer first")
        self.tools.set_tool(tool)
        for name, button in self.form.tool_buttons.items():
            button.setChecked(name == tool)

    def set_positive(self, positive: bool) -> None:
        if self.tools is not None:
            self.tools.set_positive(positive)
        self.form.polarity_button.setChecked(not positive)
        self.form.polarity_button.setText("Positive (+)" if positive else "Negative (-)")

    def toggle_polarity(self) -> None:
        self.set_positive(not (self.tools.positive if self.tools else True))

    def add_prompt(self, prompt: Prompt | list[Prompt]) -> int:
        """Segment the prompt's slice (with the prompts before it on that slice); returns the request id."""
        prompts = prompt if isinstance(prompt, list) else [prompt]
        self.form.status.setText(f"segmenting slice {prompts[-1].slice.index}...")
        self.paint_hold.hold()
        return self.worker.submit_interaction(prompts, self.label_id)

    def commit(self) -> None:
        """Write the preview into the current label (Enter)."""
        self.ops.commit(self.label_id, self.form.overwrite_check.isChecked())

    def next_label(self) -> None:
        """Finish this object and start the next (M, as in nnInteractive): what is drawn is accepted into
        the current label, and the label moves on to a new id, one past every id in use or named (as
        napari's own M picks a new label), so that no existing object is drawn into by mistake."""
        if self.tools is None or self.labels_layer is None:
            raise MedsegError("choose an image layer first")
        if self.tools.drawn:
            self.commit()
        used = int(np.max(self.labels_layer.data)) if self.labels_layer.data.size else 0
        named = max((k for k, v in self.label_names.items() if v), default=0)
        self.set_label_id(max(self.label_id, used, named) + 1)

    def clear_prompts(self) -> None:
        """Drop the current prompts and preview (Escape)."""
        if self.tools is not None:
            self.tools.clear()
        self._clear_preview_display()
        self.ops.clear()

    def undo(self) -> None:
        self.ops.undo()

    def redo(self) -> None:
        self.ops.redo()

    def propagate(self) -> None:
        """Carry the current label through the volume along the viewed axis (G)."""
        from napari_medseg.core.propagation import PropagationOptions

        if self.image_layer is None:
            raise MedsegError("choose an image layer first")
        axis = self._axis()
        label_id, overwrite = self.label_id, self.form.overwrite_check.isChecked()
        options = PropagationOptions(
            iou_threshold=float(self.form.iou_spin.value()),
            max_distance=int(self.form.range_spin.value()) or None,
            stop_slices=frozenset(self.stop_slices()),
        )

        depth = int(self.image_layer.data.shape[axis]) if self.image_layer is not None else 0
        self._close_progress()
        self._progress = PropagationProgress(self.form.progress_bar, depth, f"label {label_id}")
        self._walked = set()
        self._propagation_job = self.ops.propagate(label_id, overwrite, axis, options)
        self.form.cancel_button.setEnabled(True)
        self.form.propagate_button.setEnabled(False)

    def cancel(self) -> None:
        """Stop a running propagation; the slices already done stay."""
        self.worker.cancel()

    def stop_slices(self) -> list[int]:
        text = self.form.stop_edit.text().replace(";", ",")
        try:
            return sorted({int(part) for part in text.split(",") if part.strip()})
        except ValueError:
            raise PromptError(f"stop slices must be whole numbers separated by commas, got '{text}'") from None

    def mark_stop_here(self) -> None:
        current = int(self.viewer.dims.current_step[self._axis()])
        self.form.stop_edit.setText(", ".join(str(i) for i in sorted({*self.stop_slices(), current})))

    def is_idle(self) -> bool:
        return self.worker.is_idle() and self.worker.ended == self._handled and self.autosaver.is_idle()

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Process Qt events until the worker has nothing left and every result is shown."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            QApplication.processEvents()
            if self.is_idle():
                QApplication.processEvents()
                if self.is_idle():
                    self._refresh_labels()
                    return True
            time.sleep(0.002)
        return False

    def save_labels(self, path: str | Path) -> None:
        """Write the labels as NIfTI (or .zarr) with the image's affine, atomically, off the Qt thread."""
        self.ops.save(path, self.label_names)

    def restore_recovery(self) -> None:
        """Replace the labels with the autosaved ones found for this image."""
        self.ops.restore(tuple(self.image_layer.data.shape))

    # --- session and layers ------------------------------------------------------------------------

    def _build_session(self) -> None:
        model_name = self.form.model_combo.currentText()
        self.form.status.setText(f"loading model '{model_name}'...")
        self.ops.setup(
            image_volume(self.image_layer),  # lazy data (dask, zarr) is read on the worker
            self.labels_layer.data,
            model_name,
            self.form.checkpoint_edit.text().strip() or None,
            self.form.preset_combo.currentText(),
        )

    def _use_labels_layer(self, labels: Labels) -> None:
        if tuple(labels.data.shape) != tuple(self.image_layer.data.shape):
            raise MedsegError(
                f"labels layer '{labels.name}' has shape {labels.data.shape}, not the image's "
                f"{self.image_layer.data.shape}; choose labels drawn on this image"
            )
        if not isinstance(labels.data, np.ndarray):
            labels.data = np.asarray(labels.data)
        if self.labels_layer is not None and self.labels_layer is not labels:
            self.labels_layer.events.selected_label.disconnect(self._on_selected_label)
            self.labels_layer.events.paint.disconnect(self._on_paint)
        self.labels_layer = labels
        labels.events.selected_label.connect(self._on_selected_label)
        labels.events.paint.connect(self._on_paint)  # napari's brush and fill: undo steps too
        self.label_names = dict(labels.metadata.get("label_names", {}))
        labels.metadata["label_names"] = self.label_names
        self._show_label_names()
        self.form.labels_combo.blockSignals(True)
        self._sync_layer_choices()
        self.form.labels_combo.setCurrentText(labels.name)
        self.form.labels_combo.blockSignals(False)

    def _teardown_layers(self) -> None:
        self.worker.cancel()
        tools, preview = self.tools, self.preview_layer
        self.tools, self.preview_layer = None, None  # (first: their removal is ours, not to be undone)
        if tools is not None:
            tools.remove_layers()
        if preview is not None and preview in self.viewer.layers:
            self.viewer.layers.remove(preview)
        self._preview_ref = None
        self.ops.session = None

    def _on_layer_removed(self, event) -> None:
        if event.value is self.image_layer:
            self._teardown_layers()
            self.image_layer = None
            self.form.status.setText("Choose an image layer.")
        elif event.value is self.preview_layer or (self.tools is not None and event.value in self.tools.layers.values()):
            # the panel's own layers (the prompt tools, the preview) go only with the panel: put it back
            # (later, and only if the image is still there: deleting every layer at once must end)
            QTimer.singleShot(0, lambda layer=event.value: self._put_back(layer))
        elif event.value is self.labels_layer and self.image_layer is not None:
            # the target went (napari's delete key, the trash button): a new one takes its place, and
            # the session offers the removed labels back from the autosave, which holds every change
            QTimer.singleShot(0, lambda layer=event.value: self._replace_target(layer))
        self._sync_layer_choices()

    def _put_back(self, layer) -> None:
        tools = self.tools.layers.values() if self.tools is not None else ()
        if (self.image_layer in self.viewer.layers and layer not in self.viewer.layers
                and (layer is self.preview_layer or layer in tools)):
            self.viewer.layers.append(layer)
            show_warning(f"napari-medseg: '{layer.name}' belongs to the MedSeg panel and was put back; "
                         "close the panel first to delete its layers")

    def _replace_target(self, removed) -> None:
        if self.image_layer in self.viewer.layers and self.labels_layer is removed:
            show_warning(f"napari-medseg: the target labels layer '{removed.name}' was removed; a new one "
                         "takes its place, and its labels can be restored from the autosave")
            self.set_labels_layer(None)

    def _on_paint(self, event) -> None:
        """A stroke or fill made with napari's Labels tools on the target layer becomes a session undo step."""
        if self.labels_layer is None or self.session is None:
            return
        changed = region_before(self.labels_layer.data, event.value)
        if changed is not None:
            self.ops.record_edit(*changed, self._axis())  # (napari paints on the slice in view)

    def _interact(self, prompts: list[Prompt], label_id: int | None):
        """The worker's interaction handler (a method, so that benchmarks can wrap it)."""
        return self.ops.interact(prompts, label_id)

    def _on_step(self, event=None) -> None:
        self._prefetch_timer.start()

    def _schedule_prefetch(self) -> None:
        """Encode the slices around the viewed one while the user looks at it."""
        if self.session is None or self.image_layer is None or self.viewer.dims.ndisplay != 2:
            return
        axis = self._axis()
        depth = int(self.image_layer.data.shape[axis])
        current = int(self.viewer.dims.current_step[axis])
        order = sorted(range(max(0, current - PREFETCH_RADIUS), min(depth, current + PREFETCH_RADIUS + 1)),
                       key=lambda i: abs(i - current))
        self.ops.prefetch(axis, order)

    # --- helpers -----------------------------------------------------------------------------------

    def _axis(self) -> int:
        return slicing_axis(self.viewer.dims.displayed, self.viewer.dims.ndim)

    # --- keys --------------------------------------------------------------------------------------

    def _key_actions(self) -> dict:
        return {
            "P": lambda: self.set_tool("point"),
            "B": lambda: self.set_tool("box"),
            "S": lambda: self.set_tool("scribble"),
            "L": lambda: self.set_tool("lasso"),
            "T": self.toggle_polarity,
            "Enter": self.commit,
            "Escape": self.clear_prompts,
            "Control-Z": self.undo,
            "Control-Shift-Z": self.redo,
            "G": self.propagate,
            "M": self.next_label,
        }

    def closeEvent(self, event) -> None:  # noqa: N802 - Qt override
        self.shutdown()
        super().closeEvent(event)

    def shutdown(self) -> None:
        """Stop the threads, unbind the keys; the labels layer stays in the viewer. Safe to repeat."""
        if self._shut_down:
            return
        self._shut_down = True
        self.shortcuts.unbind()
        self.worker.stop()
        self.autosaver.stop()
        self.paint_hold.release()
        self._close_progress()
        for signal, slot in ((self.viewer.layers.events.inserted, self._sync_layer_choices),
                             (self.viewer.layers.events.removed, self._on_layer_removed),
                             (self.viewer.dims.events.current_step, self._on_step)):
            try:
                signal.disconnect(slot)
            except (TypeError, ValueError, RuntimeError):
                pass


def _is_volume(layer) -> bool:
    """A 3D scalar Image layer: what the widget can segment."""
    return isinstance(layer, Image) and layer.ndim == 3 and not getattr(layer, "rgb", False)
