"""The NIfTI/zarr reader and the labels/image writers, through napari's own open and save."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from napari_medseg._reader import (
    is_labels_file,
    labels_file_for,
    looks_like_ct,
    napari_get_reader,
    read_layers,
)
from napari_medseg._writer import write_labels
from napari_medseg.core.volume_io import write_zarr
from napari_medseg.errors import VolumeReadError, VolumeWriteError

PLUGIN = "napari-medseg"
SHAPE = (24, 20, 8)


def _affine() -> np.ndarray:
    """RAS with the usual x/y flips, anisotropic voxels and an origin offset."""
    return np.array(
        [
            [-0.8, 0.0, 0.0, 95.5],
            [0.0, -0.8, 0.0, 80.25],
            [0.0, 0.0, 2.5, -40.0],
            [0.0, 0.0, 0.0, 1.0],
        ]
    )


def _ct(rng: np.random.Generator) -> np.ndarray:
    data = rng.normal(40, 15, SHAPE).astype(np.int16)
    data[:3] = -1000  # air around the body
    return data


def _write_nifti(path, data, affine, code=1):
    img = nib.Nifti1Image(data, affine)
    img.set_sform(affine, code=code)
    img.set_qform(affine, code=code)
    nib.save(img, str(path))
    return path


def test_open_nifti_gives_image_with_geometry_from_affine(make_napari_viewer, tmp_path):
    data = _ct(np.random.default_rng(0))
    path = _write_nifti(tmp_path / "ct.nii.gz", data, _affine())
    viewer = make_napari_viewer()

    layers = viewer.open(path, plugin=PLUGIN)

    assert len(layers) == 1
    layer = layers[0]
    assert layer._type_string == "image"
    assert layer.name == "ct"
    np.testing.assert_array_equal(np.asarray(layer.data), data)
    np.testing.assert_allclose(layer.scale, (0.8, 0.8, 2.5))
    np.testing.assert_allclose(layer.translate, (95.5, 80.25, -40.0))
    np.testing.assert_allclose(layer.metadata["affine"], _affine())
    assert layer.metadata["medseg_source"] == str(path)
    assert tuple(layer.contrast_limits) == (-160.0, 240.0)  # a CT opens in the abdomen window


def _ct_and_labels(viewer, tmp_path, seed: int, extra: dict | None = None):
    """A CT opened through the reader and a Labels layer drawn on it (ids 3 and 7) with its metadata."""
    image_path = _write_nifti(tmp_path / "ct.nii.gz", _ct(np.random.default_rng(seed)), _affine(), code=2)
    image = viewer.open(image_path, plugin=PLUGIN)[0]
    labels = np.zeros(SHAPE, dtype=np.int32)
    labels[5:15, 4:12, 2:6] = 3
    labels[16:20, 2:5, 1:3] = 7
    metadata = {**image.metadata, **(extra or {})}
    return image, labels, viewer.add_labels(labels, scale=image.scale, translate=image.translate, metadata=metadata)


def test_labels_round_trip_through_napari_save_keeps_affine_and_header_codes(make_napari_viewer, tmp_path):
    viewer = make_napari_viewer()
    image, labels, layer = _ct_and_labels(viewer, tmp_path, seed=1)

    out = tmp_path / "saved_labels.nii.gz"
    written = layer.save(str(out), plugin=PLUGIN)

    assert [str(p) for p in written] == [str(out)]
    back = nib.load(str(out))
    np.testing.assert_array_equal(np.asarray(back.dataobj), labels)
    assert back.get_data_dtype() == np.uint8  # smallest integer type that holds the ids
    np.testing.assert_allclose(back.affine, _affine())
    assert int(back.header["sform_code"]) == 2

    reopened = viewer.open(out, plugin=PLUGIN)[0]  # "*_labels" + integers -> a Labels layer
    assert reopened._type_string == "labels"
    np.testing.assert_array_equal(np.asarray(reopened.data), labels)
    np.testing.assert_allclose(reopened.scale, image.scale)


def test_labels_without_affine_take_the_matching_image_affine(make_napari_viewer, tmp_path):
    import napari

    rng = np.random.default_rng(2)
    image_path = _write_nifti(tmp_path / "ct.nii.gz", _ct(rng), _affine())
    viewer = make_napari_viewer()
    image = viewer.open(image_path, plugin=PLUGIN)[0]
    labels = np.zeros(SHAPE, dtype=np.uint16)
    labels[2:9, 3:7, 1:4] = 300
    viewer.add_labels(labels, name="drawn", scale=image.scale, translate=image.translate)

    out = tmp_path / "drawn.nii"
    napari.save_layers(str(out), [viewer.layers["drawn"]], plugin=PLUGIN)

    back = nib.load(str(out))
    np.testing.assert_allclose(back.affine, _affine())  # flips recovered from the image, not the scale
    np.testing.assert_array_equal(np.asarray(back.dataobj), labels)
    assert back.get_data_dtype() == np.uint16


def test_labels_alone_fall_back_to_scale_and_translate(tmp_path):
    labels = np.zeros(SHAPE, dtype=np.int64)
    labels[1:4, 1:4, 1:4] = 2
    out = write_labels(
        str(tmp_path / "alone.nii.gz"), labels, {"scale": (0.5, 0.5, 3.0), "translate": (1, 2, 3)}
    )
    back = nib.load(out[0])
    expected = np.diag([0.5, 0.5, 3.0, 1.0])
    expected[:3, 3] = (1, 2, 3)
    np.testing.assert_allclose(back.affine, expected)
    np.testing.assert_array_equal(np.asarray(back.dataobj), labels)


def test_image_writer_round_trip(make_napari_viewer, tmp_path):
    import napari

    data = np.random.default_rng(3).normal(300, 50, SHAPE).astype(np.float32)
    path = _write_nifti(tmp_path / "mr.nii.gz", data, _affine())
    viewer = make_napari_viewer()
    layer = viewer.open(path, plugin=PLUGIN)[0]
    assert "medseg_preset" not in layer.metadata  # not a CT: napari picks the contrast

    out = tmp_path / "copy.nii.gz"
    napari.save_layers(str(out), [layer], plugin=PLUGIN)

    back = nib.load(str(out))
    np.testing.assert_array_equal(np.asarray(back.dataobj), data)
    np.testing.assert_allclose(back.affine, _affine())


def test_zarr_directory_opens_lazily_with_its_affine_and_labels_save_back(make_napari_viewer, tmp_path):
    data = _ct(np.random.default_rng(4))
    store = write_zarr(tmp_path / "ct.zarr", data, affine=_affine())
    viewer = make_napari_viewer()

    layer = viewer.open(str(store), plugin=PLUGIN)[0]

    assert layer._type_string == "image"
    np.testing.assert_array_equal(np.asarray(layer.data), data)
    np.testing.assert_allclose(layer.metadata["affine"], _affine())
    np.testing.assert_allclose(layer.scale, (0.8, 0.8, 2.5))

    labels = viewer.add_labels((data > 0).astype(np.uint8) * 2, metadata=dict(layer.metadata))
    written = labels.save(str(tmp_path / "ct_labels.zarr"), plugin=PLUGIN)
    back = viewer.open(written[0], plugin=PLUGIN)[0]
    assert back._type_string == "labels"
    np.testing.assert_array_equal(np.asarray(back.data), labels.data)
    np.testing.assert_allclose(back.metadata["affine"], _affine())


def test_reader_declines_other_files_and_reports_corrupt_ones(tmp_path):
    assert napari_get_reader(str(tmp_path / "photo.tif")) is None
    assert napari_get_reader([str(tmp_path / "a.nii.gz"), str(tmp_path / "b.png")]) is None
    broken = tmp_path / "broken.nii.gz"
    broken.write_bytes(b"\x1f\x8b\x08\x00 not really gzip")
    reader = napari_get_reader(str(broken))
    assert reader is not None
    with pytest.raises(VolumeReadError, match="broken.nii.gz"):
        reader(str(broken))


def test_labels_rule_depends_on_name_and_dtype_only(tmp_path):
    assert is_labels_file("liver_seg.nii.gz", np.uint8)
    assert is_labels_file("a_mask.zarr", np.int32)
    assert not is_labels_file("ct_labels.nii.gz", np.float32)  # float data stay an image
    assert not is_labels_file("labels_ct.nii", np.uint8)
    data = np.zeros(SHAPE, dtype=np.uint8)
    data[3:6, 3:6, 2] = 4
    path = _write_nifti(tmp_path / "few_values.nii.gz", data, np.eye(4))
    assert read_layers(str(path))[0][2] == "image"  # few unique values do not make labels
    assert not looks_like_ct(np.full((2, 2, 2), 100, dtype=np.int16))
    padded = np.full((4, 4, 2), 40, dtype=np.int16)
    padded[0] = -3024  # outside the scanner's field of view
    assert looks_like_ct(padded)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's "All-NaN slice encountered" was one
        assert not looks_like_ct(np.full((2, 2, 2), np.nan, dtype=np.float32))


def test_writer_rejects_a_2d_layer_and_keeps_the_old_file(tmp_path):
    out = tmp_path / "old_labels.nii.gz"
    old = np.ones(SHAPE, dtype=np.uint8)
    write_labels(str(out), old, {"metadata": {"affine": _affine()}})
    before = out.read_bytes()
    with pytest.raises(VolumeWriteError, match="3D"):
        write_labels(str(out), np.ones((4, 4), dtype=np.uint8), {"name": "flat"})
    with pytest.raises(VolumeWriteError, match=">= 0"):
        write_labels(str(out), -np.ones(SHAPE, dtype=np.int8), {"metadata": {"affine": _affine()}})
    assert out.read_bytes() == before


@pytest.mark.parametrize(
    ("image", "name", "expected"),
    [
        ("/data/case01.nii.gz", "case01", "/data/case01_seg.nii.gz"),
        ("/data/ct.scan.nii", "ct.scan", "/data/ct.scan_seg.nii.gz"),
        ("/data/volume.zarr", "volume", "/data/volume_seg.nii.gz"),
        (None, "sample CT", "sample_CT_seg.nii.gz"),
        (None, "../..", "image_seg.nii.gz"),
    ],
)
def test_the_default_labels_file_opens_as_labels_again(image, name, expected):
    """The panel's save dialog starts on this name; the old default, labels.nii.gz, came back as an image."""
    path = labels_file_for(image, name)
    assert path == Path(expected)
    assert is_labels_file(path, np.uint16) and not is_labels_file("labels.nii.gz", np.uint16)


