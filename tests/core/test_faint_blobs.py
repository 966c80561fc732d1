"""The faint blob's smoothing after a walk: which objects it takes, that it keeps the volume and the key
slices, and that a jagged walk of a faint ball comes out closer to the ball. The walk's model is a test
double (a unit test of the algorithm): it answers each slice with the ball's disc and a noisy rim."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from napari_medseg.core.faint_blobs import contrast_to_noise, is_faint_blob, smooth_faint_blob, thickness
from napari_medseg.core.propagation import PropagationOptions, propagate
from napari_medseg.core.session import Session

SHAPE = (21, 64, 64)  # slices, rows, cols
CENTRE = (10, 32, 32)
RADIUS = 11.0


def ball() -> np.ndarray:
    z, r, c = np.indices(SHAPE)
    return (z - CENTRE[0]) ** 2 * 1.0 + (r - CENTRE[1]) ** 2 + (c - CENTRE[2]) ** 2 <= RADIUS**2


def scene(contrast: float, seed: int = 0) -> np.ndarray:
    """The ball ``contrast`` darker than its surroundings under unit noise."""
    rng = np.random.default_rng(seed)
    return (1.0 - contrast * ball() + rng.standard_normal(SHAPE)).astype(np.float32)


def jagged(mask: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """The mask with its one-pixel rim flipped at random on both sides (a border following noise)."""
    from scipy import ndimage

    rim = ndimage.binary_dilation(mask) & ~ndimage.binary_erosion(mask)
    flip = rim & (rng.random(mask.shape) < 0.5)
    return mask ^ flip


def dice(a: np.ndarray, b: np.ndarray) -> float:
    return 2.0 * np.count_nonzero(a & b) / (np.count_nonzero(a) + np.count_nonzero(b))


def test_contrast_to_noise_and_thickness_measure_what_they_say():
    image, mask = scene(2.5)[CENTRE[0]], ball()[CENTRE[0]]
    assert 2.5 * 0.8 < contrast_to_noise(-image, mask) < 2.5 * 1.2  # (the sign of the contrast is not asked)
    assert 2.5 * 0.8 < contrast_to_noise(image, mask) < 2.5 * 1.2
    assert contrast_to_noise(scene(20.0)[CENTRE[0]], mask) > 15
    assert thickness(mask) > 0.9
    bar = np.zeros((64, 64), dtype=bool)
    bar[30:33, 2:62] = True
    assert thickness(bar) < 0.3
    assert is_faint_blob(mask, image)
    assert not is_faint_blob(mask, scene(20.0)[CENTRE[0]])  # a clear outline is the image's own
    assert not is_faint_blob(bar, image)  # thin: a vessel would lose its branches
    assert not is_faint_blob(np.zeros_like(mask), image)


def walked(seed: int = 1) -> dict[int, np.ndarray]:
    rng = np.random.default_rng(seed)
    truth = ball()
    return {z: jagged(truth[z], rng) for z in range(SHAPE[0]) if z != CENTRE[0] and truth[z].any()}


def test_a_faint_balls_jagged_walk_is_smoothed_its_volume_and_key_slice_kept():
    truth, image = ball(), scene(2.5)
    results = walked()
    key = {CENTRE[0]: truth[CENTRE[0]]}
    changed = smooth_faint_blob(results, key, lambda z, rows, cols: image[z][rows, cols])
    assert changed and CENTRE[0] not in changed and set(changed) <= set(results)
    after = {**results, **changed}
    before_voxels = sum(int(m.sum()) for m in results.values())
    after_voxels = sum(int(m.sum()) for m in after.values())
    assert abs(after_voxels - before_voxels) <= 0.02 * before_voxels
    zs = sorted(results)
    raw = dice(np.stack([results[z] for z in zs]), truth[zs])
    smooth = dice(np.stack([after[z] for z in zs]), truth[zs])
    assert smooth > raw + 0.02


def test_a_clear_outline_is_left_as_it_is():
    image = scene(20.0)
    results = walked()
    key = {CENTRE[0]: ball()[CENTRE[0]]}
    assert smooth_faint_blob(results, key, lambda z, rows, cols: image[z][rows, cols]) == {}
    assert smooth_faint_blob({}, key, lambda z, rows, cols: image[z][rows, cols]) == {}


def jagged_model(truth: np.ndarray, seed: int = 3):
    """A walk's decode: the object's true disc on each slice with a rim that follows noise."""
    rng = np.random.default_rng(seed)

    def decode(index, prompts, prev_logits):
        return np.where(jagged(truth[index], rng), 4.0, -4.0).astype(np.float32)

    return decode


@pytest.mark.parametrize("smooth", [True, False])
def test_propagate_smooths_a_faint_balls_walk_and_tells_on_slice(smooth):
    truth, image = ball(), scene(2.5)
    options = PropagationOptions(smooth_faint_blobs=smooth, fill_between=False, appearance_ratio=0.0,
                                 iou_threshold=0.0)
    seen: dict[int, np.ndarray] = {}
    result = propagate(jagged_model(truth), {CENTRE[0]: truth[CENTRE[0]]}, SHAPE[0], options,
                       on_slice=lambda z, m: seen.__setitem__(z, m.copy()),
                       slice_image=lambda z, rows, cols: image[z][rows, cols])
    assert CENTRE[0] not in result
    assert all(np.array_equal(seen[z], m) for z, m in result.items())  # the last word on each slice
    zs = sorted(result)
    score = dice(np.stack([result[z] for z in zs]), truth[zs])
    if smooth:
        assert score > 0.93
    else:
        assert score < 0.92


class DiscModel:
    """A session's model double: the faint ball's jagged disc on every slice. It reads the slice's
    index from the slice itself: the bright pixel in the dark top row (any preset keeps its place)."""

    name = "jagged-disc"
    identity = "jagged-disc:v1"

    def __init__(self) -> None:
        self.decode_slice = jagged_model(ball())

    def encode(self, image):
        return {"image": np.asarray(image, dtype=np.float32).copy()}

    def decode(self, embedding, prompts, prev_logits=None):
        index = int(np.argmax(embedding["image"][0])) - 1
        return self.decode_slice(index, prompts, prev_logits)


def test_a_sessions_propagation_writes_the_smoothed_slices_and_undoes_them():
    """The slices the walk wrote are written again, smaller where the smoothing took a rim pixel off:
    the session must clear those voxels, and one undo brings the whole propagation back."""
    image = scene(2.5)
    image[:, 0, :] = -100.0
    image[np.arange(SHAPE[0]), 0, np.arange(SHAPE[0]) + 1] = 100.0
    session = Session(image, model=DiscModel(), preset="window:1:8", axis=0)
    session.labels[CENTRE[0]] = ball()[CENTRE[0]]
    options = PropagationOptions(fill_between=False, appearance_ratio=0.0, iou_threshold=0.0)
    session.propagate(1, options)
    label = session.labels == 1
    zs = [z for z in range(SHAPE[0]) if z != CENTRE[0] and ball()[z].any()]
    assert label[zs].any(axis=(1, 2)).all()
    smoothed, voxels = dice(label[zs], ball()[zs]), np.count_nonzero(label)
    assert smoothed > 0.97
    assert session.undo()
    assert np.count_nonzero(session.labels == 1) == np.count_nonzero(ball()[CENTRE[0]])
    # the walk alone leaves the jagged rims; the smoothing kept its volume: the session wrote the
    # smoothing's removals too (not only its additions)
    session.propagate(1, replace(options, smooth_faint_blobs=False))
    assert dice((session.labels == 1)[zs], ball()[zs]) < smoothed - 0.05
    assert abs(np.count_nonzero(session.labels == 1) - voxels) <= 0.02 * voxels
