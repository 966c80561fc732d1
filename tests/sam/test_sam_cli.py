"""The command line serves SAM-family models: ``segment --model sam --checkpoint FILE`` end to end."""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np

from napari_medseg.cli import main


def _write_case(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(0)
    rr, cc = np.mgrid[:36, :40]
    disc = (rr - 18) ** 2 + (cc - 20) ** 2 < 81
    vol = np.stack([200.0 * disc + 10 * rng.standard_normal((36, 40)) for _ in range(5)], axis=2).astype(np.int16)
    image = tmp_path / "ct.nii.gz"
    nib.save(nib.Nifti1Image(vol, np.eye(4)), image)
    prompts = tmp_path / "prompts.json"
    obj = {"label": 3, "propagate": True, "prompts": [{"type": "box", "corners": [[8, 10, 2], [28, 30, 2]]}]}
    prompts.write_text(json.dumps({"axis": 2, "objects": [obj]}))
    return image, prompts


def test_segment_with_a_sam_checkpoint_writes_labels(tmp_path: Path, tiny_sam_checkpoint: Path, capsys):
    image, prompts = _write_case(tmp_path)
    out = tmp_path / "labels.nii.gz"
    argv = [str(image), "--prompts", str(prompts), "--out", str(out), "--model", "sam"]
    code = main(["segment", *argv, "--checkpoint", str(tiny_sam_checkpoint)])
    assert code == 0, capsys.readouterr().err
    labels = np.asarray(nib.load(out).dataobj)
    assert labels.shape == (36, 40, 5) and set(np.unique(labels)) <= {0, 3}


def test_segment_without_the_checkpoint_fails_in_one_line(tmp_path: Path, capsys):
    image, prompts = _write_case(tmp_path)
    out = tmp_path / "labels.nii.gz"
    code = main(["segment", str(image), "--prompts", str(prompts), "--out", str(out), "--model", "medsam"])
    err = capsys.readouterr().err
    assert code == 2 and not out.exists()
    assert err.count("\n") == 1 and "medsam_vit_b.pth" in err and "--checkpoint" in err
