"""The bundled sample through napari's File > Open Sample machinery."""

from __future__ import annotations

import nibabel as nib
import numpy as np

from napari_medseg.core.sample import load_sample


def test_open_sample_gives_ct_and_hidden_reference_labels_aligned(make_napari_viewer, tmp_path):
    volume, reference, names = load_sample()
    viewer = make_napari_viewer()

    layers = viewer.open_sample("napari-medseg", "abdomen_ct")

    image, labels = layers
    assert image._type_string == "image" and labels._type_string == "labels"
    assert image.data.shape == labels.data.shape == volume.shape
    np.testing.assert_array_equal(np.asarray(image.data), np.asarray(volume.data))
    np.testing.assert_array_equal(np.asarray(labels.data), reference)
    np.testing.assert_allclose(image.scale, volume.spacing, rtol=1e-5)
    np.testing.assert_allclose(labels.scale, image.scale)
    np.testing.assert_allclose(labels.translate, image.translate)
    np.testing.assert_allclose(image.metadata["affine"], volume.affine)
    assert tuple(image.contrast_limits) == (-160.0, 240.0)
    assert not labels.visible
    # napari's status bar names the organ under the cursor from the features table
    liver_id = next(int(k) for k, v in names.items() if v.lower() == "liver")
    row = list(labels.features["index"]).index(liver_id)
    assert labels.features["name"][row] == names[liver_id]
    assert labels.metadata["label_names"][liver_id] == names[liver_id]

    out = tmp_path / "reference_labels.nii.gz"
    labels.save(str(out), plugin="napari-medseg")
    back = nib.load(str(out))
    np.testing.assert_array_equal(np.asarray(back.dataobj), reference)
    np.testing.assert_allclose(back.affine, volume.affine)
