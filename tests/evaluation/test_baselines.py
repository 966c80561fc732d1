"""The classical baselines segment easy objects from the same prompts, through the real session."""

from __future__ import annotations

import numpy as np
import pytest

from napari_medseg.core.prompts import BoxPrompt, LassoPrompt, PointPrompt, ScribblePrompt, SliceRef
from napari_medseg.core.session import Session
from napari_medseg.evaluation.baselines import BACKGROUND, OBJECT, FloodModel, RandomWalkerModel, SeedRules
from napari_medseg.evaluation.metrics import dice
from napari_medseg.models.protocol import PromptableModel, logits_from_mask

REF = SliceRef(2, 0)


def noisy_disk(seed=0, shape=(72, 72), centre=(36, 40), radius=15):
    rng = np.random.default_rng(seed)
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    gt = (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= radius**2
    image = np.where(gt, 0.7, 0.3) + rng.normal(0, 0.06, shape)
    return np.clip(image, 0, 1).astype(np.float32), gt


MODELS = [RandomWalkerModel(), FloodModel(tolerance=0.2)]


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_follows_the_model_protocol(model):
    assert isinstance(model, PromptableModel)
    image, _ = noisy_disk()
    emb = model.encode(image)
    logits = model.decode(emb, [PointPrompt(REF, (36, 40))])
    assert logits.dtype == np.float32 and logits.shape == image.shape


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_disk_from_one_click(model):
    image, gt = noisy_disk()
    logits = model.decode(model.encode(image), [PointPrompt(REF, (36.0, 40.0))])
    assert dice(logits > 0, gt) > 0.8


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_disk_from_a_box(model):
    image, gt = noisy_disk(seed=1)
    box = BoxPrompt(REF, (19.0, 23.0), (53.0, 57.0))
    logits = model.decode(model.encode(image), [box])
    assert dice(logits > 0, gt) > 0.8


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_disk_from_a_scribble_and_a_lasso(model):
    image, gt = noisy_disk(seed=2)
    emb = model.encode(image)
    stroke = ScribblePrompt(REF, ((30.0, 36.0), (36.0, 40.0), (42.0, 44.0)))
    assert dice(model.decode(emb, [stroke]) > 0, gt) > 0.8
    t = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    lasso = LassoPrompt(REF, tuple(zip(36 + 16.5 * np.sin(t), 40 + 16.5 * np.cos(t), strict=True)))
    assert dice(model.decode(emb, [lasso]) > 0, gt) > 0.8


def test_nothing_positive_gives_an_empty_mask():
    image, _ = noisy_disk()
    for model in MODELS:
        assert not (model.decode(model.encode(image), [PointPrompt(REF, (5.0, 5.0), False)]) > 0).any()


def test_negative_click_removes_a_wrongly_included_region():
    # two touching disks of the same brightness: a click floods both, a negative click on one removes it
    rng = np.random.default_rng(3)
    rr, cc = np.mgrid[:64, :80]
    left = (rr - 32) ** 2 + (cc - 25) ** 2 <= 12**2
    right = (rr - 32) ** 2 + (cc - 52) ** 2 <= 12**2
    bridge = (np.abs(rr - 32) <= 2) & (cc > 25) & (cc < 52)
    image = np.clip(np.where(left | right | bridge, 0.7, 0.3) + rng.normal(0, 0.03, rr.shape), 0, 1).astype(np.float32)
    model = FloodModel(tolerance=0.2)
    emb = model.encode(image)
    both = model.decode(emb, [PointPrompt(REF, (32.0, 25.0))]) > 0
    assert both[32, 52]
    fixed = model.decode(emb, [PointPrompt(REF, (32.0, 25.0)), PointPrompt(REF, (32.0, 52.0), False)]) > 0
    assert not fixed[32, 52] and dice(fixed, left) > 0.8


def test_seed_rules_prompts_override_and_previous_mask_only_in_propagation():
    rules = SeedRules()
    shape = (40, 40)
    box = BoxPrompt(REF, (10.0, 10.0), (30.0, 30.0))
    seeds = rules.seeds(shape, [box, PointPrompt(REF, (2.0, 2.0))], None, border=True)
    assert seeds[20, 20] == OBJECT and seeds[35, 35] == BACKGROUND
    assert seeds[2, 2] == OBJECT  # an explicit click outside the box wins over "outside the box"
    prev = np.zeros(shape, dtype=bool)
    prev[5:20, 5:20] = True
    with_prev = rules.seeds(shape, [box], logits_from_mask(prev), border=True)
    assert with_prev[12, 12] == OBJECT  # propagation: the previous mask's core is object
    refine = rules.seeds(shape, [box, PointPrompt(REF, (25.0, 25.0), False)], logits_from_mask(prev), border=True)
    assert refine[12, 12] != OBJECT  # a refinement with clicks does not reuse the previous mask


def test_seed_rules_a_later_prompt_overrides_an_earlier_one():
    rules = SeedRules()
    shape = (40, 40)
    obj = LassoPrompt(REF, ((2.0, 2.0), (2.0, 37.0), (37.0, 37.0), (37.0, 2.0)))
    cut = LassoPrompt(REF, ((5.0, 5.0), (5.0, 20.0), (20.0, 20.0), (20.0, 5.0)), positive=False)
    back = LassoPrompt(REF, ((8.0, 8.0), (8.0, 20.0), (20.0, 20.0), (20.0, 8.0)))
    assert rules.seeds(shape, [obj, cut], None, border=True)[14, 14] == BACKGROUND
    assert rules.seeds(shape, [obj, cut, back], None, border=True)[14, 14] == OBJECT  # drawn back over
    assert rules.seeds(shape, [obj, back, cut], None, border=True)[14, 14] == BACKGROUND  # cut last
    click = PointPrompt(REF, (14.0, 14.0))
    assert rules.seeds(shape, [obj, cut, click], None, border=True)[14, 14] == OBJECT


@pytest.mark.parametrize("model", MODELS, ids=lambda m: m.name)
def test_session_prompt_commit_and_propagate_a_cylinder(model):
    rng = np.random.default_rng(4)
    rr, cc = np.mgrid[:48, :48]
    ref = np.stack([(rr - 24) ** 2 + (cc - 22 - k // 3) ** 2 <= (9 + k % 3) ** 2 for k in range(12)], axis=2)
    image = np.where(ref, 120.0, 20.0) + rng.normal(0, 8, ref.shape)
    session = Session(image.astype(np.float32), model, preset="window:70:300", axis=2)
    session.add_prompts([BoxPrompt(SliceRef(2, 6), (12.0, 12.0), (36.0, 36.0))], label_id=1)
    session.commit(1)
    session.propagate(1)
    assert dice(session.labels == 1, ref) > 0.85
