"""Volume IO: NIfTI and zarr round trips, bad files, atomic writes, napari geometry."""

from __future__ import annotations

import gzip
import os
import warnings
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import zarr

from napari_medseg.core.volume_io import (
    Volume,
    atomic_path,
    napari_scale_translate,
    read_volume,
    read_zarr,
    smallest_label_dtype,
    write_labels,
    write_zarr,
)
from napari_medseg.errors import MedsegError, VolumeReadError, VolumeWriteError


def _one_line(exc: pytest.ExceptionInfo) -> str:
    msg = str(exc.value)
    assert "\n" not in msg and msg
    assert isinstance(exc.value, MedsegError)
    return msg


def test_read_nifti_keeps_array_affine_spacing_and_codes(nifti_path, small_ct, scanner_affine):
    vol = read_volume(nifti_path)
    assert isinstance(vol, Volume)
    assert vol.shape == small_ct.shape
    assert vol.data.dtype == np.int16
    np.testing.assert_array_equal(vol.data, small_ct)
    np.testing.assert_allclose(vol.affine, scanner_affine())
    np.testing.assert_allclose(vol.spacing, (0.8, 0.8, 2.5), rtol=1e-6)
    assert int(vol.header["sform_code"]) == 4 and int(vol.header["qform_code"]) == 1
    assert vol.path == nifti_path


def test_labels_round_trip_with_reference_geometry(tmp_path, nifti_path, small_labels):
    ref = read_volume(nifti_path)
    out = write_labels(tmp_path / "seg.nii.gz", small_labels, reference=ref)
    img = nib.load(str(out))
    assert img.get_data_dtype() == np.uint8
    assert int(img.header["sform_code"]) == 4 and int(img.header["qform_code"]) == 1
    np.testing.assert_allclose(img.affine, ref.affine)
    assert img.header.get_xyzt_units() == ("mm", "sec")
    back = read_volume(out)
    np.testing.assert_array_equal(back.data, small_labels)
    np.testing.assert_allclose(back.spacing, ref.spacing)


def test_labels_without_reference_get_identity_affine(tmp_path, small_labels):
    out = write_labels(tmp_path / "seg.nii", small_labels.astype(np.int64))
    vol = read_volume(out)
    np.testing.assert_allclose(vol.affine, np.eye(4))
    assert vol.data.dtype == np.uint8


@pytest.mark.parametrize(
    ("top", "dtype"),
    [(1, np.uint8), (255, np.uint8), (256, np.uint16), (65535, np.uint16), (70000, np.int32)],
)
def test_smallest_dtype_is_written(tmp_path, top, dtype):
    labels = np.zeros((4, 5, 3), dtype=np.int64)
    labels[1, 2, 1] = top
    out = write_labels(tmp_path / "seg.nii.gz", labels)
    img = nib.load(str(out))
    assert img.get_data_dtype() == dtype
    assert int(np.asanyarray(img.dataobj).max()) == top


def test_bool_and_integral_float_labels_are_accepted():
    assert smallest_label_dtype(np.ones((2, 2, 2), bool)) == np.uint8
    assert smallest_label_dtype(np.full((2, 2, 2), 300.0)) == np.uint16


def test_negative_or_fractional_labels_are_refused(tmp_path):
    with pytest.raises(VolumeWriteError) as exc:
        write_labels(tmp_path / "seg.nii.gz", np.full((2, 2, 2), -1, dtype=np.int16))
    assert ">= 0" in _one_line(exc)
    with pytest.raises(VolumeWriteError):
        write_labels(tmp_path / "seg.nii.gz", np.full((2, 2, 2), 0.5))
    assert not (tmp_path / "seg.nii.gz").exists()


def test_shape_mismatch_leaves_existing_file_intact(tmp_path, nifti_path, small_labels):
    ref = read_volume(nifti_path)
    target = write_labels(tmp_path / "seg.nii.gz", small_labels, reference=ref)
    before = target.read_bytes()
    with pytest.raises(VolumeWriteError) as exc:
        write_labels(target, small_labels[:, :, :3], reference=ref)
    assert "does not match" in _one_line(exc)
    assert target.read_bytes() == before


