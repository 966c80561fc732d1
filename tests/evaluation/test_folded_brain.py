"""The folded brain phantoms and their averages (``bench --sets dev-mr-folded``)."""

import numpy as np
from scipy import ndimage

from napari_medseg.evaluation.folded_brain import average_brain_phantom, folded_brain_phantom
from napari_medseg.evaluation.mr_phantom import brain_labels, brain_phantom


def _gyral_fingers(white: np.ndarray) -> float:
    """The share of the white matter (on its largest slice) that an opening of radius 2 removes: thin
    gyral cores vanish under it, a smooth blob keeps nearly all."""
    k = int(np.argmax(white.sum(axis=(0, 1))))
    sl = white[:, :, k]
    opened = ndimage.binary_opening(sl, structure=np.ones((5, 5), bool))
    return float((sl & ~opened).sum() / sl.sum())


def test_folded_brain_has_thin_cortex_and_gyral_white_matter_unlike_the_smooth_phantom():
    image, labels, names = folded_brain_phantom(5)
    assert np.array_equal(image, folded_brain_phantom(5)[0])  # seeded
    refs = brain_labels(labels)
    assert set(names) == {1, 2, 3}
    for part in ("white matter", "grey matter", "ventricles"):
        assert refs[part].any() and not (refs[part] & ~refs["brain"]).any()
    smooth = brain_labels(brain_phantom(3)[1])
    assert _gyral_fingers(refs["white matter"]) > 2 * _gyral_fingers(smooth["white matter"])
    # the cortex is a ribbon about 2 voxels thick: its mean distance to the nearest non-grey voxel
    grey = refs["grey matter"]
    depth = ndimage.distance_transform_edt(grey)
    assert 1.0 <= float(depth[grey].mean()) < 2.0
    mean = {k: float(image[refs[k]].mean()) for k in refs}
    assert mean["white matter"] > mean["grey matter"] > mean["ventricles"]


def test_average_brain_is_blurred_template_with_probability_labels():
    image, labels, _ = average_brain_phantom(6, subjects=3)
    single, single_labels, _ = folded_brain_phantom(6)
    refs = brain_labels(labels)
    assert refs["white matter"].any() and refs["grey matter"].any()
    # averaging brains whose minor sulci differ blurs the image: less high-frequency energy than one brain
    def roughness(img: np.ndarray) -> float:
        return float(np.abs(img - ndimage.gaussian_filter(img, 1.5)).mean())

    assert roughness(image) < 0.8 * roughness(single)
    assert not np.array_equal(labels, single_labels)


def test_dev_mr_folded_set_holds_a_folded_brain_and_two_averages():
    from napari_medseg.evaluation.datasets import DEV_MR_FOLDED_SET, load_cases

    cases = load_cases(DEV_MR_FOLDED_SET)
    assert len(cases) == 12 and {c.set_name for c in cases} == {DEV_MR_FOLDED_SET} and {c.preset for c in cases} == {"mr"}
    assert {c.volume_name for c in cases} == {"mr-folded-5-crop", "mr-average-6-crop", "mr-average-7-crop"}
