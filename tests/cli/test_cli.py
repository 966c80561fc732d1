"""The command line end to end, with the real built-in model, on NIfTI files written to tmp_path.

Success: labels with the image's shape and affine, identical to the Python API's result, a later
object overwriting an earlier one. Failure: exit 2, exactly one line on stderr, an existing output
file left byte for byte as it was.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from napari_medseg.cli import main
from napari_medseg.core.prompt_file import load_prompt_file
from napari_medseg.core.session import Session
from napari_medseg.core.volume_io import read_volume
from napari_medseg.models.registry import load_model

SHAPE = (64, 60, 10)


def phantom() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A CT-like volume (HU): a body holding a bright organ (an ellipsoid) and a dark cyst."""
    rng = np.random.default_rng(3)
    i, j, k = np.ogrid[: SHAPE[0], : SHAPE[1], : SHAPE[2]]
    body = ((i - 32) / 28.0) ** 2 + ((j - 30) / 26.0) ** 2 < 1
    organ = ((i - 26) / 11.0) ** 2 + ((j - 24) / 9.0) ** 2 + ((k - 5) / 5.5) ** 2 < 1
    cyst = ((i - 44) / 5.0) ** 2 + ((j - 40) / 5.0) ** 2 + ((k - 5) / 3.0) ** 2 < 1
    ct = np.full(SHAPE, -1000.0)
    ct[np.broadcast_to(body, SHAPE)] = 40.0
    ct[organ] = 180.0
    ct[cyst] = -20.0
    ct += rng.normal(0.0, 8.0, SHAPE)
    return ct.round().astype(np.int16), organ, cyst


def affine() -> np.ndarray:
    a = np.diag([-0.8, -0.8, 2.5, 1.0])
    a[:3, 3] = (30.0, 20.0, -10.0)
    return a


@pytest.fixture
def image_path(tmp_path: Path) -> Path:
    ct, _, _ = phantom()
    path = tmp_path / "ct.nii.gz"
    img = nib.Nifti1Image(ct, affine())
    img.set_sform(affine(), code=4)
    nib.save(img, str(path))
    return path


PROMPTS = {
    "axis": 2,
    "objects": [
        {
            "label": 1,
            "name": "organ",
            "prompts": [{"type": "box", "corners": [[13, 13, 5], [39, 35, 5]]}],
        },
        {
            "label": 2,
            "name": "the organ again",
            "propagate": False,
            "prompts": [{"type": "box", "corners": [[14, 14, 5], [38, 34, 5]]}],
        },
    ],
}


def write_json(tmp_path: Path, data, name="prompts.json") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    return path


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(a & b) / max(1, np.count_nonzero(a) + np.count_nonzero(b))


def test_segment_writes_labels_matching_the_python_api(tmp_path, image_path, capsys):
    prompts = write_json(tmp_path, PROMPTS)
    out = tmp_path / "labels.nii.gz"
    assert main(["segment", str(image_path), "--prompts", str(prompts), "--out", str(out)]) == 0
    assert "label 1 (organ)" in capsys.readouterr().out
    written = nib.load(str(out))
    labels = np.asarray(written.dataobj)
    assert labels.shape == SHAPE and np.allclose(written.affine, affine())
    assert set(np.unique(labels)) <= {0, 1, 2}
    assert json.loads((tmp_path / "labels.json").read_text()) == {"1": "organ", "2": "the organ again"}

    # the same objects through the Python API give the same voxels
    volume = read_volume(image_path)
    session = Session(volume, load_model("builtin"), axis=2)
    for obj in load_prompt_file(prompts, volume.shape).objects:
        session.segment_object(obj.interactions, obj.label, propagate=obj.propagate)
    np.testing.assert_array_equal(labels, session.labels)

    _, organ, _ = phantom()
    rows, cols = np.nonzero(labels[:, :, 5])
    assert 13 <= rows.mean() <= 39 and 13 <= cols.mean() <= 35, "the mask lies where the box was drawn"
    assert dice(labels[:, :, 5] > 0, organ[:, :, 5]) > 0.4, "a box around a bright organ is segmented"
    assert np.count_nonzero(labels[:, :, 5] == 2) > 0, "the later object overwrites the earlier one"
    assert not (labels[:, :, [0, 1, 2, 3, 4, 6, 7, 8, 9]] == 2).any(), "propagate: false keeps one slice"
    assert np.count_nonzero(labels[:, :, [4, 6]] == 1) > 0, "label 1 propagated to the neighbours"


