"""The MedSeg widget's form: layer choices, the current label's name and colour, the buttons.

A mixin of :class:`~napari_medseg._qt.widget.MedSegWidget`, split out so that each file stays
readable. Every button action runs through :func:`~napari_medseg._qt.keys.guarded`: a user error
becomes a warning in napari, never a traceback out of a Qt slot.
"""

from __future__ import annotations

import numpy as np
from napari.layers import Image, Labels
from napari.utils.colormaps import DirectLabelColormap
from napari.utils.notifications import show_warning
from qtpy.QtWidgets import QFileDialog

from napari_medseg._qt.keys import guarded
from napari_medseg._qt.layer_update import OWN_LAYER_NAMES
from napari_medseg._qt.panels import NEW_LABELS
from napari_medseg._reader import label_features, labels_file_for
from napari_medseg.errors import MedsegError


class FormActions:
    """Connects the form's widgets to the MedSeg widget and keeps them in step with the viewer."""

    def _sync_layer_choices(self, event=None) -> None:
        images = [layer.name for layer in self.viewer.layers if isinstance(layer, Image)]
        labels = [
            layer.name for layer in self.viewer.layers
            if isinstance(layer, Labels) and layer.name not in OWN_LAYER_NAMES
        ]
        for combo, names in ((self.form.image_combo, images), (self.form.labels_combo, [NEW_LABELS, *labels])):
            current = combo.currentText()
            combo.blockSignals(True)
            combo.clear()
            combo.addItems(names)
            if current in names:
                combo.setCurrentText(current)
            combo.blockSignals(False)

    def _update_swatch(self) -> None:
        label_id = self.label_id
        if self.labels_layer is not None and self.labels_layer.selected_label != label_id:
            self.labels_layer.selected_label = label_id
        self.form.label_name.blockSignals(True)
        self.form.label_name.setText(self.label_names.get(label_id, ""))
        self.form.label_name.blockSignals(False)
        if self.labels_layer is None:
            return
        rgba = np.asarray(self.labels_layer.get_color(label_id), dtype=float)
        r, g, b = (int(round(255 * c)) for c in rgba[:3])
        self.form.label_swatch.setStyleSheet(f"background-color: rgb({r},{g},{b}); border: 1px solid gray;")
        if self.preview_layer is not None:
            self.preview_layer.colormap = DirectLabelColormap(
                color_dict={None: "transparent", 0: "transparent", 1: [*rgba[:3], 1.0]}
            )

    def _on_selected_label(self, event=None) -> None:
        """Picking a label in the target layer (napari's picker, +/-) makes it the current label."""
        value = int(self.labels_layer.selected_label) if self.labels_layer is not None else 0
        if value > 0 and value != self.label_id:
            self.form.label_spin.setValue(value)

    def _on_label_name(self, text: str) -> None:
        self.label_names[self.label_id] = text
        self._show_label_names()

    def _show_label_names(self) -> None:
        """The names as the target layer's features table: napari names the label under the cursor."""
        named = {k: v for k, v in self.label_names.items() if v}
        if self.labels_layer is not None and (named or len(self.labels_layer.features)):
            self.labels_layer.features = label_features(named)

    def _connect_form(self) -> None:
        f = self.form
        f.image_combo.currentTextChanged.connect(self._choose_image)
        f.labels_combo.currentTextChanged.connect(self._choose_labels)
        f.load_button.clicked.connect(lambda: self.image_layer is not None and self._build_session())
        f.preset_combo.currentTextChanged.connect(lambda _: self.image_layer is not None and self._build_session())
        f.checkpoint_button.clicked.connect(self._browse_checkpoint)
        f.label_spin.valueChanged.connect(lambda _: self._update_swatch())
        f.label_name.textChanged.connect(self._on_label_name)
        actions = {  # a user error in a button's action becomes a warning, never a traceback
            f.polarity_button: lambda: self.set_positive(not f.polarity_button.isChecked()),
            f.accept_button: self.commit,
            f.next_button: self.next_label,
            f.clear_button: self.clear_prompts,
            f.undo_button: self.undo,
            f.redo_button: self.redo,
            f.propagate_button: self.propagate,
            f.cancel_button: self.cancel,
            f.stop_here_button: self.mark_stop_here,
            f.restore_button: self.restore_recovery,
            f.save_button: self._choose_save_path,
            **{button: (lambda n=name: self.set_tool(n)) for name, button in f.tool_buttons.items()},
        }
        for button, action in actions.items():
            button.clicked.connect(lambda _=False, run=guarded(action): run())

    def _choose_image(self, name: str) -> None:
        if name and name in self.viewer.layers and (self.image_layer is None or name != self.image_layer.name):
            try:
                self.set_image_layer(self.viewer.layers[name])
            except MedsegError as exc:
                show_warning(str(exc))
                self.form.status.setText(str(exc))

    def _choose_labels(self, name: str) -> None:
        if self.image_layer is None or not name:
            return
        layer = None if name == NEW_LABELS else self.viewer.layers[name]
        if layer is not self.labels_layer:
            self.set_labels_layer(layer)

    def _browse_checkpoint(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Model checkpoint", "", "Checkpoints (*.pth *.pt *.safetensors)")
        if path:
            self.form.checkpoint_edit.setText(path)

    def _choose_save_path(self) -> None:
        # <image>_seg.nii.gz: the reader opens that name as labels again ("labels.nii.gz" came back as an image)
        start = str(labels_file_for(self.image_layer.source.path, self.image_layer.name)) if self.image_layer else ""
        path, _ = QFileDialog.getSaveFileName(self, "Save labels", start, "NIfTI (*.nii.gz *.nii)")
        if path:
            self.save_labels(path)
