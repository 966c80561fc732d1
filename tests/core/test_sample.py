"""The bundled CT phantom: geometry, realistic intensities, smooth shapes, reproducible from its generator."""

from __future__ import annotations

import warnings

import nibabel as nib
import numpy as np
import pytest
from scipy import ndimage

from napari_medseg.core.sample import (
    DATA_DIR,
    IMAGE_FILE,
    LABEL_NAMES,
    LABELS_FILE,
    NAMES_FILE,
    generate_phantom,
    load_sample,
)
from napari_medseg.core.volume_io import napari_scale_translate


@pytest.fixture(scope="module")
def sample():
    return load_sample()


def test_files_are_small_and_carry_scanner_codes():
    total = sum((DATA_DIR / f).stat().st_size for f in (IMAGE_FILE, LABELS_FILE, NAMES_FILE))
    assert total < 3 * 1024**2
    for name in (IMAGE_FILE, LABELS_FILE):
        header = nib.load(str(DATA_DIR / name)).header
        assert int(header["sform_code"]) == 1 and int(header["qform_code"]) == 1


def test_geometry(sample):
    image, labels, names = sample
    assert image.shape == (192, 160, 48) and image.data.dtype == np.int16
    assert labels.shape == image.shape and labels.dtype == np.uint8
    np.testing.assert_allclose(image.spacing, (0.9, 0.9, 3.0), rtol=1e-6)
    assert image.affine[0, 0] > 0 and image.affine[1, 1] < 0 and image.affine[2, 2] > 0  # y flipped
    assert np.abs(image.affine[:3, 3]).min() > 1.0  # a real origin offset, not the identity
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # axis-aligned: no oblique warning
        scale, _ = napari_scale_translate(image.affine)
    np.testing.assert_allclose(scale, (0.9, 0.9, 3.0), rtol=1e-6)
    assert names == LABEL_NAMES
    assert set(np.unique(labels)) == {0, *LABEL_NAMES}


def _mean_hu(image, labels, label_id):
    inner = ndimage.binary_erosion(labels == label_id, iterations=1)
    return float(image[inner].mean())


def test_organ_intensities_are_ct_like(sample):
    volume, labels, _ = sample
    image = np.asarray(volume.data, dtype=np.float32)
    expected = {
        1: (50, 72),
        2: (38, 62),
        3: (110, 170),
        4: (110, 170),
        5: (180, 225),
        6: (300, 700),
        7: (18, 42),
    }
    for label_id, (lo, hi) in expected.items():
        assert lo <= _mean_hu(image, labels, label_id) <= hi, LABEL_NAMES[label_id]
    assert _mean_hu(image, labels, 1) - _mean_hu(image, labels, 7) > 15  # the lesion is visible, barely
    assert image.min() >= -1024 and (image < -900).mean() > 0.05  # air around the body
    fat = (image > -150) & (image < -50)
    assert fat.mean() > 0.03
    liver_core = ndimage.binary_erosion(labels == 1, iterations=4)
    assert 12 < image[liver_core].std() < 35  # noise (plus texture and bias) as in a real scan


def test_shapes_vary_smoothly_between_slices(sample):
    _, labels, _ = sample
    assert all((labels[:, :, k] == 5).any() for k in range(labels.shape[2]))  # aorta in every slice
    liver = labels == 1
    areas = liver.sum(axis=(0, 1))
    present = np.flatnonzero(areas > 200)
    assert len(present) >= 15
    dices = []
    for k in present[:-1]:
        if min(areas[k], areas[k + 1]) > 0.2 * areas.max():  # away from the organ's tips
            a, b = liver[:, :, k], liver[:, :, k + 1]
            dices.append(2 * (a & b).sum() / (a.sum() + b.sum()))
    assert len(dices) >= 10 and min(dices) > 0.8 and np.median(dices) > 0.9
    assert len({int(a) // 200 for a in areas[present]}) > 5  # its shape changes along z
    outline_change = [(liver[:, :, k] ^ liver[:, :, k + 1]).sum() for k in present[:-1]]
    assert min(outline_change) > 0


def test_bundled_files_are_reproducible_from_the_generator(sample):
    volume, labels, names = sample
    image, regenerated_labels, affine, regenerated_names = generate_phantom()
    assert regenerated_names == names
    np.testing.assert_allclose(affine, volume.affine, atol=1e-4)
    assert (regenerated_labels == labels).mean() > 0.9999
    diff = np.abs(image.astype(np.int32) - np.asarray(volume.data, dtype=np.int32))
    assert diff.max() <= 1 and (diff > 0).mean() < 1e-3



def test_the_organs_lie_on_their_own_side_of_the_patient(sample):
    """World (RAS+) x grows to the patient's right: the liver and the right kidney lie there, the spleen
    and the left kidney on the left, the spine behind the aorta, the liver above the kidneys."""
    volume, labels, names = sample
    ids = {name: k for k, name in names.items()}

    def centre(name):
        voxel = np.argwhere(labels == ids[name]).mean(axis=0)
        return (volume.affine @ np.r_[voxel, 1.0])[:3]

    assert centre("liver")[0] > 0 > centre("spleen")[0]
    assert centre("right kidney")[0] > 0 > centre("left kidney")[0]
    assert centre("vertebrae")[1] < centre("aorta")[1]  # posterior
    assert centre("liver")[2] > centre("right kidney")[2]  # superior
