"""Shared fixtures of the model tests."""

from __future__ import annotations

import numpy as np
import pytest

from napari_medseg.core.prompts import BoxPrompt, SliceRef


@pytest.fixture(scope="module")
def dev_kidney():
    """A development phantom's right kidney (``generate_phantom(8)``, label 3) on its largest slice:
    the shipped built-in model, the slice's embedding, a box 2 px around the kidney and the kidney's
    mask. Development data: what the inference-time rules were chosen on, never evaluated on."""
    from napari_medseg.core.intensity import get_preset
    from napari_medseg.core.sample import generate_phantom
    from napari_medseg.models.builtin.model import load_builtin

    image, labels, _, _ = generate_phantom(8)
    z = int(np.argmax((labels == 3).sum(axis=(0, 1))))
    ref = labels[:, :, z] == 3
    model = load_builtin()
    emb = model.encode(get_preset("ct-abdomen").fit(image).apply(image[:, :, z]))
    rows, cols = np.flatnonzero(ref.any(1)), np.flatnonzero(ref.any(0))
    box = BoxPrompt(SliceRef(2, 0), (float(rows[0] - 2), float(cols[0] - 2)), (float(rows[-1] + 2), float(cols[-1] + 2)))
    return model, emb, box, ref