def test_segment_through_the_console_script(tmp_path, image_path):
    script = Path(sys.executable).with_name("napari-medseg")
    assert script.is_file(), "the package is installed with its console script"
    prompts = write_json(tmp_path, {"objects": [PROMPTS["objects"][0] | {"propagate": False}]})
    out = tmp_path / "labels.nii"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    args = [str(script), "segment", str(image_path), "--prompts", str(prompts), "--out", str(out)]
    done = subprocess.run(
        args + ["--cache", str(tmp_path / "cache")], capture_output=True, text=True, env=env
    )
    assert done.returncode == 0, done.stderr
    labels = np.asarray(nib.load(str(out)).dataobj)
    assert labels.shape == SHAPE and labels[:, :, 5].any() and not labels[:, :, :5].any()
    assert any((tmp_path / "cache").iterdir()), "embeddings were cached on disk"

    bad = subprocess.run(
        args[:3] + ["--prompts", str(tmp_path / "nope.json"), "--out", str(out)],
        capture_output=True,
        text=True,
        env=env,
    )
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


def test_precompute_fills_the_cache_that_segment_then_uses(tmp_path, image_path, capsys):
    cache = tmp_path / "cache"
    assert (
        main(["precompute", str(image_path), "--model", "builtin", "--cache", str(cache), "--axis", "2"]) == 0
    )
    err = capsys.readouterr().err
    assert "precompute: 10/10 slices" in err and "10 of 10 slices encoded" in err
    assert main(["precompute", str(image_path), "--cache", str(cache)]) == 0
    assert "0 of 10 slices encoded (10 already cached)" in capsys.readouterr().err


def _corrupt_checkpoint(tmp_path: Path) -> Path:
    path = tmp_path / "corrupt.safetensors"
    path.write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not a header" + os.urandom(64))
    return path


BAD_INPUTS = {
    "unreadable image": lambda t, img, pr: (
        ["segment", str(_garbage(t)), "--prompts", str(pr)],
        "cannot read",
    ),
    "missing image": lambda t, img, pr: (
        ["segment", str(t / "none.nii.gz"), "--prompts", str(pr)],
        "not found",
    ),
    "malformed json": lambda t, img, pr: (
        ["segment", str(img), "--prompts", str(write_json(t, "{oops", "b.json"))],
        "not valid JSON",
    ),
    "prompt outside": lambda t, img, pr: (
        [
            "segment",
            str(img),
            "--prompts",
            str(
                write_json(
                    t,
                    {"objects": [{"label": 1, "prompts": [{"type": "point", "voxel": [70, 5, 5]}]}]},
                    "o.json",
                )
            ),
        ],
        "outside the slice",
    ),
    "unknown model": lambda t, img, pr: (
        ["segment", str(img), "--prompts", str(pr), "--model", "nosuch"],
        "unknown model",
    ),
    "missing checkpoint": lambda t, img, pr: (
        ["segment", str(img), "--prompts", str(pr), "--checkpoint", str(t / "none.safetensors")],
        "not found",
    ),
    "corrupt checkpoint": lambda t, img, pr: (
        ["segment", str(img), "--prompts", str(pr), "--checkpoint", str(_corrupt_checkpoint(t))],
        "corrupt.safetensors",
    ),
    "unknown preset": lambda t, img, pr: (
        ["segment", str(img), "--prompts", str(pr), "--preset", "ct-foo"],
        "preset",
    ),
}


def _garbage(tmp_path: Path) -> Path:
    path = tmp_path / "garbage.nii.gz"
    path.write_bytes(b"\x1f\x8b this is not gzip" + os.urandom(100))
    return path


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_exits_2_with_one_line_and_keeps_the_old_output(tmp_path, image_path, capsys, case):
    prompts = write_json(tmp_path, PROMPTS)
    out = tmp_path / "labels.nii.gz"
    out.write_bytes(b"previous result")
    argv, needle = BAD_INPUTS[case](tmp_path, image_path, prompts)
    assert main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and needle in err, err
    assert out.read_bytes() == b"previous result"


def test_bad_output_paths_and_missing_arguments(tmp_path, image_path, capsys):
    prompts = write_json(tmp_path, PROMPTS)
    for out, needle in [
        (tmp_path / "labels.png", "must end in"),
        (tmp_path / "missing" / "labels.nii.gz", "does not exist"),
        (image_path, "is the input image"),
    ]:
        assert main(["segment", str(image_path), "--prompts", str(prompts), "--out", str(out)]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1 and needle in err, err
    with pytest.raises(SystemExit) as exc:
        main(["segment", str(image_path), "--out", str(tmp_path / "x.nii.gz")])
    assert exc.value.code == 2 and len(capsys.readouterr().err.strip().splitlines()) == 1
