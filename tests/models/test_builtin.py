"""The built-in model with its shipped weights: protocol, shapes, robustness, memory, loading errors."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch

from napari_medseg.core.prompts import BoxPrompt, LassoPrompt, PointPrompt, ScribblePrompt, SliceRef
from napari_medseg.errors import ModelLoadError
from napari_medseg.models.builtin.model import BuiltinModel, default_weights_path, load_builtin
from napari_medseg.models.protocol import PromptableModel, embedding_nbytes, logits_from_mask
from napari_medseg.models.registry import load_model

REF = SliceRef(2, 0)


@pytest.fixture(scope="module")
def model() -> BuiltinModel:
    torch.set_num_threads(1)
    return load_builtin()


def disk_image(shape=(160, 176), centre=(70.0, 95.0), radius=28.0, seed=5) -> tuple[np.ndarray, np.ndarray]:
    """A bright disk on a darker, noisy, slightly shaded background (not a training-seed shape)."""
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    disk = (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= radius**2
    img = 0.25 + 0.1 * cc / shape[1] + 0.45 * disk + rng.normal(0, 0.03, shape)
    return np.clip(img, 0, 1).astype(np.float32), disk


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return float(2 * (a & b).sum() / max(a.sum() + b.sum(), 1))


def test_protocol_and_identity(model):
    assert isinstance(model, PromptableModel)
    assert re.fullmatch(r"builtin:[0-9a-f]{12}:p\d+", model.identity)
    assert isinstance(load_model("builtin"), BuiltinModel)


@pytest.mark.parametrize("shape", [(8, 8), (1, 37), (37, 1), (1, 1), (33, 65), (130, 97), (1, 600), (600, 1), (300, 7), (513, 259)])
def test_any_slice_size(model, shape):
    rng = np.random.default_rng(0)
    img = rng.random(shape).astype(np.float32)
    emb = model.encode(img)
    assert all(v.dtype == np.float16 for k, v in emb.items() if k not in ("size", "scale"))
    prompts = [PointPrompt(REF, (shape[0] // 2, shape[1] // 2))]
    logits = model.decode(emb, prompts)
    assert logits.shape == shape and logits.dtype == np.float32 and np.isfinite(logits).all()


def test_every_prompt_type_and_prev_only(model):
    img, disk = disk_image()
    emb = model.encode(img)
    prompts = [
        PointPrompt(REF, (70, 95)),
        PointPrompt(REF, (10, 10), positive=False),
        BoxPrompt(REF, (40, 65), (100, 125)),
        ScribblePrompt(REF, ((60, 85), (75, 100)), width=3),
        ScribblePrompt(REF, ((150, 5), (150, 60)), positive=False),
        LassoPrompt(REF, ((35, 60), (35, 130), (105, 130), (105, 60))),
        LassoPrompt(REF, ((140, 140), (140, 170), (155, 170)), positive=False),
    ]
    out = model.decode(emb, prompts, prev_logits=logits_from_mask(disk))
    assert out.shape == img.shape and np.isfinite(out).all()
    only_prev = model.decode(emb, [], prev_logits=logits_from_mask(disk))
    assert dice(only_prev > 0, disk) > 0.8


@pytest.mark.parametrize("kind", ["nan", "inf", "constant", "zeros", "huge"])
def test_bad_intensities_give_finite_logits(model, kind):
    img, _ = disk_image((64, 64), (32, 32), 12)
    if kind == "nan":
        img[::3] = np.nan
    elif kind == "inf":
        img[::2, ::2] = np.inf
        img[1::2, ::2] = -np.inf
    elif kind == "constant":
        img[:] = 0.7
    elif kind == "zeros":
        img[:] = 0
    else:
        img = img * 1e30
    logits = model.decode(model.encode(img), [BoxPrompt(REF, (20, 20), (44, 44))])
    assert np.isfinite(logits).all()


def test_random_prompts_on_odd_slices_give_finite_logits_without_warnings(model):
    """Seeded random prompt sets (every kind and sign, degenerate lassos and strokes, prompts just
    beside the slice, as the model's own API allows) on odd slices, with and without previous
    logits, on absolute and relative intensities: logits of the slice's shape, finite, no warning
    (the model is called directly here; the session refuses prompts beside the slice). A longer run
    of the same outside the suite (25,000 calls) found one: a negative click beside the slice took a
    median of nothing on MR (its own test is in test_negative_look.py)."""
    import warnings

    rng = np.random.default_rng(7)

    def coord(h, w):
        return (float(rng.uniform(-4, h + 4)), float(rng.uniform(-4, w + 4)))

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for _ in range(40):
            h, w = (int(rng.choice([1, 3, 31, 64, 130])) for _ in range(2))
            img = rng.random((h, w)).astype(np.float32)
            if rng.random() < 0.3:
                img[:] = 0.5
            emb = model.encode(img)
            prompts = []
            for _ in range(int(rng.integers(1, 5))):
                kind, positive = int(rng.integers(4)), bool(rng.integers(2))
                points = tuple(coord(h, w) for _ in range(int(rng.integers(1, 6))))
                prompts.append([PointPrompt(REF, points[0], positive), BoxPrompt(REF, points[0], coord(h, w)),
                                ScribblePrompt(REF, points, positive, width=float(rng.choice([1.0, 3.0]))),
                                LassoPrompt(REF, points, positive)][kind])
            prev = rng.normal(0, 4, (h, w)).astype(np.float32) if rng.random() < 0.5 else None
            for relative in (False, True):
                out = model.decode_relative(emb, prompts, prev, relative)
                assert out.shape == (h, w) and out.dtype == np.float32 and np.isfinite(out).all()


def test_embedding_is_float16_and_small(model):
    emb = model.encode(np.random.default_rng(1).random((512, 512), dtype=np.float32))
    assert embedding_nbytes(emb) <= 6.5e6  # 512x512x300 cached in <= 2 GB
    assert {v.dtype for k, v in emb.items() if k not in ("size", "scale")} == {np.dtype(np.float16)}


def test_deterministic(model):
    img, _ = disk_image()
    a, b = model.encode(img), model.encode(img.copy())
    assert all(np.array_equal(a[k], b[k]) for k in a)
    p = [PointPrompt(REF, (70, 95))]
    assert np.array_equal(model.decode(a, p), model.decode(b, p))


def test_channels_last_inference_matches_the_plain_network(model):
    """Inference runs channels last (NHWC) with (H, W, C) cached maps; the training layout (NCHW, one
    concatenated input per 1x1 layer) must give the same logits from the same weights."""
    from napari_medseg.models.builtin.model import FEATURE_KEYS
    from napari_medseg.models.builtin.network import logits_to_full
    from napari_medseg.models.builtin.prompt_maps import build_prompt_maps

    img, _ = disk_image()
    emb = model.encode(img)
    assert emb["e4"].shape == (40, 48, 16)  # (H/4, W/4, C) of the slice padded to 160 x 192
    prompts = [PointPrompt(REF, (70, 95)), ScribblePrompt(REF, ((10, 10), (10, 60)), positive=False)]
    with torch.inference_mode():
        image = torch.nn.functional.pad(torch.from_numpy(img)[None, None], (0, 16, 0, 0), mode="replicate")
        plain = {k: v.contiguous() for k, v in model.net.encoder(image.contiguous()).items()}
        for k in FEATURE_KEYS:  # the cache holds the same maps, channels last, in float16
            np.testing.assert_allclose(emb[k], plain[k][0].permute(1, 2, 0).numpy(), atol=0.02, rtol=0.01)
        maps = torch.from_numpy(build_prompt_maps(prompts, (40, 48)))[None]
        inp = torch.cat([maps, torch.zeros((1, 2, 40, 48))], dim=1)
        with torch.enable_grad():  # the training route: concatenations, NCHW
            feats = {k: torch.from_numpy(emb[k]).permute(2, 0, 1)[None].float().contiguous() for k in FEATURE_KEYS}
            logit2, _ = model.net.decoder(feats, inp)
        expected = logits_to_full(logit2.detach(), img.shape)[0, 0].numpy()
    ours = logits_to_full(torch.from_numpy(_network_logits(model, emb, prompts))[None, None], img.shape)[0, 0].numpy()
    np.testing.assert_allclose(ours, expected, atol=1e-3)


def _network_logits(model, emb, prompts) -> np.ndarray:
    """The decoder's 1/2-resolution logits as ``decode`` computes them (before the steps after it)."""
    from unittest import mock

    from napari_medseg.models.builtin import model as builtin_model

    seen = {}
    real = builtin_model.logits_to_full

    def spy(logit2, hw):
        seen["logit2"] = logit2.detach().clone().contiguous()
        return real(logit2, hw)

    with mock.patch.object(builtin_model, "logits_to_full", spy):
        model.decode(emb, prompts)
    return seen["logit2"][0, 0].numpy()


def test_box_segments_a_bright_disk(model):
    img, disk = disk_image()
    logits = model.decode(model.encode(img), [BoxPrompt(REF, (38, 63), (102, 127))])
    assert dice(logits > 0, disk) > 0.8


def small_ct_slice(seed=3) -> tuple[np.ndarray, np.ndarray]:
    """A 64x64 slice like a small CT after the 'auto' preset: air 0, body 0.87, an organ at 1.0."""
    rr, cc = np.mgrid[:64, :64]
    body = ((rr - 32) / 28.0) ** 2 + ((cc - 32) / 29.0) ** 2 <= 1
    organ = ((rr - 30) / 12.5) ** 2 + ((cc - 34) / 10.5) ** 2 <= 1
    img = np.where(organ, 1.0, np.where(body, 0.87, 0.0)) + np.random.default_rng(seed).normal(0, 0.007, (64, 64))
    return np.clip(img, 0, 1).astype(np.float32), organ


def test_box_segments_a_low_contrast_organ_on_a_small_slice(model):
    """A sanity case that late checkpoints of one fine-tune failed (the mask shrank to a third)."""
    img, organ = small_ct_slice()
    rows, cols = np.nonzero(organ)
    box = BoxPrompt(REF, (rows.min() - 2, cols.min() - 2), (rows.max() + 2, cols.max() + 2))
    assert dice(model.decode(model.encode(img), [box]) > 0, organ) > 0.75


def test_click_segments_a_bright_disk(model):
    img, disk = disk_image(seed=11)
    logits = model.decode(model.encode(img), [PointPrompt(REF, (72, 93))])
    assert dice(logits > 0, disk) > 0.7


def _one_line_naming(exc: pytest.ExceptionInfo, path: Path) -> None:
    msg = str(exc.value)
    assert "\n" not in msg and path.name in msg


def test_wrong_shape_weights(tmp_path):
    from safetensors.torch import load_file, save_file

    state = load_file(str(default_weights_path()))
    key = next(iter(state))
    state[key] = torch.zeros(3, 3, dtype=torch.float16)
    path = tmp_path / "wrong.safetensors"
    save_file(state, str(path))
    with pytest.raises(ModelLoadError) as exc:
        load_builtin(path)
    _one_line_naming(exc, path)
    assert key in str(exc.value)


def test_missing_keys(tmp_path):
    from safetensors.torch import load_file, save_file

    state = load_file(str(default_weights_path()))
    state.pop(sorted(state)[0])
    path = tmp_path / "missing.safetensors"
    save_file(state, str(path))
    with pytest.raises(ModelLoadError) as exc:
        load_builtin(path)
    _one_line_naming(exc, path)


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty"])
def test_corrupt_weights(tmp_path, damage):
    data = default_weights_path().read_bytes()
    path = tmp_path / f"{damage}.safetensors"
    if damage == "truncated":
        path.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00\x01not a safetensors file" * 100)
    else:
        path.write_bytes(b"")
    with pytest.raises(ModelLoadError) as exc:
        load_builtin(path)
    _one_line_naming(exc, path)


def test_missing_file(tmp_path):
    with pytest.raises(ModelLoadError):
        load_builtin(tmp_path / "nope.safetensors")


def test_shipped_weights_are_small_and_have_metadata():
    path = default_weights_path()
    assert path.stat().st_size <= 20 * 1024**2
    import json

    meta = json.loads(path.with_suffix(".json").read_text())
    assert meta["steps"] > 0 and "val_dice" in meta and "seed" in meta
