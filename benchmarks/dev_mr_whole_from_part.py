"""A whole asked for by clicks that start on one of its parts, on the MR development phantoms; prints numbers.

The simulated user of ``napari-medseg bench`` clicks a structure's most interior point first. For a
brain that point can lie in another structure (the ventricles, deep grey matter): the first answer is
that part, and the clicks that follow must turn it into the whole. This runs that sequence on the
brains of the MR development phantoms (``evaluation/mr_phantom.py``, seeds 3 and 4; not evaluation
volumes): the first click on the most interior point of the ventricles or of the grey matter, then
the simulated user's correction clicks for the brain, through the product's ``Session``; it prints
each Dice curve and the mean Dice after 1, 2, 3 and 5 clicks. ``--builtin-option GROUP.NAME=V``
sets an inference-time option, as for ``napari-medseg bench``::

    python benchmarks/dev_mr_whole_from_part.py
    python benchmarks/dev_mr_whole_from_part.py --builtin-option extend_relative.click_range=0

About 5 s on 2 cores.
"""

from __future__ import annotations

import argparse

import numpy as np

from napari_medseg.cli.bench import parse_options
from napari_medseg.core.prompts import PointPrompt, SliceRef
from napari_medseg.evaluation.datasets import Case, load_cases
from napari_medseg.evaluation.metrics import dice
from napari_medseg.evaluation.run import Bench, BenchConfig, make_model, user_seed
from napari_medseg.evaluation.simulate import SimulatedUser, interior_point

PARTS = ("ventricles", "grey matter")
CLICKS = 8
AT = (1, 2, 3, 5)


def curve(cases: list[Case], options: tuple[tuple[str, float], ...], seed: str, part: str) -> list[float]:
    brain = next(c for c in cases if c.name.endswith(f"phantom-{seed}-crop/brain"))
    other = next(c for c in cases if c.name.endswith(f"phantom-{seed}-crop/{part}"))
    session = Bench(BenchConfig(sets=("dev-mr",), models=("builtin",))).session(brain, make_model("builtin", options=options))
    index = brain.key_slice()
    ref = SliceRef(brain.axis, index)
    reference = np.take(brain.reference, index, axis=brain.axis)
    user = SimulatedUser("point", ref, seed=user_seed(brain, "point"))
    mask: np.ndarray | None = None
    scores: list[float] = []
    for _ in range(CLICKS):
        if mask is None:
            prompts = [PointPrompt(ref, interior_point(np.take(other.reference, index, axis=brain.axis)), True)]
        else:
            prompts = user.next_interaction(reference, mask)
        if not prompts:
            break
        mask = session.add_prompts(prompts).mask
        scores.append(dice(mask, reference))
    return scores + [scores[-1]] * (CLICKS - len(scores))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--builtin-option", action="append", default=[], metavar="GROUP.NAME=VALUE")
    args = parser.parse_args()
    options = parse_options(args.builtin_option)
    cases = load_cases("dev-mr")
    curves = []
    for seed in ("3", "4"):
        for part in PARTS:
            c = curve(cases, options, seed, part)
            curves.append(c)
            print(f"mr-phantom-{seed} brain, first click in the {part:11s}", " ".join(f"{v:.3f}" for v in c))
    mean = np.mean(curves, axis=0)
    print("mean Dice " + ", ".join(f"@{k} {mean[k - 1]:.3f}" for k in AT))


if __name__ == "__main__":
    main()
