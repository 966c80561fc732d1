"""Shared fixtures of the model tests."""

from __future__ import annotations

import numpy as np
import pytest

from napari_medseg.core.prompts import BoxPrompt, SliceRef


@pytest.fixture(scope="module")
def dev_kidney():
    """A development phantom's right kidney (``generate_phantom(8)``, label 3) on its largest slice:
    the shipped built-in model, the slice's embedding, a box 2 px around the kidney and the kidney's
    mask. Development data: what the inference-time rules were chosen on, never evaluated on."""
    from napari_medseg.core.intensity import get_preset
    from napari_medseg.core.sample import generate_phantom
    from napari_medseg.models.builtin.model import load_builtin

    image, labels, _, _ = generate_phantom(8)
    z = int(np.argmax((labels == 3).sum(axis=(0, 1))))
    ref = labels[:, :, z] == 3
    model = load_builtin()
    emb = model.encode(get_preset("ct-abdomen").fit(image).apply(image[:, :, z]))
    rows, cols = np.flatnonzero(ref.any(1)), np.flatnonzero(ref.any(0))
    box = BoxPrompt(SliceRef(2, 0), (float(rows[0] - 2), float(cols[0] - 2)), (float(rows[-1] + 2), float(cols[-1] + 2)))
    return model, emb, box, ref


def _held_out_first_dice(structure: str):
    """A development phantom's structure (``generate_phantom(10)``, never an evaluation volume), cut
    as the bench cuts it: a function giving the shipped model's Dice on its largest slice after the
    bench's simulated user's first interaction of a kind, under the given inference options."""
    from napari_medseg.core.sample import generate_phantom
    from napari_medseg.evaluation.datasets import CROP_MARGIN, DEV_SET, _cases_from_labels, crop_case
    from napari_medseg.evaluation.metrics import dice
    from napari_medseg.evaluation.run import Bench, BenchConfig, make_model, user_seed
    from napari_medseg.evaluation.simulate import SimulatedUser

    image, labels, _, names = generate_phantom(10)
    case = next(crop_case(c, margin=CROP_MARGIN)
                for c in _cases_from_labels(DEV_SET, "phantom-10", image, labels, names, axis=2, preset="ct-abdomen")
                if c.structure == structure)
    index = case.key_slice()
    reference = case.reference[..., index]

    def first_dice(prompt_type: str, options: dict[str, float]) -> float:
        user = SimulatedUser(prompt_type, SliceRef(2, index), seed=user_seed(case, prompt_type))
        model = make_model("builtin")
        model.configure(options)
        session = Bench(BenchConfig(sets=(DEV_SET,), models=("builtin",), max_interactions=1)).session(case, model)
        return dice(session.add_prompts(user.next_interaction(reference, None)).mask.astype(bool), reference)

    return first_dice


@pytest.fixture(scope="module")
def held_out_lesion():
    """``_held_out_first_dice`` of the held-out phantom's liver lesion."""
    return _held_out_first_dice("liver lesion")


@pytest.fixture(scope="module")
def held_out_vertebrae():
    """``_held_out_first_dice`` of the held-out phantom's vertebrae."""
    return _held_out_first_dice("vertebrae")