def test_label_names_are_saved_beside_the_labels_and_come_back_on_open(make_napari_viewer, tmp_path):
    """The panel's names (metadata["label_names"]) go to <file>.json and return as names napari shows."""
    viewer = make_napari_viewer()
    _, _, layer = _ct_and_labels(viewer, tmp_path, seed=2, extra={"label_names": {3: "liver", 4: ""}})
    out = tmp_path / "ct_seg.nii.gz"
    written = layer.save(str(out), plugin=PLUGIN)
    assert [str(p) for p in written] == [str(out), str(tmp_path / "ct_seg.json")]
    reopened = viewer.open(out, plugin=PLUGIN)[0]
    assert reopened._type_string == "labels" and reopened.metadata["label_names"] == {3: "liver"}
    assert dict(zip(reopened.features["index"], reopened.features["name"], strict=True)) == {
        0: "background", 3: "liver"}  # (label 7 has no name: napari shows its id alone)
    assert "liver" in reopened.get_status((10, 8, 3), world=False)["coordinates"]  # napari names it on hover


def test_nrrd_from_slicer_opens_in_napari_and_its_labels_save_as_nifti_on_its_grid(
    make_napari_viewer, tmp_path, write_nrrd, lps_header
):
    """A Slicer pair (image + ``_label`` NRRD in LPS) opens through napari's own open with the
    geometry of its header; labels saved from it land on the same world grid as NIfTI."""
    data = _ct(np.random.default_rng(3))
    seg = np.zeros(SHAPE, dtype=np.int16)
    seg[8:14, 6:12, 2:5] = 1
    image_path = write_nrrd(tmp_path / "lung1_image.nrrd", data, lps_header)
    label_path = write_nrrd(tmp_path / "lung1_label.nrrd", seg, lps_header)
    viewer = make_napari_viewer()

    image = viewer.open(image_path, plugin=PLUGIN)[0]
    labels = viewer.open(label_path, plugin=PLUGIN)[0]

    assert (image._type_string, labels._type_string) == ("image", "labels")
    np.testing.assert_array_equal(np.asarray(image.data), data)
    np.testing.assert_array_equal(np.asarray(labels.data), seg)
    np.testing.assert_allclose(image.metadata["affine"], labels.metadata["affine"])
    # the header's LPS directions (0.5, -0.75, 3 mm) and origin as RAS: x and y negated
    np.testing.assert_allclose(image.metadata["affine"][:3, 3], (10.0, -20.0, -30.0))
    np.testing.assert_allclose(np.abs(image.scale), (0.5, 0.75, 3.0))
    assert image.contrast_limits == [-160.0, 240.0]  # a CT, in the abdomen window

    written = labels.save(str(tmp_path / "lung1_seg.nii.gz"), plugin=PLUGIN)
    back = nib.load(written[0])
    np.testing.assert_array_equal(np.asarray(back.dataobj), seg)
    np.testing.assert_allclose(back.affine, image.metadata["affine"])
