"""``napari-medseg precompute``: encode every slice of a volume into an on-disk embedding cache.

Run it ahead of an annotation session (or overnight for a dataset); the widget and ``segment``
pointed at the same cache folder then answer every click from the cache.
"""

from __future__ import annotations

import argparse
import sys
import time

from napari_medseg.cli.segment import add_model_arguments, load_model_checked, open_cache

HELP = "encode every slice of a volume into an embedding cache folder, ahead of annotation"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("precompute", help=HELP, description=HELP)
    parser.add_argument("image", help="the image volume (.nii, .nii.gz, .nrrd or .zarr)")
    add_model_arguments(parser)
    parser.add_argument("--cache", required=True, metavar="DIR", help="embedding cache folder")
    parser.add_argument("--axis", type=int, choices=(0, 1, 2), default=2, help="slicing axis (default 2)")
    parser.set_defaults(run=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from napari_medseg.core.intensity import get_preset
    from napari_medseg.core.session import Session
    from napari_medseg.core.volume_io import read_volume

    started = time.perf_counter()
    volume = read_volume(args.image)
    preset = get_preset(args.preset)
    model = load_model_checked(args.model, args.checkpoint)
    cache = open_cache(args.cache)
    session = Session(volume, model, preset=preset, cache=cache, axis=args.axis)
    total = volume.shape[args.axis]
    encoded = session.precompute(progress=_progress_printer(total))
    print(
        f"precompute: {encoded} of {total} slices encoded ({total - encoded} already cached) "
        f"into {args.cache} in {time.perf_counter() - started:.1f} s",
        file=sys.stderr,
    )
    return 0


def _progress_printer(total: int):
    """Progress on stderr: a live counter on a terminal, a line per ~10% otherwise."""
    live = sys.stderr.isatty()
    every = max(1, total // 10)

    def report(done: int, _total: int) -> None:
        if live:
            end = "\n" if done == total else ""
            print(f"\rprecompute: {done}/{total} slices", end=end, file=sys.stderr, flush=True)
        elif done % every == 0 or done == total:
            print(f"precompute: {done}/{total} slices", file=sys.stderr, flush=True)

    return report
