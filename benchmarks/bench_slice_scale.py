"""How the first answer holds up when objects span more pixels: prints numbers, asserts nothing.

    .venv/bin/python benchmarks/bench_slice_scale.py [--set dev|dev-mr|sample] [--zoom 1,2.5] [--prompt-types point,box]
        [--interactions 5] [--models "builtin;random_walker"] [--builtin-option second_look.box=0]

The bench's volumes are small (the phantoms' slices are 192 x 160 pixels, their organs 30-100 px
across); a real CT slice is 512 x 512, its organs two to three times larger in pixels. Here every
structure's largest slice of the whole phantom (not a crop) is scaled up in plane by ``--zoom``
(linear interpolation; 2.5 gives 480 x 400), and one simulated first interaction is answered by the
built-in model as shipped, by the same model with the coarse grid switched off
(``scale.max_side=0``: every answer at full resolution, as before 2026-12-02), by the same model
with only the network on the coarse grid (``scale.whole_pipeline=0``: the steps after it at full
resolution, as before 2026-12-05) and by the random walker. ``--interactions N`` goes on with the
simulated user's corrections and reports the Dice after the last; ``--existing`` starts instead from
an imperfect label already on the slice (the reference grown by 2 px and moved by (3, 2) px, as an
automatic segmentation to correct) and reports the Dice after N corrections. ``--set dev`` uses the development
phantoms (seeds 7 and 8, for choices), ``--set dev-mr`` the MR development phantoms (seeds 3 and 4,
MR percentile preset), ``--set dev-mr-folded`` the folded brain and two averages (seeds 5; 6, 7);
``--set sample`` the bundled phantom (evaluation only).
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from scipy import ndimage

from napari_medseg.cli.bench import parse_options
from napari_medseg.core.prompts import SliceRef
from napari_medseg.core.sample import SPACING as SAMPLE_SPACING
from napari_medseg.core.sample import generate_phantom, load_sample
from napari_medseg.core.session import Session
from napari_medseg.core.volume_io import Volume
from napari_medseg.evaluation.folded_brain import (
    AVERAGE_SEEDS,
    FOLDED_SEEDS,
    average_brain_phantom,
    folded_brain_phantom,
)
from napari_medseg.evaluation.metrics import dice
from napari_medseg.evaluation.mr_phantom import MR_DEV_SEEDS, brain_labels, brain_phantom
from napari_medseg.evaluation.run import make_model
from napari_medseg.evaluation.simulate import SimulatedUser

MODELS = {
    "builtin": ("builtin", ()),
    "builtin, full resolution only": ("builtin", (("scale.max_side", 0.0),)),
    "builtin, steps after the network at full resolution": ("builtin", (("scale.whole_pipeline", 0.0),)),
    "random_walker": ("random_walker", ()),
}


def volumes(set_name: str, seeds: tuple[int, ...] = (7, 8),
            mr_seeds: tuple[int, ...] = ()) -> list[tuple[str, np.ndarray, dict[str, np.ndarray], str]]:
    """(name, image, {structure: 3D mask}, intensity preset) of each volume of the set (``seeds``: the
    CT phantoms of ``dev``; ``mr_seeds``: other MR phantoms, or other folded brains without averages)."""
    if set_name == "dev-mr" and mr_seeds:
        return [(f"mr-phantom-{seed}", image, brain_labels(labels), "mr")
                for seed in mr_seeds for image, labels, _ in [brain_phantom(seed)]]
    if set_name == "dev-mr-folded" and mr_seeds:
        return [(f"mr-folded-{seed}", image, brain_labels(labels), "mr")
                for seed in mr_seeds for image, labels, _ in [folded_brain_phantom(seed)]]
    if set_name == "sample":
        volume, labels, names = load_sample()
        return [("sample", np.asarray(volume.data), _masks(np.asarray(labels), names), "ct-abdomen")]
    if set_name == "dev-mr":
        return [(f"mr-phantom-{seed}", image, brain_labels(labels), "mr")
                for seed in MR_DEV_SEEDS for image, labels, _ in [brain_phantom(seed)]]
    if set_name == "dev-mr-folded":
        return [(f"mr-folded-{seed}", image, brain_labels(labels), "mr")
                for seed in FOLDED_SEEDS for image, labels, _ in [folded_brain_phantom(seed)]] + [
                (f"mr-average-{seed}", image, brain_labels(labels), "mr")
                for seed in AVERAGE_SEEDS for image, labels, _ in [average_brain_phantom(seed)]]
    out = []
    for seed in seeds:
        image, labels, _, names = generate_phantom(seed)
        out.append((f"phantom-{seed}", image, _masks(labels, names), "ct-abdomen"))
    return out


def native_spacing(preset: str) -> float:
    """The in-plane pixel size (mm) the generators draw at: the CT phantom's 0.9 mm, the brains' 2 mm."""
    return 2.0 if preset == "mr" else SAMPLE_SPACING[0]


def scaled_slices(set_name: str, seeds: tuple[int, ...], mr_seeds: tuple[int, ...], zooms: list[float]):
    """Each structure's largest slice (with its two neighbours) of each volume, scaled in plane by each
    zoom: (volume name, the structure's index from 1, its name, preset, zoom, slices (H, W, 3),
    reference (H, W), the volume's own slice shape)."""
    for vname, image, masks, preset in volumes(set_name, seeds, mr_seeds):
        for lid, (name, ref3) in enumerate(masks.items(), start=1):
            if not ref3.any():
                continue
            z = int(np.clip(np.argmax(ref3.sum(axis=(0, 1))), 1, ref3.shape[2] - 2))
            for zoom in zooms:
                img = ndimage.zoom(image[..., z - 1 : z + 2].astype(np.float32), (zoom, zoom, 1), order=1)
                ref = ndimage.zoom(ref3[..., z].astype(np.float32), zoom, order=1) > 0.5
                yield vname, lid, name, preset, zoom, img, ref, image.shape[:2]


def _masks(labels: np.ndarray, names: dict[int, str]) -> dict[str, np.ndarray]:
    return {name: labels == lid for lid, name in names.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="dev", choices=("dev", "dev-mr", "dev-mr-folded", "sample"))
    parser.add_argument("--zoom", default="1,2.5")
    parser.add_argument("--prompt-types", default="point,scribble,box,lasso")
    parser.add_argument("--interactions", type=int, default=1,
                        help="the simulated user's interactions per slice (corrections after the first); "
                             "the table gives the Dice after the last")
    parser.add_argument("--models", default=";".join(MODELS), help="the rows to run, ';'-separated (their labels hold commas)")
    parser.add_argument("--builtin-option", action="append", default=[], metavar="GROUP.NAME=VALUE",
                        help="an inference-time option for every built-in row (repeatable), as napari-medseg bench's")
    parser.add_argument("--seeds", default="7,8",
                        help="--set dev: the phantom seeds (7,8 the development pair; 9-16 held out, as dev_more_phantoms.py's)")
    parser.add_argument("--spacing", type=float, default=0.0,
                        help="the slices' pixel size (mm) at x1; a slice scaled by z then has pixels of spacing / z "
                             "(what the built-in model's working scale reads, models/working_scale.py); "
                             "0: the volumes' own (0.9 mm for the CT phantoms, 2 mm for the MR ones)")
    parser.add_argument("--mr-seeds", default="",
                        help="--set dev-mr / dev-mr-folded: other seeds (held out, e.g. 10,11,12,13; folded brains only)")
    parser.add_argument("--existing", action="store_true",
                        help="correct an imperfect existing label (the reference grown by 2 px, moved by (3, 2) px)")
    args = parser.parse_args()
    torch.set_num_threads(2)
    zooms = [float(z) for z in args.zoom.split(",")]
    ptypes = args.prompt_types.split(",")
    extra = parse_options(args.builtin_option)
    models = {label: make_model(name, options=(*opts, *extra) if name == "builtin" else opts)
              for label, (name, opts) in MODELS.items() if label in args.models.split(";")}
    start = time.perf_counter()
    curves: dict[tuple[str, str, float], list[list[float]]] = {}  # Dice after each interaction
    for vname, lid, name, preset, zoom, img, ref, own in scaled_slices(
            args.set, tuple(int(v) for v in args.seeds.split(",")),
            tuple(int(v) for v in args.mr_seeds.split(",") if v), zooms):
        for pt in ptypes:
            for label, model in models.items():
                labels, mask = None, None
                if args.existing:  # an automatic segmentation to correct, on the middle slice
                    mask = np.roll(ndimage.binary_dilation(ref, iterations=2), (3, 2), axis=(0, 1))
                    labels = np.zeros(img.shape, dtype=np.uint8)
                    labels[..., 1] = mask
                pixel = (args.spacing or native_spacing(preset)) / zoom
                volume = Volume.with_spacing(img, (pixel, pixel, 3.0))
                session = Session(volume, model, labels=labels, preset=preset, axis=2)
                user = SimulatedUser(pt, SliceRef(2, 1), seed=1000 * zooms.index(zoom) + lid)
                curve = []
                for _ in range(args.interactions):
                    prompts = user.next_interaction(ref, mask)
                    if prompts:  # else nothing is left to correct: the mask stays
                        mask = session.add_prompts(prompts, label_id=1).mask
                    curve.append(dice(mask, ref))
                curves.setdefault((pt, label, zoom), []).append(curve)
        slice_shape = own  # (the volumes' own slices, for the table's title)
        if zoom == zooms[-1]:
            print(f"{vname} {name}: done", flush=True)
    shape = f"{slice_shape[0]} x {slice_shape[1]}"
    what = "First-answer Dice" if args.interactions == 1 else f"Dice after {args.interactions} interactions"
    if args.existing:
        what = f"Dice after {args.interactions} corrections of an existing label"
    print(f"\n{what}, mean over structures ({args.set}, slices of {shape} px scaled by "
          f"{', '.join(f'{z:g}' for z in zooms)}; {time.perf_counter() - start:.0f} s)\n")
    print("| prompt | model | " + " | ".join(f"x{z:g}" for z in zooms) + " |")
    print("|---|---|" + "---:|" * len(zooms))
    for pt in ptypes:
        for label in models:
            row = " | ".join(f"{np.mean([curve[-1] for curve in curves[(pt, label, z)]]):.3f}" for z in zooms)
            print(f"| {pt} | {label} | {row} |")
    if args.interactions > 1:
        print("\nMean Dice after each interaction:")
        for (pt, label, zoom), runs in curves.items():
            print(f"  {pt} {label} x{zoom:g}: " + " / ".join(f"{v:.3f}" for v in np.mean(runs, axis=0)))


if __name__ == "__main__":
    main()
