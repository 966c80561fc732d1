"""The appearance rule: propagation stops (and trims) where the mask no longer looks like the object.

The model is a test double that copies the previous slice's mask whatever the image shows: the
failure the rule exists for (a mask prompt carried past the object's end).
"""

from __future__ import annotations

import numpy as np
import pytest
from propagation_doubles import copy_previous, disc

from napari_medseg.core.appearance import AppearanceModel
from napari_medseg.core.propagation import PropagationOptions, propagate
from napari_medseg.errors import MedsegError


def noisy(rng, values: np.ndarray, sigma: float = 0.03) -> np.ndarray:
    return np.clip(values + rng.normal(0, sigma, values.shape), 0, 1).astype(np.float32)


def region(image: np.ndarray):
    return lambda rows, cols: image[rows, cols]


def slices(images: np.ndarray):
    return lambda index, rows, cols: images[index][rows, cols]



def test_key_share_is_high_and_a_mask_over_the_surroundings_is_not_the_object():
    rng = np.random.default_rng(0)
    obj = disc((64, 64), (32, 32), 12)
    image = noisy(rng, np.where(obj, 0.7, 0.3))
    look = AppearanceModel.from_key(region(image), obj)
    assert look is not None and look.key_share > 0.95
    assert look.judge(region(image), obj, 0.5, trim=False) is obj
    background_only = noisy(rng, np.full((64, 64), 0.3))
    assert look.share(region(background_only), obj) < 0.05
    assert look.judge(region(background_only), obj, 0.5, trim=True) is None


def test_an_object_brighter_than_the_window_is_told_from_a_bright_neighbour():
    """Bone under an abdomen window: clipped, it and a touching contrast-filled vessel are both 1.0;
    unclipped (the preset's scale), the bins reach the bone's own values and the vessel is not bone."""
    rng = np.random.default_rng(7)
    bone = disc((64, 64), (32, 26), 12)
    vessel = disc((64, 64), (32, 45), 8) & ~bone
    raw = np.where(bone, 2.0, np.where(vessel, 0.95, 0.3)) + rng.normal(0, 0.03, (64, 64))
    raw = raw.astype(np.float32)
    leaked = bone | vessel
    look = AppearanceModel.from_key(region(raw), bone)
    assert look is not None and look.hi > 1.8
    kept = look.judge(region(raw), leaked, 0.5, trim=True)
    assert kept is not None and (kept & vessel).sum() < 0.1 * vessel.sum() and (kept & bone).sum() > 0.95 * bone.sum()
    clipped = AppearanceModel.from_key(region(np.clip(raw, 0, 1)), bone)
    if clipped is not None:  # within the window the two look alike: the leak stays
        still = clipped.judge(region(np.clip(raw, 0, 1)), leaked, 0.5, trim=True)
        assert still is not None and (still & vessel).sum() > 0.5 * vessel.sum()


def test_an_intensity_the_object_never_showed_is_not_object_like():
    rng = np.random.default_rng(1)
    obj = disc((64, 64), (32, 32), 12)
    image = noisy(rng, np.where(obj, 0.5, 0.2))
    look = AppearanceModel.from_key(region(image), obj)
    brighter = noisy(rng, np.full((64, 64), 0.95))  # neither the object nor its ring looked like this
    assert look.share(region(brighter), obj) < 0.05


def test_trim_drops_the_part_of_the_mask_that_looks_like_the_surroundings():
    rng = np.random.default_rng(2)
    key = disc((64, 64), (32, 32), 14)
    look = AppearanceModel.from_key(region(noisy(rng, np.where(key, 0.7, 0.3))), key)
    smaller = disc((64, 64), (32, 32), 11)  # the share stays above half the key's: trimmed, not stopped
    image = region(noisy(rng, np.where(smaller, 0.7, 0.3)))
    trimmed = look.judge(image, key, 0.5, trim=True)
    assert trimmed.sum() < key.sum()
    dice = 2 * (trimmed & smaller).sum() / (trimmed.sum() + smaller.sum())
    assert dice > 0.9
    assert look.judge(image, key, 0.5, trim=False) is key
    empty = np.zeros((64, 64), bool)
    assert not look.judge(image, empty, 0.5, trim=True).any()  # too small to judge: left as it is