def test_failing_save_leaves_old_file_and_no_temp(tmp_path, monkeypatch, small_labels):
    target = write_labels(tmp_path / "seg.nii.gz", small_labels)
    before = target.read_bytes()

    def half_write_then_fail(img, filename):
        Path(filename).write_bytes(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(nib, "save", half_write_then_fail)
    with pytest.raises(VolumeWriteError) as exc:
        write_labels(target, small_labels * 2)
    assert "No space left" in _one_line(exc)
    assert target.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["seg.nii.gz"]


def test_atomic_path_replaces_only_on_success(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        assert tmp.parent == tmp_path and tmp.name.endswith("out.txt") and tmp != target
        tmp.write_text("new")
        raise RuntimeError("boom")
    assert target.read_text() == "old"
    with atomic_path(target) as tmp:
        tmp.write_text("new")
    assert target.read_text() == "new"
    assert os.listdir(tmp_path) == ["out.txt"]


def test_2d_image_becomes_one_slice_volume(tmp_path):
    data = np.arange(20, dtype=np.float32).reshape(4, 5)
    nib.save(nib.Nifti1Image(data, np.diag([0.5, 0.7, 1.0, 1.0])), str(tmp_path / "x.nii"))
    vol = read_volume(tmp_path / "x.nii")
    assert vol.shape == (4, 5, 1)
    np.testing.assert_array_equal(vol.data[:, :, 0], data)
    assert len(vol.spacing) == 3
    np.testing.assert_allclose(vol.spacing[:2], (0.5, 0.7))


def test_single_volume_4d_is_squeezed(tmp_path, small_ct):
    nib.save(nib.Nifti1Image(small_ct[..., np.newaxis], np.eye(4)), str(tmp_path / "x.nii.gz"))
    vol = read_volume(tmp_path / "x.nii.gz")
    assert vol.shape == small_ct.shape
    np.testing.assert_array_equal(vol.data, small_ct)


def test_multi_volume_4d_is_refused(tmp_path):
    nib.save(nib.Nifti1Image(np.zeros((4, 4, 3, 2), np.int16), np.eye(4)), str(tmp_path / "x.nii.gz"))
    with pytest.raises(VolumeReadError) as exc:
        read_volume(tmp_path / "x.nii.gz")
    assert "(4, 4, 3, 2)" in _one_line(exc)


@pytest.mark.parametrize("suffix", [".nii.gz", ".zarr"])
def test_a_volume_without_voxels_is_refused(tmp_path, suffix):
    path = tmp_path / f"empty{suffix}"
    if suffix == ".zarr":
        zarr.save(str(path), np.zeros((0, 4, 4), np.float32))
    else:
        nib.save(nib.Nifti1Image(np.zeros((0, 4, 4), np.float32), np.eye(4)), str(path))
    with pytest.raises(VolumeReadError) as exc:
        read_volume(path)
    assert "holds no voxels" in _one_line(exc) and "(0, 4, 4)" in _one_line(exc)


def test_rgb_is_refused(tmp_path):
    rgb = np.zeros((4, 4, 3), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    nib.save(nib.Nifti1Image(rgb, np.eye(4)), str(tmp_path / "rgb.nii.gz"))
    with pytest.raises(VolumeReadError) as exc:
        read_volume(tmp_path / "rgb.nii.gz")
    assert "RGB" in _one_line(exc)


def test_missing_and_wrong_format_files(tmp_path):
    with pytest.raises(VolumeReadError) as exc:
        read_volume(tmp_path / "nope.nii.gz")
    assert "not found" in _one_line(exc)
    (tmp_path / "image.png").write_bytes(b"\x89PNG")
    with pytest.raises(VolumeReadError) as exc:
        read_volume(tmp_path / "image.png")
    assert "NIfTI" in _one_line(exc)


def test_truncated_gzip_is_a_read_error(tmp_path, nifti_path):
    raw = nifti_path.read_bytes()
    bad = tmp_path / "truncated.nii.gz"
    bad.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(VolumeReadError) as exc:
        read_volume(bad)
    assert "truncated" in _one_line(exc)


def test_corrupt_files_are_read_errors(tmp_path, nifti_path):
    garbage = tmp_path / "garbage.nii.gz"
    garbage.write_bytes(b"this is not gzip at all" * 10)
    with pytest.raises(VolumeReadError):
        read_volume(garbage)
    not_nifti = tmp_path / "text.nii.gz"
    not_nifti.write_bytes(gzip.compress(b"hello " * 100))
    with pytest.raises(VolumeReadError):
        read_volume(not_nifti)
    raw = bytearray(gzip.decompress(nifti_path.read_bytes()))
    cut = tmp_path / "cut.nii"
    cut.write_bytes(bytes(raw[: 352 + 100]))  # header intact, voxels missing
    with pytest.raises(VolumeReadError) as exc:
        read_volume(cut)
    _one_line(exc)


def test_zarr_round_trip_is_lazy(tmp_path, small_ct, scanner_affine):
    affine = scanner_affine()
    path = write_zarr(tmp_path / "ct.zarr", small_ct, affine=affine, chunks=(16, 14, 1))
    vol = read_volume(path)
    assert isinstance(vol.data, zarr.Array)
    assert vol.data.chunks == (16, 14, 1)
    assert vol.shape == small_ct.shape and vol.data.dtype == np.int16
    np.testing.assert_array_equal(vol.data[:, :, 3], small_ct[:, :, 3])
    np.testing.assert_allclose(vol.affine, affine)
    np.testing.assert_allclose(vol.spacing, (0.8, 0.8, 2.5))


def test_zarr_rewrite_is_atomic_and_labels_to_zarr(tmp_path, small_ct, small_labels, scanner_affine):
    ref = Volume(small_ct, scanner_affine(), (0.8, 0.8, 2.5))
    path = write_labels(tmp_path / "seg.zarr", small_labels, reference=ref)
    first = read_zarr(path)
    assert first.data.dtype == np.uint8
    np.testing.assert_allclose(first.affine, ref.affine)
    with pytest.raises(VolumeWriteError):
        write_zarr(path, np.zeros((2, 2)))
    np.testing.assert_array_equal(read_zarr(path).data[...], small_labels)
    write_zarr(path, small_labels * 3)
    np.testing.assert_array_equal(read_zarr(path).data[...], small_labels * 3)
    assert os.listdir(tmp_path) == ["seg.zarr"]


def test_zarr_that_is_not_a_volume_is_a_read_error(tmp_path):
    zarr.open_group(store=str(tmp_path / "g.zarr"), mode="w")
    with pytest.raises(VolumeReadError) as exc:
        read_volume(tmp_path / "g.zarr")
    assert "OME-Zarr" in _one_line(exc)
    (tmp_path / "empty.zarr").mkdir()
    with pytest.raises(VolumeReadError) as exc:
        read_volume(tmp_path / "empty.zarr")
    _one_line(exc)
    write_zarr(tmp_path / "ok.zarr", np.zeros((2, 2, 2), np.uint8))
    zarr.create_array(store=str(tmp_path / "four.zarr"), shape=(2, 2, 2, 2), dtype=np.uint8)
    with pytest.raises(VolumeReadError) as exc:
        read_volume(tmp_path / "four.zarr")
    assert "(2, 2, 2, 2)" in _one_line(exc)


def test_scale_translate_axis_aligned_with_flips(scanner_affine):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        scale, translate = napari_scale_translate(scanner_affine((0.8, 0.9, 2.5), (10.0, -20.0, 30.0)))
    np.testing.assert_allclose(scale, (0.8, 0.9, 2.5))
    np.testing.assert_allclose(translate, (10.0, -20.0, 30.0))


def test_scale_translate_oblique_warns():
    theta = np.deg2rad(20)
    rot = np.array([[np.cos(theta), -np.sin(theta), 0], [np.sin(theta), np.cos(theta), 0], [0, 0, 1]])
    affine = np.eye(4)
    affine[:3, :3] = rot @ np.diag([0.7, 0.7, 3.0])
    affine[:3, 3] = (1.0, 2.0, 3.0)
    with pytest.warns(UserWarning, match="oblique") as record:
        scale, translate = napari_scale_translate(affine)
    assert len(record) == 1 and "\n" not in str(record[0].message)
    np.testing.assert_allclose(scale, (0.7, 0.7, 3.0))
    np.testing.assert_allclose(translate, (1.0, 2.0, 3.0))


def test_ome_zarr_full_resolution_level_with_scale(tmp_path, small_ct):
    group = zarr.open_group(store=str(tmp_path / "img.ome.zarr"), mode="w")
    level0 = group.create_array("0", shape=small_ct.shape, chunks=(16, 14, 1), dtype=small_ct.dtype)
    level0[...] = small_ct
    group.create_array("1", shape=(16, 14, 3), dtype=small_ct.dtype)
    group.attrs["multiscales"] = [
        {
            "axes": [{"name": "z"}, {"name": "y"}, {"name": "x"}],
            "datasets": [
                {
                    "path": "0",
                    "coordinateTransformations": [
                        {"type": "scale", "scale": [2.0, 0.5, 0.7]},
                        {"type": "translation", "translation": [10.0, 20.0, 30.0]},
                    ],
                },
                {"path": "1", "coordinateTransformations": [{"type": "scale", "scale": [4.0, 1.0, 1.4]}]},
            ],
        }
    ]
    vol = read_volume(tmp_path / "img.ome.zarr")
    assert isinstance(vol.data, zarr.Array) and vol.shape == small_ct.shape
    np.testing.assert_array_equal(vol.data[:, :, 2], small_ct[:, :, 2])
    np.testing.assert_allclose(vol.spacing, (2.0, 0.5, 0.7))
    np.testing.assert_allclose(vol.affine[:3, 3], (10.0, 20.0, 30.0))
