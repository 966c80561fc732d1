"""The widget's form: plain Qt controls, no behaviour (the widget wires them)."""

from __future__ import annotations

from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from napari_medseg.core.intensity import PRESETS
from napari_medseg.core.propagation import PropagationOptions
from napari_medseg.models.registry import available_models

NEW_LABELS = "(new layer)"


class MedSegForm:
    """All controls of the dock widget, laid out on ``parent``."""

    def __init__(self, parent: QWidget) -> None:
        root = QVBoxLayout(parent)

        setup = QGroupBox("Image and model")
        form = QFormLayout(setup)
        self.image_combo = QComboBox()
        self.model_combo = QComboBox()
        self.model_combo.addItems(available_models())
        self.model_combo.setCurrentText("builtin")
        self.checkpoint_edit = QLineEdit()
        self.checkpoint_edit.setPlaceholderText("checkpoint file (SAM-family models)")
        self.checkpoint_button = QPushButton("...")
        self.checkpoint_button.setMaximumWidth(30)
        ckpt_row = QHBoxLayout()
        ckpt_row.addWidget(self.checkpoint_edit)
        ckpt_row.addWidget(self.checkpoint_button)
        self.preset_combo = QComboBox()
        self.preset_combo.addItems(list(PRESETS))
        self.preset_combo.setCurrentText("auto")
        self.load_button = QPushButton("Load model")
        form.addRow("Image", self.image_combo)
        form.addRow("Model", self.model_combo)
        form.addRow("Checkpoint", ckpt_row)
        form.addRow("Intensity", self.preset_combo)
        form.addRow(self.load_button)
        root.addWidget(setup)

        labels = QGroupBox("Labels")
        form = QFormLayout(labels)
        self.labels_combo = QComboBox()
        self.labels_combo.addItem(NEW_LABELS)
        self.label_spin = QSpinBox()
        self.label_spin.setRange(1, 65535)
        self.label_name = QLineEdit()
        self.label_name.setPlaceholderText("name of this label")
        self.label_swatch = QLabel()
        self.label_swatch.setFixedSize(22, 22)
        id_row = QHBoxLayout()
        id_row.addWidget(self.label_spin)
        id_row.addWidget(self.label_swatch)
        id_row.addWidget(self.label_name)
        self.overwrite_check = QCheckBox("overwrite other labels")
        self.overwrite_check.setChecked(True)
        self.next_button = QPushButton("Next object (M)")
        self.next_button.setToolTip("accept what is drawn into this label, then go on with a new label id")
        check_row = QHBoxLayout()
        check_row.addWidget(self.overwrite_check)
        check_row.addWidget(self.next_button)
        form.addRow("Target", self.labels_combo)
        form.addRow("Label", id_row)
        form.addRow(check_row)
        root.addWidget(labels)

        tools = QGroupBox("Prompt (P point, B box, S scribble, L lasso, T polarity)")
        col = QVBoxLayout(tools)
        row = QHBoxLayout()
        self.tool_buttons: dict[str, QPushButton] = {}
        for name, text in (("point", "Point"), ("box", "Box"), ("scribble", "Scribble"), ("lasso", "Lasso")):
            button = QPushButton(text)
            button.setCheckable(True)
            self.tool_buttons[name] = button
            row.addWidget(button)
        col.addLayout(row)
        row = QHBoxLayout()
        self.polarity_button = QPushButton("Positive (+)")
        self.polarity_button.setCheckable(True)
        self.accept_button = QPushButton("Accept (Enter)")
        self.clear_button = QPushButton("Clear (Esc)")
        row.addWidget(self.polarity_button)
        row.addWidget(self.accept_button)
        row.addWidget(self.clear_button)
        col.addLayout(row)
        row = QHBoxLayout()
        self.undo_button = QPushButton("Undo (Ctrl+Z)")
        self.redo_button = QPushButton("Redo (Ctrl+Shift+Z)")
        row.addWidget(self.undo_button)
        row.addWidget(self.redo_button)
        col.addLayout(row)
        root.addWidget(tools)

        prop = QGroupBox("Propagate along the viewed axis (G)")
        form = QFormLayout(prop)
        self.stop_edit = QLineEdit()
        self.stop_edit.setPlaceholderText("stop slices, e.g. 12, 40")
        self.stop_here_button = QPushButton("Stop here")
        stop_row = QHBoxLayout()
        stop_row.addWidget(self.stop_edit)
        stop_row.addWidget(self.stop_here_button)
        self.range_spin = QSpinBox()
        self.range_spin.setRange(0, 100000)
        self.range_spin.setSpecialValueText("no limit")
        self.iou_spin = QDoubleSpinBox()
        self.iou_spin.setRange(0.0, 1.0)
        self.iou_spin.setSingleStep(0.05)
        self.iou_spin.setValue(PropagationOptions.iou_threshold)
        self.propagate_button = QPushButton("Propagate")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        run_row = QHBoxLayout()
        run_row.addWidget(self.propagate_button)
        run_row.addWidget(self.cancel_button)
        form.addRow("Stop at", stop_row)
        form.addRow("Range (slices)", self.range_spin)
        form.addRow("Stop below IoU", self.iou_spin)
        form.addRow(run_row)
        self.progress_bar = QProgressBar()  # shown while a propagation runs (progress.py)
        self.progress_bar.setVisible(False)
        form.addRow(self.progress_bar)
        root.addWidget(prop)

        self.save_button = QPushButton("Save labels as NIfTI...")
        root.addWidget(self.save_button)
        self.restore_button = QPushButton("Restore autosaved labels")
        self.restore_button.setVisible(False)
        root.addWidget(self.restore_button)
        self.status = QLabel("Choose an image layer.")
        self.status.setWordWrap(True)
        root.addWidget(self.status)
        root.addStretch(1)
