"""Synthetic data, simulated prompts and a tiny end-to-end training run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from napari_medseg.core.prompts import BoxPrompt, LassoPrompt, PointPrompt, ScribblePrompt, rasterize
from napari_medseg.training import prompt_sim as ps
from napari_medseg.training.pairs import make_pair
from napari_medseg.training.samples import KINDS, LabelPool, make_sample
from napari_medseg.training.synth import SHAPES, make_slice, pick_target, random_shape


def test_slices_are_valid_and_reproducible():
    for seed in range(3):
        a, b = make_slice(np.random.default_rng(seed), 64), make_slice(np.random.default_rng(seed), 64)
        assert a.image.shape == a.labels.shape == (64, 64)
        assert a.image.dtype == np.float32 and 0 <= a.image.min() and a.image.max() <= 1
        assert len(np.unique(a.labels)) >= 2
        assert np.array_equal(a.image, b.image) and np.array_equal(a.labels, b.labels)
    c = make_slice(np.random.default_rng(99), 64)
    assert not np.array_equal(a.image, c.image)


@pytest.mark.parametrize("kind", SHAPES)
def test_every_shape_kind_draws_something(kind):
    rng = np.random.default_rng(3)
    masks = [random_shape(rng, (96, 96), kind) for _ in range(3)]
    assert any(m.sum() >= 10 for m in masks)
    assert all(m.dtype == bool and m.shape == (96, 96) for m in masks)


def test_targets_are_connected_objects():
    from scipy import ndimage as ndi

    rng = np.random.default_rng(4)
    targets = [pick_target(rng, make_slice(rng, 64).labels) for _ in range(8)]
    found = [t for t in targets if t is not None]
    assert len(found) >= 6
    for t in found:
        assert t.sum() >= 12 and ndi.label(t)[1] == 1


def test_propagation_pairs():
    rng = np.random.default_rng(5)
    pairs = [p for p in (make_pair(rng, 64) for _ in range(12)) if p is not None]
    assert len(pairs) >= 8
    for p in pairs:
        assert p.image_a.shape == p.image_b.shape == p.target_b.shape == (64, 64)
        assert p.target_a.sum() > 0
    # neighbouring slices overlap where the object goes on
    going_on = [p for p in pairs if p.target_b.sum() > 0]
    ious = [(p.target_a & p.target_b).sum() / (p.target_a | p.target_b).sum() for p in going_on]
    assert np.median(ious) > 0.4


def test_propagation_pairs_change_like_real_neighbours():
    """Not a near-copy: objects end, and those that go on change their area by pixels, unevenly."""
    from napari_medseg.training.pairs import uneven_change

    rng = np.random.default_rng(11)
    pairs = [p for p in (make_pair(rng, 96) for _ in range(60)) if p is not None]
    ends = np.mean([not p.target_b.any() for p in pairs])
    assert 0.1 <= ends <= 0.4
    going_on = [p for p in pairs if p.target_b.any()]
    changed = [abs(int(p.target_b.sum()) - int(p.target_a.sum())) / p.target_a.sum() for p in going_on]
    assert np.median(changed) > 0.1
    rr, cc = np.mgrid[:96, :96]
    disc = (rr - 48) ** 2 + (cc - 48) ** 2 <= 30**2
    rims = []
    for seed in range(6):
        out = uneven_change(np.random.default_rng(seed), disc)
        radii = [np.flatnonzero(out[48, 48:] == 0)[0], np.flatnonzero(out[48, 48::-1] == 0)[0],
                 np.flatnonzero(out[48:, 48] == 0)[0], np.flatnonzero(out[48::-1, 48] == 0)[0]]
        rims.append(np.ptp(radii))
    assert max(rims) >= 3  # some sides moved more than others


@pytest.fixture
def target() -> np.ndarray:
    rr, cc = np.mgrid[:80, :80]
    return ((rr - 40) / 25) ** 2 + ((cc - 35) / 15) ** 2 <= 1


def test_clicks_are_inside(target):
    rng = np.random.default_rng(0)
    for _ in range(20):
        for p in ps.click_prompts(rng, target):
            r, c = int(p.point[0]), int(p.point[1])
            assert target[r, c] == p.positive


def test_box_surrounds_target(target):
    rng = np.random.default_rng(1)
    for _ in range(20):
        box = ps.box_prompt(rng, target)
        assert isinstance(box, BoxPrompt)
        covered = rasterize(box, target.shape) & target
        assert covered.sum() >= 0.8 * target.sum()
        assert rasterize(box, target.shape).sum() <= 2.6 * target.sum()


def test_scribbles_lie_inside(target):
    rng = np.random.default_rng(2)
    for _ in range(20):
        for s in ps.scribble_prompts(rng, target):
            assert isinstance(s, ScribblePrompt) and s.positive
            pts = np.round(np.array(s.points)).astype(int)
            assert target[pts[:, 0], pts[:, 1]].all()


def test_lassos_enclose_target(target):
    rng = np.random.default_rng(3)
    for _ in range(20):
        lassos = ps.lasso_prompts(rng, target)
        assert all(isinstance(lasso, LassoPrompt) for lasso in lassos)
        inside = np.any([rasterize(lasso, target.shape) for lasso in lassos], axis=0)
        assert (inside & target).sum() >= 0.85 * target.sum()


def test_correction_click_goes_to_largest_error(target):
    rng = np.random.default_rng(4)
    pred = target.copy()
    pred[30:50, 25:45] = False  # a large miss inside the object
    pred[5:8, 70:73] = True  # a small false positive
    click = ps.correction_click(rng, pred, target)
    assert isinstance(click, PointPrompt) and click.positive
    r, c = (int(v) for v in click.point)
    assert 30 <= r < 50 and 25 <= c < 45
    fp_only = target | (np.mgrid[:80, :80][0] > 70)
    neg = ps.correction_click(rng, fp_only, target)
    assert not neg.positive and neg.point[0] > 70
    assert ps.correction_click(rng, target, target) is None


def test_samples_of_every_kind():
    rng = np.random.default_rng(6)
    pool = LabelPool(rng, 64, n=4, refresh=1)
    for kind in KINDS:
        s = make_sample(rng, pool, kind)
        assert s.image.shape == s.target.shape == (64, 64)
        assert s.kind == kind
        if kind in ("propagation", "edit"):
            assert s.prev is not None and s.prev.shape == (64, 64)
        else:
            assert s.target.any() and len(s.prompts) >= 1


def test_tiny_training_run_writes_loadable_weights(tmp_path):
    from napari_medseg.models.builtin.model import load_builtin
    from napari_medseg.training.train import main

    out = tmp_path / "tiny.safetensors"
    torch.set_num_threads(1)
    rc = main(["--steps", "3", "--batch", "2", "--size", "64", "--out", str(out), "--seed", "3",
               "--val-per-kind", "2", "--pool", "4", "--val-every", "3", "--workers", "0", "--threads", "1"])
    assert rc == 0 and out.is_file()
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["steps"] == 3 and meta["seed"] == 3 and set(meta["val_dice"]) >= {"click", "box", "propagation"}
    model = load_builtin(out)
    logits = model.decode(model.encode(np.zeros((40, 40), np.float32)), [PointPrompt(ps.REF, (20, 20))])
    assert logits.shape == (40, 40) and np.isfinite(logits).all()


def test_several_data_workers_draw_different_batches():
    """A GPU run feeds itself from several worker processes, each with its own seed."""
    from napari_medseg.training.train import BatchSource

    source = BatchSource(5, 64, 4, 3, workers=2)
    try:
        batches = [source.next() for _ in range(4)]
    finally:
        source.close()
    assert all(len(b) in (2, 3) and b[0].image.shape in ((64, 64), (128, 128)) for b in batches)
    firsts = {b[0].image.tobytes() for b in batches}
    assert len(firsts) == 4  # no two workers repeat each other
    assert all(not p.is_alive() for p in source.procs)


def test_average_of_two_checkpoints_is_their_mean(tmp_path):
    from napari_medseg.models.builtin.model import load_state
    from napari_medseg.models.builtin.network import PromptableUNet
    from napari_medseg.training.average import average_states, main
    from napari_medseg.training.train import save_weights

    torch.manual_seed(0)
    paths = []
    for i in range(2):
        net = PromptableUNet()
        save_weights(net, tmp_path / f"w{i}.safetensors", {"steps": 10 + i, "seed": 0})
        paths.append(tmp_path / f"w{i}.safetensors")
    a, b = (load_state(p) for p in paths)
    out = tmp_path / "soup.safetensors"
    torch.set_num_threads(1)
    assert main([str(paths[0]), str(paths[1]), "--out", str(out), "--weights", "1,3", "--val-per-kind", "2"]) == 0
    soup = load_state(out)
    key = next(k for k in a if a[k].dim() == 4)
    expected = (0.25 * a[key].float() + 0.75 * b[key].float()).half()
    assert torch.equal(soup[key], expected) and not torch.equal(soup[key], a[key])
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["steps"] == 21 and [s["weight"] for s in meta["averaged_from"]] == [1.0, 3.0]
    assert set(meta["val_dice"]) >= {"click", "propagation"}
    with pytest.raises(ValueError, match="weights must be"):
        average_states([a, b], [1.0, -1.0])


def test_near_pairs_change_less_than_wide_ones():
    """The propagation decoder's pairs (NEAR) are nearer neighbours than the shared decoder's (WIDE)."""
    from napari_medseg.training.pairs import NEAR, WIDE

    def median_change(profile, seed):
        rng = np.random.default_rng(seed)
        pairs = [p for p in (make_pair(rng, 96, profile=profile) for _ in range(50)) if p is not None]
        going_on = [p for p in pairs if p.target_b.any()]
        return np.median([1 - (p.target_a & p.target_b).sum() / (p.target_a | p.target_b).sum() for p in going_on])

    near, wide = median_change(NEAR, 2), median_change(WIDE, 2)
    assert near < 0.8 * wide, (near, wide)


def test_tiny_propagation_decoder_run_writes_a_decoder_the_model_loads(tmp_path):
    import hashlib
    import shutil

    from napari_medseg.models.builtin.model import STEP_WEIGHTS_NAME, default_weights_path, load_builtin
    from napari_medseg.training.train_propagation import main

    weights = tmp_path / "builtin.safetensors"
    shutil.copy(default_weights_path(), weights)
    out = tmp_path / STEP_WEIGHTS_NAME
    torch.set_num_threads(1)
    rc = main(["--init", str(weights), "--out", str(out), "--steps", "3", "--batch", "2", "--size", "64",
               "--val-per-kind", "2", "--pool", "4", "--val-every", "3", "--threads", "1", "--seed", "4"])
    assert rc == 0 and out.is_file()
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["steps"] == 3 and meta["encoder_sha256"] == hashlib.sha256(weights.read_bytes()).hexdigest()
    assert set(meta["val_dice"]) == {"near", "near_copy", "wide", "wide_copy"}
    model = load_builtin(weights)
    assert model.step_decoder is not None
    from napari_medseg.core.prompts import BoxPrompt

    emb = model.encode(np.zeros((40, 40), np.float32))
    prev = np.where(np.pad(np.ones((10, 10), bool), 15), 8.0, -8.0).astype(np.float32)
    logits = model.decode_step(emb, [BoxPrompt(ps.REF, (12.0, 12.0), (27.0, 27.0))], prev, relative=False)
    assert logits.shape == (40, 40) and np.isfinite(logits).all()
