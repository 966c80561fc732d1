"""NRRD volumes (3D Slicer's format): voxels in NIfTI's order, geometry as a RAS affine, clear errors."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from napari_medseg._reader import layer_data, napari_get_reader
from napari_medseg.core.volume_io import read_volume, volume_suffix
from napari_medseg.errors import VolumeReadError


def _volume(shape=(6, 5, 4), dtype=np.int16) -> np.ndarray:
    return (np.arange(np.prod(shape)).reshape(shape) * 7 - 50).astype(dtype)


def test_gzip_lps_volume_reads_in_nifti_order_with_a_ras_affine(tmp_path, write_nrrd, lps_header):
    data = _volume()
    volume = read_volume(write_nrrd(tmp_path / "ct.nrrd", data, lps_header))
    np.testing.assert_array_equal(volume.data, data)  # data[i, j, k], i the file's fastest axis
    assert volume.data.dtype == np.int16 and volume.header is None
    assert volume.spacing == pytest.approx((0.5, 0.75, 3.0))
    # voxel (i, j, k) lies at origin + i * d0 + j * d1 + k * d2 in LPS: x and y negated in RAS
    i, j, k = 2, 3, 1
    lps = np.array([-10.0, 20.0, -30.0]) + i * np.array([0.5, 0, 0]) + j * np.array([0, -0.75, 0]) + k * np.array([0, 0, 3])
    ras = volume.affine @ np.array([i, j, k, 1.0])
    np.testing.assert_allclose(ras[:3], lps * np.array([-1, -1, 1]))
    assert nib.aff2axcodes(volume.affine) == ("L", "A", "S")


@pytest.mark.parametrize("encoding", ["raw", "bzip2"])
def test_raw_and_bzip2_big_endian_with_spacings_only(tmp_path, encoding, write_nrrd):
    data = _volume(dtype=np.float32) / 3.0
    path = write_nrrd(tmp_path / "mr.nrrd", data, {"spacings": "1.5 1.5 4"}, encoding=encoding, endian="big")
    volume = read_volume(path)
    np.testing.assert_array_equal(volume.data, data)
    assert volume.data.dtype.byteorder in ("=", "|", "<")  # native order, whatever the file's
    np.testing.assert_allclose(np.diag(volume.affine)[:3], (1.5, 1.5, 4.0))


def test_a_2d_image_is_one_slice_and_a_single_component_axis_is_dropped(tmp_path, write_nrrd):
    plane = _volume((7, 5), np.uint8)
    volume = read_volume(write_nrrd(tmp_path / "slice.nrrd", plane, {"spacings": "0.8 0.8"}))
    assert volume.shape == (7, 5, 1)
    np.testing.assert_array_equal(volume.data[:, :, 0], plane)
    one = _volume((1, 6, 5, 4))
    fields = {"kinds": "vector domain domain domain", "space": "RAS",
              "space directions": "none (1,0,0) (0,1,0) (0,0,2)"}
    volume = read_volume(write_nrrd(tmp_path / "one.nrrd", one, fields))
    np.testing.assert_array_equal(volume.data, one[0])
    np.testing.assert_allclose(np.diag(volume.affine)[:3], (1.0, 1.0, 2.0))
    rgb = _volume((3, 6, 5, 4))
    with pytest.raises(VolumeReadError, match="rgb.nrrd.*non-spatial axis"):
        read_volume(write_nrrd(tmp_path / "rgb.nrrd", rgb, fields))


def test_bad_nrrd_files_give_one_line_errors_naming_the_file(tmp_path, write_nrrd, lps_header):
    good = write_nrrd(tmp_path / "good.nrrd", _volume(), lps_header).read_bytes()
    cases = {
        "truncated.nrrd": (good[: len(good) - 40], "truncated"),
        "nomagic.nrrd": (b"P5\n" + good[8:], "not an NRRD file"),
        "noblank.nrrd": (good.split(b"\n\n")[0], "no blank line"),
        "detached.nrrd": (good.replace(b"encoding: gzip", b"encoding: gzip\ndata file: ct.raw.gz"), "detached"),
        "vector.nrrd": (good.replace(b"type: short", b"type: block"), "not a scalar"),
        "nosizes.nrrd": (good.replace(b"sizes:", b"sizez:"), "sizes"),
    }
    for name, (raw, expected) in cases.items():
        (tmp_path / name).write_bytes(raw)
        with pytest.raises(VolumeReadError) as exc:
            read_volume(tmp_path / name)
        message = str(exc.value)
        assert name in message and expected in message and "\n" not in message, message


def test_napari_reader_opens_nrrd_images_and_labels_with_their_affine(tmp_path, write_nrrd, lps_header):
    data = _volume()
    image = write_nrrd(tmp_path / "brain1_image.nrrd", data, lps_header)
    labels = write_nrrd(tmp_path / "brain1_label.nrrd", (data > 40).astype(np.int32), lps_header)
    assert volume_suffix(image) == ".nrrd"
    reader = napari_get_reader([str(image), str(labels)])
    assert reader is not None
    (img_data, img_kwargs, img_kind), (lab_data, lab_kwargs, lab_kind) = reader([str(image), str(labels)])
    assert (img_kind, lab_kind) == ("image", "labels")
    np.testing.assert_array_equal(np.asarray(lab_data), data > 40)
    np.testing.assert_allclose(img_kwargs["metadata"]["affine"], lab_kwargs["metadata"]["affine"])
    np.testing.assert_allclose(np.abs(img_kwargs["scale"]), (0.5, 0.75, 3.0))
    assert layer_data(image)[1]["name"] == "brain1_image"
