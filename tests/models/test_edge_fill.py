"""The first click's uncertain band settled by the image's edges (``edge_fill.py``).

Hand-made kidney: a dark medulla (the click's confident answer) inside a bright cortex ring, on
darker fat; the network's logits are confident on the medulla, confident far out, unsure between.
The last test runs the built-in model on a development phantom's kidney (seed 7, not an evaluation
volume)."""

from __future__ import annotations

import dataclasses

import numpy as np

from napari_medseg.core.prompts import PointPrompt, SliceRef
from napari_medseg.models.builtin.edge_fill import EdgeFillOptions, edge_fill, well_attached

REF = SliceRef(2, 0)
SIZE = 96
RR, CC = np.indices((SIZE, SIZE))


def disc(radius: float, centre=(48.0, 48.0)) -> np.ndarray:
    return np.hypot(RR - centre[0], CC - centre[1]) <= radius


def kidney(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(image, logits, whole organ): medulla r <= 18 at 0.5, cortex 18 < r <= 21 at 0.8, fat 0.2."""
    rng = np.random.default_rng(seed)
    medulla, organ = disc(18), disc(21)
    image = np.where(medulla, 0.5, np.where(organ, 0.8, 0.2)) + rng.normal(0, 0.02, (SIZE, SIZE))
    dist = np.hypot(RR - 48, CC - 48)
    logits = np.where(medulla, 4.0, np.where(dist <= 30, -1.0, -6.0)).astype(np.float32)
    return np.clip(image, 0, 1).astype(np.float32), logits, organ


def test_the_cortex_joins_a_medulla_answer():
    image, logits, organ = kidney()
    out = edge_fill(logits, image) > 0
    dice = 2 * (out & organ).sum() / (out.sum() + organ.sum())
    assert dice > 0.95, dice
    assert not (out & ~disc(23)).any(), "the border stops at the cortex's outer edge"
    assert (out[logits > 0]).all(), "nothing of the answer is taken out"


def test_a_neighbour_on_a_narrow_neck_stays_out():
    image, logits, organ = kidney()
    blob = disc(8, centre=(48.0, 79.0))  # a same-grey neighbour touching the cortex's right side
    image = np.where(blob & ~organ, 0.8, image).astype(np.float32)
    logits = np.where(blob & ~organ, -1.0, logits).astype(np.float32)
    out = edge_fill(logits, image) > 0
    assert out[organ & ~disc(20)].mean() > 0.8, "the cortex joined"
    assert not out[disc(5, centre=(48.0, 82.0))].any(), "the neighbour beyond the neck did not"


def test_no_edge_no_fill():
    """A faint object whose band floods far beyond it (no edge between): nothing joins."""
    rng = np.random.default_rng(1)
    image = np.clip(0.5 + rng.normal(0, 0.03, (SIZE, SIZE)), 0, 1).astype(np.float32)
    dist = np.hypot(RR - 48, CC - 48)
    logits = np.where(dist <= 6, 4.0, np.where(dist <= 40, -1.0, -6.0)).astype(np.float32)
    assert edge_fill(logits, image) is logits


def test_a_negative_click_seeds_the_outside():
    """A "no" on the cortex: the cortex's basin floods from it, and none of it joins."""
    image, logits, organ = kidney()
    no = PointPrompt(REF, (48.0, 68.0), False)
    out = edge_fill(logits, image, clicks=[PointPrompt(REF, (48.0, 48.0), True), no]) > 0
    assert np.array_equal(out, logits > 0)
    yes = PointPrompt(REF, (48.0, 68.0), True)  # the same place said "yes": it joins
    assert (edge_fill(logits, image, clicks=[yes]) > 0)[organ].mean() > 0.95


def test_background_pixels_stay_out_and_block_the_flood():
    """A correction's rules took out half the cortex ring (pushed to -0.5, still in the band): seeded
    as background, it does not come back, and its basin (the whole ring: no edge inside it) stays out."""
    image, logits, organ = kidney()
    taken = organ & ~disc(18) & (CC >= 48)  # the right half of the cortex ring
    logits = np.where(taken, -0.5, logits).astype(np.float32)
    click = [PointPrompt(REF, (48.0, 48.0), True)]
    free = edge_fill(logits, image, clicks=click) > 0
    assert free[taken].mean() > 0.9, "without the seeds the fill gives the cortex back"
    out = edge_fill(logits, image, clicks=click, background=taken) > 0
    assert not out[taken].any(), "what the rules took out stays out"
    assert out[logits > 0].all(), "nothing of the answer is taken out"
    assert not out[organ & ~disc(18) & (CC < 44)].any(), "nor reached through the ring (one basin, no edge)"


def test_off_and_degenerate_inputs_return_the_logits():
    image, logits, _ = kidney()
    assert edge_fill(logits, image, EdgeFillOptions(enabled=False)) is logits
    flat = np.full((SIZE, SIZE), -6.0, dtype=np.float32)
    assert edge_fill(flat, image) is flat  # no confident core
    sure = np.where(disc(18), 4.0, -6.0).astype(np.float32)
    assert edge_fill(sure, image) is sure  # no unsure band: nothing to settle
    tiny = np.array([[4.0]], dtype=np.float32)
    assert edge_fill(tiny, np.zeros((1, 1), np.float32)) is tiny


def test_well_attached_keeps_bands_along_the_answer():
    answer = disc(10)
    ring = disc(13) & ~answer  # lies all along the answer
    neighbour = disc(6, centre=(48.0, 66.0)) & ~disc(13)  # touches the ring's edge only
    pieces = ring | (disc(6, centre=(48.0, 30.0)) & ~disc(10))
    kept = well_attached(pieces, answer, 0.3)
    assert kept[ring].all()
    kept = well_attached(neighbour, answer | ring, 0.3)
    assert not kept.any()


def test_the_model_takes_the_whole_kidney_from_a_medulla_click():
    """Development phantom (seed 7), left kidney's largest slice cut to the organ's box plus 24 px
    (as the bench cuts it), a click at its most interior point: with the fill the first answer
    covers the organ (Dice 0.99), without it 0.85."""
    from scipy import ndimage

    from napari_medseg.core.intensity import get_preset
    from napari_medseg.core.sample import generate_phantom
    from napari_medseg.models.builtin.model import load_builtin

    image, labels, _, _ = generate_phantom(7)
    organ = labels == 4  # the left kidney
    rows, cols = np.flatnonzero(organ.any(axis=(1, 2))), np.flatnonzero(organ.any(axis=(0, 2)))
    box = (slice(max(rows[0] - 24, 0), rows[-1] + 25), slice(max(cols[0] - 24, 0), cols[-1] + 25))
    image, organ = image[box], organ[box]
    z = int(np.argmax(organ.sum(axis=(0, 1))))
    ref = organ[:, :, z]
    model = load_builtin()
    emb = model.encode(get_preset("ct-abdomen").fit(image).apply(image[:, :, z]))
    r, c = np.unravel_index(np.argmax(ndimage.distance_transform_edt(ref)), ref.shape)
    click = [PointPrompt(REF, (float(r), float(c)), True)]
    scores = {}
    for on in (True, False):
        model.edge_fill = dataclasses.replace(model.edge_fill, enabled=on)
        mask = model.decode(emb, click) > 0
        scores[on] = 2 * (mask & ref).sum() / (mask.sum() + ref.sum())
    assert scores[True] > 0.95 and scores[True] > scores[False] + 0.05, scores
