import json

import pytest

from napari_medseg.core.label_names import names_path, read_label_names, write_label_names


@pytest.mark.parametrize(
    ("labels", "sidecar"),
    [("a/case01_seg.nii.gz", "a/case01_seg.json"), ("b/x_labels.NII", "b/x_labels.json"),
     ("c/v_mask.zarr", "c/v_mask.json"), ("d/odd", "d/odd.json")],
)
def test_the_sidecar_sits_beside_the_label_file(labels, sidecar, tmp_path):
    assert names_path(tmp_path / labels) == tmp_path / sidecar


def test_names_round_trip_and_empty_names_are_left_out(tmp_path):
    out = tmp_path / "case_seg.nii.gz"
    written = write_label_names(out, {2: "spleen", 1: " liver ", 3: "", 0: "background"})
    assert written == tmp_path / "case_seg.json"
    assert json.loads(written.read_text()) == {"1": "liver", "2": "spleen"}
    assert read_label_names(out) == {1: "liver", 2: "spleen"}
    assert write_label_names(tmp_path / "other_seg.nii.gz", {1: "  "}) is None
    assert not (tmp_path / "other_seg.json").exists()


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"liver": 1}', '{"1": 5}'])
def test_a_sidecar_of_another_kind_is_ignored(text, tmp_path):
    (tmp_path / "case_seg.json").write_text(text)
    assert read_label_names(tmp_path / "case_seg.nii.gz") == {}
    assert read_label_names(tmp_path / "missing_seg.nii.gz") == {}
