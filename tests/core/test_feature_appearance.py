"""The feature rule: propagation stops where the mask no longer looks like the object in the model's
features, even where intensity alone cannot tell (a touching tissue of the same brightness).

The unit tests use hand-made feature maps and a test double that copies the previous slice's mask;
the last test runs the built-in model on a phantom volume (generator seed 8: a development volume,
not an evaluation one) whose spleen touches muscle of nearly its brightness.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from propagation_doubles import copy_previous, disc

from napari_medseg.core.feature_appearance import FeatureAppearance
from napari_medseg.core.propagation import PropagationOptions, propagate

STRIDE = 4



def features_of(obj: np.ndarray, rng, channels: int = 6, noise: float = 0.3) -> tuple[np.ndarray, int]:
    """Grid features (h/4, w/4, C): channel 0 says "object" under ``obj``; the rest is noise."""
    h, w = obj.shape
    cover = obj.reshape(h // STRIDE, STRIDE, w // STRIDE, STRIDE).mean(axis=(1, 3))
    feats = rng.normal(0, noise, (h // STRIDE, w // STRIDE, channels)).astype(np.float32)
    feats[..., 0] += 2.0 * cover
    return feats, STRIDE



def test_a_mask_over_the_surroundings_is_judged_not_the_object():
    rng = np.random.default_rng(0)
    key = disc((96, 96), (48, 48), 24)
    look = FeatureAppearance.from_key(features_of(key, rng), key)
    assert look is not None and look.key_share > 0.9
    assert look.judge(features_of(key, rng), key, 0.5, trim=False) is key
    gone = np.zeros_like(key)  # the object has ended: the same mask now lies on surroundings
    assert look.judge(features_of(gone, rng), key, 0.5, trim=True) is None


def test_trim_drops_a_leak_that_lies_on_the_surroundings_side():
    rng = np.random.default_rng(1)
    key = disc((96, 96), (48, 48), 24)
    look = FeatureAppearance.from_key(features_of(key, rng), key)
    smaller = disc((96, 96), (48, 48), 19)
    feats = features_of(smaller, rng)
    trimmed = look.judge(feats, key, 0.5, trim=True)
    assert trimmed is not None and trimmed.sum() < key.sum()
    dice = 2 * (trimmed & smaller).sum() / (trimmed.sum() + smaller.sum())
    assert dice > 0.9
    assert look.judge(feats, key, 0.5, trim=False) is key


def test_no_features_or_too_small_an_object_gives_no_model():
    rng = np.random.default_rng(2)
    key = disc((96, 96), (48, 48), 24)
    assert FeatureAppearance.from_key(None, key) is None
    small = disc((96, 96), (48, 48), 5)  # ~5 grid cells for 6 channels: a fit would be noise
    assert FeatureAppearance.from_key(features_of(small, rng), small) is None
    constant = (np.zeros((24, 24, 6), np.float32), STRIDE)  # no spread at all
    assert FeatureAppearance.from_key(constant, key) is None


def test_score_is_bilinear_between_cell_centres():
    look = FeatureAppearance(np.array([1.0], np.float32), -0.5, 1.0)
    feats = np.zeros((4, 4, 1), np.float32)
    feats[:, 2:, 0] = 1.0
    score = look.score((feats, STRIDE), slice(0, 16), slice(0, 16))
    assert score.shape == (16, 16)
    assert score[5, 0] == pytest.approx(-0.5) and score[5, 15] == pytest.approx(0.5)
    # pixel 7 sits at grid coordinate 7.5 / 4 - 0.5 = 1.375: 3/8 of the way from cell 1 to cell 2
    assert score[5, 7] == pytest.approx(-0.125) and score[5, 8] == pytest.approx(0.125)


def test_a_copying_model_stops_where_only_the_features_change():
    """Same intensity inside and outside everywhere: only the feature rule can see the end."""
    rng = np.random.default_rng(3)
    depth, end = 12, 6
    truth = np.zeros((depth, 96, 96), bool)
    for z in range(end):
        truth[z] = disc((96, 96), (48, 48), 24 - z)
    images = np.full((depth, 96, 96), 0.5, np.float32)  # the intensity rule declines to judge
    grids = [features_of(t, rng) for t in truth]

    def slice_image(index, rows, cols):
        return images[index][rows, cols]

    key = {0: truth[0]}
    intensity_only = propagate(copy_previous, key, depth, PropagationOptions(), slice_image=slice_image)
    assert max(intensity_only) == depth - 1  # intensity says nothing: carried to the border
    both = propagate(copy_previous, key, depth, PropagationOptions(), slice_image=slice_image,
                     slice_features=lambda i: grids[i])
    assert max(both) == end - 1  # stopped at the object's last slice
    for z in range(1, end):
        dice = 2 * (both[z] & truth[z]).sum() / (both[z].sum() + truth[z].sum())
        assert dice > 0.85, (z, dice)  # the trim followed the shrinking object
    off = propagate(copy_previous, key, depth, PropagationOptions(feature_appearance=False),
                    slice_image=slice_image, slice_features=lambda i: grids[i])
    assert max(off) == depth - 1


def test_builtin_model_offers_its_quarter_resolution_features():
    from napari_medseg.models.builtin.model import load_builtin
    from napari_medseg.models.protocol import OffersAppearanceFeatures

    torch.set_num_threads(1)
    model = load_builtin()
    assert isinstance(model, OffersAppearanceFeatures)
    feats, stride = model.appearance_features(model.encode(np.full((101, 70), 0.4, np.float32)))
    assert stride == 4 and feats.shape == (26, 18, 16) and np.issubdtype(feats.dtype, np.floating)


def test_the_spleen_walk_stops_at_the_organ_with_the_builtin_model():
    """Spleen (50 HU) against abdominal-wall muscle (48 HU): intensity alone carries the walk on."""
    from napari_medseg.core.sample import generate_phantom
    from napari_medseg.core.session import Session

    torch.set_num_threads(1)
    image, labels, _, names = generate_phantom(8)
    spleen = labels == next(k for k, v in names.items() if v == "spleen")
    rows, cols = np.flatnonzero(spleen.any(axis=(1, 2))), np.flatnonzero(spleen.any(axis=(0, 2)))
    crop = (slice(max(rows[0] - 24, 0), rows[-1] + 25), slice(max(cols[0] - 24, 0), cols[-1] + 25))
    image, spleen = image[crop], spleen[crop]
    present = np.flatnonzero(spleen.any(axis=(0, 1)))
    key = int(np.argmax(spleen.sum(axis=(0, 1))))

    def slices_beyond(options: PropagationOptions) -> int:
        session = Session(image, "builtin", preset="ct-abdomen", axis=2)
        session.labels[..., key] = spleen[..., key]
        session.propagate(1, options=options)
        labelled = np.flatnonzero((session.labels == 1).any(axis=(0, 1)))
        return int(np.sum((labelled < present[0]) | (labelled > present[-1])))

    assert slices_beyond(PropagationOptions(feature_appearance=False)) >= 10
    assert slices_beyond(PropagationOptions()) <= 3


def test_a_mask_mostly_off_a_shrunken_object_is_cut_back_not_stopped():
    """The object shrank to a quarter under the carried mask: below the ratio, but what is left after
    dropping the surroundings-side patches is the object, so the walk goes on with it."""
    rng = np.random.default_rng(4)
    key = disc((96, 96), (48, 48), 24)
    look = FeatureAppearance.from_key(features_of(key, rng), key)
    shrunk = disc((96, 96), (48, 48), 12)
    out = look.judge(features_of(shrunk, rng), key, 0.5, trim=True)
    assert out is not None
    dice = 2 * (out & shrunk).sum() / (out.sum() + shrunk.sum())
    assert dice > 0.85
    assert look.judge(features_of(shrunk, rng), key, 0.5, trim=False) is None  # no trim: a stop


def test_a_separate_part_that_looks_like_the_surroundings_goes_as_a_whole():
    rng = np.random.default_rng(5)
    key = disc((96, 96), (56, 48), 24)
    look = FeatureAppearance.from_key(features_of(key, rng), key)
    strip = np.zeros_like(key)
    strip[4:16, 8:88] = True  # a separate part (960 px, a third of the mask), aligned to grid cells
    feats, stride = features_of(key, rng)
    cells = (slice(1, 4), slice(2, 22))

    def judged(level: float) -> np.ndarray:
        f = feats.copy()
        f[cells] = 0.0
        f[cells[0], cells[1], 0] = level  # "object" is 2.0, the ring 0.0: below 1.0 looks like the ring
        out = look.judge((f, stride), key | strip, 0.5, trim=True)
        assert out is not None
        return out

    unlike = judged(0.85)  # its pixels score only a little below 0: the pixel trim alone keeps them
    assert not (unlike & strip).any(), "the part went as a whole"
    assert (unlike & key).sum() >= 0.95 * key.sum()
    like = judged(1.6)
    assert (like & strip).sum() >= 0.8 * strip.sum(), "a part that looks like the object stays"
    small = np.zeros_like(key)
    small[4:12, 8:20] = True  # 96 px: under a tenth of the mask, left to the pixel trim
    f = feats.copy()
    f[1:3, 2:5] = 0.0
    f[1:3, 2:5, 0] = 0.85
    out = look.judge((f, stride), key | small, 0.5, trim=True)
    assert out is not None and (out & small).sum() >= 0.5 * small.sum()


def test_growth_must_look_like_the_object_when_the_previous_mask_is_given():
    rng = np.random.default_rng(6)
    key = disc((96, 96), (48, 48), 20)
    look = FeatureAppearance.from_key(features_of(key, rng), key)
    grown = disc((96, 96), (48, 48), 28)  # the model grew the mask by an 8-px band
    feats, stride = features_of(key, rng, noise=0.05)
    band = (features_of(grown, rng)[0][..., 0] > 1.0) & (feats[..., 0] < 1.0)
    feats[band, 0] = 0.85  # the band looks a little more like the ring than the object
    loose = look.judge((feats, stride), grown, 0.5, trim=True)
    assert loose is not None and loose.sum() > 0.9 * grown.sum(), "one spread of margin keeps the band"
    held = look.judge((feats, stride), grown, 0.5, trim=True, previous=key)
    assert held is not None
    assert held.sum() < 0.75 * grown.sum() and (held & key).sum() > 0.9 * key.sum(), "the band went, the object stayed"