def test_an_object_as_bright_as_its_ring_gives_no_model():
    """Intensity cannot judge it, and must not trim it away (the whole mask would look "unlike")."""
    rng = np.random.default_rng(6)
    obj = disc((64, 64), (32, 32), 12)
    assert AppearanceModel.from_key(region(np.full((64, 64), 0.5, np.float32)), obj) is None
    same = noisy(rng, np.full((64, 64), 0.5))
    look = AppearanceModel.from_key(region(same), obj)
    assert look is None or look.key_share >= 0.5


def test_a_one_pixel_rim_is_partial_volume_not_a_leak():
    rng = np.random.default_rng(7)
    key = disc((64, 64), (32, 32), 14)
    look = AppearanceModel.from_key(region(noisy(rng, np.where(key, 0.7, 0.3))), key)
    one_less = region(noisy(rng, np.where(disc((64, 64), (32, 32), 13), 0.7, 0.3)))
    assert look.judge(one_less, key, 0.5, trim=True) is key


def test_too_small_a_key_mask_gives_no_model():
    image = np.zeros((16, 16), np.float32)
    tiny = np.zeros((16, 16), bool)
    tiny[5:7, 5:7] = True
    assert AppearanceModel.from_key(region(image), tiny) is None


def _shrinking_then_ending(rng, depth=12, end=8, step=1.5, radius=16.0):
    """A bright disc shrinking by ``step`` px per slice from slice 0 and gone from slice ``end`` on."""
    truth = np.zeros((depth, 64, 64), bool)
    for z in range(end):
        truth[z] = disc((64, 64), (32, 32), radius - step * z)
    images = np.stack([noisy(rng, np.where(t, 0.7, 0.3)) for t in truth])
    return truth, images


def test_a_copying_model_stops_at_the_object_end_only_with_the_rule():
    truth, images = _shrinking_then_ending(np.random.default_rng(3))
    key = {0: truth[0]}
    without = propagate(
        copy_previous, key, len(truth), PropagationOptions(appearance_ratio=0.0), slice_image=slices(images)
    )
    assert max(without) == len(truth) - 1  # carried to the volume border
    with_rule = propagate(
        copy_previous, key, len(truth), PropagationOptions(appearance_trim=False), slice_image=slices(images)
    )
    assert max(with_rule) < 8  # stopped once the copied mask covered mostly surroundings
    no_images = propagate(copy_previous, key, len(truth), PropagationOptions())
    assert max(no_images) == len(truth) - 1  # without the slice images the rule cannot apply


def test_trim_lets_a_copying_model_follow_a_shrinking_object():
    """It shrinks by 3 px per slice: a rim of 1-2 px is taken for the border's partial volume."""
    truth, images = _shrinking_then_ending(np.random.default_rng(4), end=5, step=3.0, radius=26.0)
    out = propagate(
        copy_previous,
        {0: truth[0]},
        len(truth),
        PropagationOptions(appearance_trim=True),
        slice_image=slices(images),
    )
    assert max(out) == 4  # the last slice that holds the object
    for z in range(1, 5):
        dice = 2 * (out[z] & truth[z]).sum() / (out[z].sum() + truth[z].sum())
        assert dice > 0.85, (z, dice)


def test_appearance_ratio_is_validated():
    with pytest.raises(MedsegError, match="appearance_ratio"):
        PropagationOptions(appearance_ratio=1.5).validate()


def test_non_finite_intensities_are_judged_without_errors(recwarn):
    rng = np.random.default_rng(5)
    obj = disc((64, 64), (32, 32), 12)
    image = noisy(rng, np.where(obj, 0.7, 0.3))
    look = AppearanceModel.from_key(region(image), obj)
    broken = image.copy()
    broken[:, :20] = np.nan
    broken[:, 44:] = np.inf
    out = look.judge(region(broken), obj, 0.5, trim=True)
    assert out is None or out.dtype == bool
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
