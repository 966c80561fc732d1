"""A first click's answer without the halo of surrounding tissue (models/builtin/halo.py)."""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from napari_medseg.core.prompts import PointPrompt, ScribblePrompt, SliceRef
from napari_medseg.evaluation.metrics import dice
from napari_medseg.models.builtin.halo import HaloOptions, trim_halo

REF = SliceRef(2, 0)
CLICK = PointPrompt(REF, (40.0, 40.0))


def _disc(radius: float, shape=(80, 80), centre=(40, 40)) -> np.ndarray:
    rr, cc = np.mgrid[: shape[0], : shape[1]]
    return (rr - centre[0]) ** 2 + (cc - centre[1]) ** 2 <= radius**2


def _textured(level: float, seed: int = 0) -> np.ndarray:
    """``level`` with an organ's fine texture (smoothed noise, standard deviation about 0.02)."""
    noise = ndimage.gaussian_filter(np.random.default_rng(seed).normal(0, 0.06, (80, 80)), 1.0)
    return (level + noise).astype(np.float32)


def _lesion_answer() -> tuple[np.ndarray, np.ndarray]:
    """(answer logits, network logits): a confident core over a radius-9 lesion, a weak halo to 18 px."""
    network = np.where(_disc(9), 4.0, np.where(_disc(18), 1.0, -4.0)).astype(np.float32)
    return np.where(_disc(18), 1.5, -3.0).astype(np.float32), network


def test_a_lesion_answer_loses_the_halo_of_liver_around_it():
    image = _textured(0.55)
    image[_disc(9)] -= 0.06  # hypodense: darker than the liver around it
    out, network = _lesion_answer()
    trimmed = trim_halo(out, network, image, [CLICK], False, relative=False)
    assert dice(trimmed > 0, _disc(9)) > 0.9
    assert not (trimmed > 0)[~_disc(12)].any()
    assert (out > 0).sum() == _disc(18).sum()  # the input is left as it was


def test_a_halo_that_looks_like_the_core_stays():
    out, network = _lesion_answer()  # one organ, no lesion: the halo is the same tissue
    assert trim_halo(out, network, _textured(0.55), [CLICK], False, relative=False) is out


def test_a_cortex_around_a_medulla_is_no_halo():
    image = np.full((80, 80), 0.20, np.float32)  # fat outside the kidney
    image[_disc(18)] = 0.80  # cortex
    image[_disc(9)] = 0.68  # medulla
    image += _textured(0.0, seed=1)
    out, network = _lesion_answer()
    assert trim_halo(out, network, image, [CLICK], False, relative=False) is out


def test_only_a_first_answer_from_clicks_on_absolute_intensities():
    image = _textured(0.55)
    image[_disc(9)] -= 0.06
    out, network = _lesion_answer()
    scribble = ScribblePrompt(REF, ((38.0, 38.0), (42.0, 42.0)), width=3)
    assert trim_halo(out, network, image, [CLICK], True, relative=False) is out  # a correction
    assert trim_halo(out, network, image, [CLICK], False, relative=True) is out  # MR
    assert trim_halo(out, network, image, [scribble], False, relative=False) is out
    assert trim_halo(out, network, image, [CLICK], False, relative=False, opts=HaloOptions(enabled=False)) is out
    assert trim_halo(out, network, image, [scribble], False, relative=False, opts=HaloOptions(scribbles=True)) is not out
    far = PointPrompt(REF, (40.0, 22.0))  # a click in the halo: no confident core under it
    assert trim_halo(out, network, image, [far], False, relative=False) is out


def test_the_shipped_model_answers_a_click_on_a_faint_lesion_with_the_lesion():
    """A development phantom (seed 10, never evaluated on): its liver lesion, 30 HU darker than the
    liver, drew a first answer three times its size (Dice 0.475 in the bench's crop)."""
    from napari_medseg.core.intensity import get_preset
    from napari_medseg.core.sample import generate_phantom
    from napari_medseg.evaluation.simulate import interior_point
    from napari_medseg.models.builtin.model import load_builtin

    image, labels, _, _ = generate_phantom(10)
    z = int(np.argmax((labels == 7).sum(axis=(0, 1))))
    ref = labels[:, :, z] == 7
    model = load_builtin()
    emb = model.encode(get_preset("ct-abdomen").fit(image).apply(image[:, :, z]))
    click = [PointPrompt(REF, interior_point(ref))]
    assert dice(model.decode(emb, click) > 0, ref) > 0.85  # measured 0.888
    model.configure({"halo.enabled": 0})
    assert dice(model.decode(emb, click) > 0, ref) < 0.6
