"""napari sample data: the bundled abdominal CT phantom and its reference labels.

The image opens in the CT abdomen window with its spacing and origin from the affine; the reference
labels come as a second, hidden Labels layer (toggle it to compare), with the organ names as features
so napari's status bar names the label under the cursor.
"""

from __future__ import annotations

import numpy as np

from napari_medseg._reader import CT_ABDOMEN_LIMITS, LayerData, label_features, volume_layer_data
from napari_medseg.core.sample import load_sample

SAMPLE_IMAGE_NAME = "sample CT"
SAMPLE_LABELS_NAME = "reference labels"


def make_sample_data() -> list[LayerData]:
    """[image layer, reference labels layer] of the bundled phantom."""
    volume, labels, names = load_sample()
    image_data, image_kwargs, _ = volume_layer_data(volume, SAMPLE_IMAGE_NAME, "image", source=volume.path)
    image_kwargs["contrast_limits"] = CT_ABDOMEN_LIMITS
    image_kwargs["metadata"]["medseg_preset"] = "ct-abdomen"
    _, labels_kwargs, _ = volume_layer_data(volume, SAMPLE_LABELS_NAME, "labels")
    labels_kwargs["metadata"]["label_names"] = {int(k): str(v) for k, v in names.items()}
    labels_kwargs["features"] = label_features(names)
    labels_kwargs["opacity"] = 0.5
    labels_kwargs["visible"] = False
    return [(image_data, image_kwargs, "image"), (np.asarray(labels), labels_kwargs, "labels")]
