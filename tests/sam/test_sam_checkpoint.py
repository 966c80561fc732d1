"""Checkpoint loading: the right file loads, and a wrong, truncated or malicious one is refused in one line."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from sam_helpers import tiny_sam_state

from napari_medseg.errors import ModelLoadError
from napari_medseg.models.registry import load_model
from napari_medseg.models.sam.checkpoint import file_sha256
from napari_medseg.models.sam.loader import load_litemedsam, load_medsam, load_mobilesam, load_sam


def _refused(fn, *args) -> str:
    with pytest.raises(ModelLoadError) as info:
        fn(*args)
    msg = str(info.value)
    assert "\n" not in msg and len(msg) < 400
    return msg


def test_official_layout_loads_and_names_itself(tiny_sam_checkpoint: Path):
    model = load_model("sam", tiny_sam_checkpoint)
    sha = file_sha256(tiny_sam_checkpoint)
    assert model.identity == f"sam:vit_64x2:{sha}:sam256"
    assert len(sha) == 12 and int(sha, 16) >= 0
    medsam = load_medsam(tiny_sam_checkpoint)
    assert medsam.identity == f"medsam:vit_64x2:{sha}:medsam256"


def test_wrapped_and_prefixed_and_safetensors_checkpoints_load(tmp_path: Path):
    state = tiny_sam_state()
    wrapped = tmp_path / "wrapped.pth"
    torch.save({"model": {"module." + k: v for k, v in state.items()}, "epoch": 3}, wrapped)
    st = tmp_path / "tiny.safetensors"
    save_file({k: v.contiguous() for k, v in state.items()}, str(st))
    a, b = load_sam(wrapped), load_sam(st)
    for model in (a, b):
        got = model.network.state_dict()
        assert all(torch.equal(got[k], state[k]) for k in state)


def test_missing_checkpoint_names_the_official_file():
    assert "--checkpoint" in _refused(load_sam, None) and "sam_vit_b_01ec64.pth" in _refused(load_sam, None)
    assert "medsam_vit_b.pth" in _refused(load_medsam, None)
    assert "mobile_sam.pt" in _refused(load_mobilesam, None)
    assert "lite_medsam.pth" in _refused(load_litemedsam, None)


def test_wrong_shape_is_refused(tmp_path: Path):
    state = tiny_sam_state()
    state["mask_decoder.iou_token.weight"] = torch.zeros(1, 128)
    path = tmp_path / "wrong.pth"
    torch.save(state, path)
    msg = _refused(load_sam, path)
    assert "mask_decoder.iou_token.weight" in msg and "(1, 128)" in msg


def test_missing_and_foreign_keys_are_refused(tmp_path: Path):
    state = tiny_sam_state()
    del state["mask_decoder.iou_token.weight"]
    torch.save(state, tmp_path / "missing.pth")
    assert "missing 'mask_decoder.iou_token.weight'" in _refused(load_sam, tmp_path / "missing.pth")
    torch.save({"conv.weight": torch.zeros(3, 3)}, tmp_path / "other.pth")
    assert "not a SAM-family checkpoint" in _refused(load_sam, tmp_path / "other.pth")


def test_encoder_family_mismatch_points_to_the_right_model(tiny_sam_checkpoint: Path):
    msg = _refused(load_mobilesam, tiny_sam_checkpoint)
    assert "--model sam or medsam" in msg


def test_truncated_file_is_refused(tiny_sam_checkpoint: Path, tmp_path: Path):
    data = tiny_sam_checkpoint.read_bytes()
    path = tmp_path / "truncated.pth"
    path.write_bytes(data[: len(data) // 2])
    assert "corrupt or truncated" in _refused(load_sam, path)
    path.write_bytes(b"")
    assert "corrupt or truncated" in _refused(load_sam, path)


class _Exploit:
    """A pickle payload: unpickling it would run a shell command that creates a marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("how", ["torch.save", "pickle"])
def test_code_in_a_pickle_never_runs(tmp_path: Path, how: str):
    marker = tmp_path / "pwned"
    path = tmp_path / "evil.pth"
    payload = {"image_encoder.pos_embed": _Exploit(marker)}
    if how == "torch.save":
        torch.save(payload, path)
    else:
        path.write_bytes(pickle.dumps(payload))
    msg = _refused(load_sam, path)
    assert "refused" in msg and "could run code" in msg
    assert not marker.exists()
    # The payload is real: a plain unpickler would have run it.
    if how == "pickle":
        pickle.loads(path.read_bytes())
        assert marker.exists()


def test_non_tensor_entries_are_refused(tmp_path: Path):
    torch.save({"image_encoder.pos_embed": [1, 2, 3]}, tmp_path / "list.pth")
    assert "not a tensor" in _refused(load_sam, tmp_path / "list.pth")


def test_non_finite_weights_are_refused(tmp_path: Path):
    state = tiny_sam_state()
    state["mask_decoder.iou_token.weight"][0, 0] = float("nan")
    torch.save(state, tmp_path / "nan.pth")
    assert "non-finite" in _refused(load_sam, tmp_path / "nan.pth")
