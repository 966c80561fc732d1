"""The real evaluation sets fetched from PyPI source archives (radiomics, totalseg): extraction, the
pinned checksum, the cases they make (archives of the same layout built here; no network)."""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from napari_medseg.errors import MedsegError
from napari_medseg.evaluation import radiomics_set, totalseg_set
from napari_medseg.evaluation.fetched import data_dir, extract_members, fetch
from napari_medseg.evaluation.radiomics_set import VOLUMES, radiomics_cases
from napari_medseg.evaluation.totalseg_set import STRUCTURES, totalseg_cases

SHAPE = (12, 10, 5)


def _archive(tmp_path: Path, write_nrrd, lps_header) -> Path:
    """A tar.gz laid out as pyradiomics-3.1.0.tar.gz: data/<volume>_image.nrrd and _label.nrrd, plus
    members that must not be taken (another folder, a path leaving the target)."""
    files = tmp_path / "files"
    files.mkdir()
    archive = tmp_path / "pyradiomics-3.1.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for n, volume in enumerate(VOLUMES):
            image = np.full(SHAPE, 100 * n, dtype=np.int16)
            label = np.zeros(SHAPE, dtype=np.int16)
            label[3 : 6 + n % 3, 2:5, 1 : 2 + n % 4] = 1
            for suffix, data in (("image", image), ("label", label)):
                path = write_nrrd(files / f"{volume}_{suffix}.nrrd", data, lps_header)
                tar.add(path, arcname=f"pyradiomics-3.1.0/data/{path.name}")
        tar.add(files / "lung1_image.nrrd", arcname="pyradiomics-3.1.0/tests/lung1_image.nrrd")
        evil = tarfile.TarInfo("../../brain1_image.nrrd")
        evil.size = 4
        tar.addfile(evil, io.BytesIO(b"evil"))
    return archive


def test_extract_takes_only_the_data_volumes_inside_the_target(tmp_path, write_nrrd, lps_header):
    target = tmp_path / "cache" / "pyradiomics-3.1.0"
    extract_members(_archive(tmp_path, write_nrrd, lps_header), radiomics_set.ARCHIVE, target)
    assert sorted(p.name for p in target.iterdir()) == sorted(f"{v}_{s}.nrrd" for v in VOLUMES for s in ("image", "label"))
    assert not (tmp_path / "brain1_image.nrrd").exists()
    assert (target / "brain1_image.nrrd").read_bytes()[:8] == b"NRRD0004"


def test_cases_are_the_labelled_tumours_sliced_along_the_third_axis(tmp_path, write_nrrd, lps_header):
    target = tmp_path / "data"
    extract_members(_archive(tmp_path, write_nrrd, lps_header), radiomics_set.ARCHIVE, target)
    cases = radiomics_cases(target)
    assert [c.volume_name for c in cases] == list(VOLUMES)
    for n, case in enumerate(cases):
        assert case.set_name == "radiomics" and case.axis == 2
        assert case.preset == ("ct-lung" if case.volume_name.startswith("lung") else "mr")
        assert case.reference.dtype == bool and case.reference.shape == SHAPE
        assert case.reference.sum() == (3 + n % 3) * 3 * (1 + n % 4)
        assert int(case.image[0, 0, 0]) == 100 * n


def test_fetch_uses_the_cache_and_checks_the_pinned_digest(tmp_path, write_nrrd, lps_header, monkeypatch):
    archive = _archive(tmp_path, write_nrrd, lps_header)
    cached = tmp_path / "cached"
    pinned = radiomics_set.ARCHIVE
    extract_members(archive, pinned, cached)
    assert fetch(pinned, cached, url="http://invalid.invalid/none.tar.gz") == cached  # all there: nothing fetched
    monkeypatch.setenv("NAPARI_MEDSEG_DATA", str(tmp_path / "env"))
    assert data_dir(pinned) == tmp_path / "env" / "pyradiomics-3.1.0"
    empty = tmp_path / "empty"
    with pytest.raises(MedsegError, match="not the pinned .*refusing"):
        fetch(pinned, empty, url=archive.as_uri())  # same layout, other bytes: refused
    assert not any(empty.rglob("*.nrrd")) and not any(empty.rglob("*.tar.gz"))
    with pytest.raises(MedsegError, match="cannot fetch .*--sets radiomics"):
        fetch(pinned, empty, url=(tmp_path / "missing.tar.gz").as_uri())


def test_totalseg_cases_are_the_listed_organs_of_the_example_ct(tmp_path, small_ct, scanner_affine):
    """TotalSegmentator's layout: tests/reference_files/example_ct_sm.nii.gz and its example_seg.nii.gz."""
    seg = np.zeros(small_ct.shape, dtype=np.uint8)
    seg[10:20, 8:16, 1:4] = 5  # liver
    seg[22:25, 20:23, 2:4] = 52  # aorta
    seg[2:4, 2:4, 0] = 99  # a class not evaluated
    files = tmp_path / "files"
    files.mkdir()
    for name, data in (("example_ct_sm.nii.gz", small_ct), ("example_seg.nii.gz", seg)):
        nib.save(nib.Nifti1Image(data, scanner_affine()), str(files / name))
    archive = tmp_path / "totalsegmentator-2.18.0.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name in ("example_ct_sm.nii.gz", "example_seg.nii.gz"):
            tar.add(files / name, arcname=f"totalsegmentator-2.18.0/tests/reference_files/{name}")
    target = tmp_path / "ts"
    extract_members(archive, totalseg_set.ARCHIVE, target)
    cases = totalseg_cases(target)
    assert [c.structure for c in cases] == ["liver", "aorta"]  # the listed classes present, in order
    assert all(c.set_name == "totalseg" and c.preset == "ct-abdomen" and c.axis == 2 for c in cases)
    assert cases[0].reference.sum() == 10 * 8 * 3 and cases[1].reference.sum() == 3 * 3 * 2
    np.testing.assert_array_equal(cases[0].image, small_ct)
    assert set(STRUCTURES.values()) >= {"liver", "spleen", "aorta"}
