"""The propagation decoder: loaded only beside the weights it was trained on, checked like the weights,
and used by the session's walk (and only there)."""

from __future__ import annotations

import copy
import shutil

import numpy as np
import pytest
import torch

from napari_medseg.core.propagation import PropagationOptions
from napari_medseg.core.session import Session
from napari_medseg.errors import ModelLoadError
from napari_medseg.models.builtin.model import (
    STEP_WEIGHTS_NAME,
    default_weights_path,
    load_builtin,
    load_step_decoder,
)
from napari_medseg.models.builtin.network import PromptableUNet
from napari_medseg.models.protocol import DecodesPropagationSteps
from napari_medseg.training.train_propagation import save_decoder


@pytest.fixture(scope="module")
def model():
    torch.set_num_threads(1)
    return load_builtin()


def ball_volume(depth: int = 12) -> tuple[np.ndarray, np.ndarray]:
    """A bright ellipsoid in a noisy darker body: an object the walk follows over several slices."""
    rng = np.random.default_rng(3)
    rr, cc, zz = np.mgrid[:64, :64, :depth]
    ball = ((rr - 30) / 14.0) ** 2 + ((cc - 34) / 12.0) ** 2 + ((zz - depth / 2) / (depth / 2.5)) ** 2 <= 1
    image = 40.0 + 80.0 * ball + rng.normal(0, 6.0, ball.shape)
    return image.astype(np.float32), ball


def walk_depth(model, image: np.ndarray, key_mask: np.ndarray, key: int) -> int:
    s = Session(image, model=model, axis=2)
    s.labels[:, :, key][key_mask] = 1
    s.propagate(1, options=PropagationOptions())
    return int((s.labels == 1).any(axis=(0, 1)).sum())


def test_the_walk_asks_the_propagation_decoder_and_nothing_else_does(model):
    """A step decoder that answers 'nothing' stops every walk at once; prompts on a slice never reach it."""
    assert isinstance(model, DecodesPropagationSteps)
    image, ball = ball_volume()
    key = 6
    silent = copy.deepcopy(model.net.decoder)
    with torch.no_grad():
        silent.head2[2].bias.fill_(-50.0)  # every sub-pixel logit far below zero
    mute = copy.copy(model)
    mute.step_decoder = silent
    assert walk_depth(model, image, ball[:, :, key], key) >= 5
    assert walk_depth(mute, image, ball[:, :, key], key) == 1  # the key slice alone
    mute.configure({"walk.own_decoder": 0})
    assert walk_depth(mute, image, ball[:, :, key], key) >= 5
    mute.configure({"walk.own_decoder": 1})
    # a click on a slice is answered by the shared decoder, step decoder or not
    from napari_medseg.core.prompts import PointPrompt, SliceRef

    s = Session(image, model=mute, axis=2)
    mask = s.add_prompts([PointPrompt(SliceRef(2, key), (30.0, 34.0))]).mask
    assert mask[30, 34] and mask.sum() > 100


def _decoder_file(tmp_path, sha: str):
    torch.manual_seed(0)
    net = PromptableUNet()
    path = tmp_path / STEP_WEIGHTS_NAME
    save_decoder(net, path, {"encoder_sha256": sha})
    return path


def test_step_decoder_is_loaded_only_beside_its_own_encoder(tmp_path):
    import hashlib

    weights = tmp_path / "builtin.safetensors"
    shutil.copy(default_weights_path(), weights)
    sha = hashlib.sha256(weights.read_bytes()).hexdigest()
    _decoder_file(tmp_path, sha)
    assert load_builtin(weights).step_decoder is not None
    _decoder_file(tmp_path, "0" * 64)  # trained on another encoder's features
    assert load_builtin(weights).step_decoder is None
    assert load_step_decoder(tmp_path / STEP_WEIGHTS_NAME, sha) is None


def test_a_damaged_step_decoder_names_its_file(tmp_path):
    from safetensors.torch import load_file, save_file

    path = _decoder_file(tmp_path, "0" * 64)
    state = load_file(str(path))
    key = sorted(state)[0]
    state[key] = torch.zeros(2, 2, dtype=torch.float16)
    save_file(state, str(path))
    with pytest.raises(ModelLoadError) as exc:
        load_step_decoder(path, "0" * 64)
    assert path.name in str(exc.value) and key in str(exc.value) and "\n" not in str(exc.value)
    full = tmp_path / "full.safetensors"  # the whole network is not a decoder file
    shutil.copy(default_weights_path(), full)
    with pytest.raises(ModelLoadError, match="unknown tensor 'encoder"):
        load_step_decoder(full, "0" * 64)
