"""Where a first answer errs: too much or too little, at the border or beyond it (held-out phantoms).

Dice says how far a first answer is from the reference, not which way. This runs the simulated user's
first interaction on the largest slice of every structure of more draws of the CT phantom generator
(seeds 9-16 by default: development volumes, never evaluated on; the bench's crops and user seeds) and
prints, per structure and prompt type, the mean Dice, the pixels added (fp) and missed (fn), and which
share of the reference's own border row and of the row just outside it the answer covers: a border
row covered at 0.3 with fn >> fp is an answer a pixel too small all round.

The last column is what the image alone allows: the contour at the intensity halfway between the
structure's core and a ring around it (an oracle that reads both from the reference), held near the
structure. Where that contour scores little more than the model, the image's partial volume and noise
set the limit, not the model::

    python benchmarks/first_answer_bias.py
    python benchmarks/first_answer_bias.py --seeds 9,10 --prompt-types box,lasso --builtin-option refine.tidy=0

About 30 s on 2 cores for all four prompt types; prints numbers, asserts nothing.
"""

from __future__ import annotations

import argparse
from collections import defaultdict

import numpy as np
from scipy import ndimage

from napari_medseg.cli.bench import parse_options
from napari_medseg.core.prompts import SliceRef
from napari_medseg.core.sample import DEFAULT_SEED
from napari_medseg.core.session import Session
from napari_medseg.evaluation.datasets import CROP_MARGIN, crop_case, phantom_cases
from napari_medseg.evaluation.metrics import dice
from napari_medseg.evaluation.run import make_model, user_seed
from napari_medseg.evaluation.simulate import SimulatedUser


def halfway_contour(image: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """The pixels near ``reference`` on the core's side of the intensity halfway between its core (2 px
    inside) and a ring 2-4 px outside it (slice smoothed with sigma 1 px), holes filled, the pieces
    holding the core kept."""
    smooth = ndimage.gaussian_filter(image.astype(np.float32), 1.0)
    core = ndimage.binary_erosion(reference, iterations=2)
    if not core.any():
        core = reference
    ring = ndimage.binary_dilation(reference, iterations=4) & ~ndimage.binary_dilation(reference, iterations=2)
    inner, outer = float(np.median(smooth[core])), float(np.median(smooth[ring]))
    side = ((smooth - 0.5 * (inner + outer)) * np.sign(inner - outer) > 0) & ndimage.binary_dilation(reference, iterations=3)
    pieces, _ = ndimage.label(ndimage.binary_fill_holes(side))
    held = np.unique(pieces[core])
    return np.isin(pieces, held[held > 0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", default="9,10,11,12,13,14,15,16", help="phantom generator seeds")
    parser.add_argument("--prompt-types", default="point,box,scribble,lasso")
    parser.add_argument("--builtin-option", action="append", default=[], metavar="GROUP.NAME=VALUE",
                        help="an inference-time option of the built-in model (repeatable), as napari-medseg bench's")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",") if s]
    if DEFAULT_SEED in seeds:
        parser.error(f"seed {DEFAULT_SEED} is the bundled sample's: an evaluation volume, not a development one")
    kinds = [k for k in args.prompt_types.split(",") if k]
    model = make_model("builtin", options=parse_options(args.builtin_option))
    rows: dict[tuple[str, str], list[tuple[float, ...]]] = defaultdict(list)
    ceiling: dict[str, list[float]] = defaultdict(list)
    for whole in phantom_cases(tuple(seeds)):
        case = crop_case(whole, margin=CROP_MARGIN)
        index = case.key_slice()
        ref = np.take(case.reference, index, axis=case.axis)
        plane = np.take(case.image, index, axis=case.axis)
        structure = case.name.split("/")[-1]
        ceiling[structure].append(dice(halfway_contour(plane, ref), ref))
        border = ref & ~ndimage.binary_erosion(ref)
        outside = ndimage.binary_dilation(ref) & ~ref
        for kind in kinds:
            session = Session(case.image, model, preset=case.preset, axis=case.axis)
            user = SimulatedUser(kind, SliceRef(case.axis, index), seed=user_seed(case, kind))
            mask = session.add_prompts(user.next_interaction(ref, None)).mask
            rows[(structure, kind)].append((dice(mask, ref), np.count_nonzero(mask & ~ref),
                                            np.count_nonzero(ref & ~mask), mask[border].mean(), mask[outside].mean()))
    print(f"{model.identity}, phantom seeds {args.seeds}: first answers on each structure's largest slice")
    print(f"{'structure':14s} {'prompt':8s} {'Dice':>6s} {'fp px':>7s} {'fn px':>7s} {'border':>7s} {'outside':>8s} {'halfway':>8s}")
    for (structure, kind), values in sorted(rows.items()):
        v = np.array(values, dtype=float).mean(axis=0)
        print(f"{structure:14s} {kind:8s} {v[0]:6.3f} {v[1]:7.1f} {v[2]:7.1f} {v[3]:7.2f} {v[4]:8.2f} "
              f"{np.mean(ceiling[structure]):8.3f}")


if __name__ == "__main__":
    main()
