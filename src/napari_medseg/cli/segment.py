"""``napari-medseg segment``: a prompt file in, a NIfTI label volume out, headless.

Everything that can be wrong with the input (image, prompt file, output path, preset, model,
checkpoint) is checked before any slice is encoded, and the labels are written atomically, so a
failed run costs little and never damages an existing output file.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from napari_medseg.errors import MedsegError, ModelLoadError, VolumeWriteError

HELP = "segment a volume from a JSON prompt file (docs/prompt-format.md) into a label file"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("segment", help=HELP, description=HELP)
    parser.add_argument("image", help="the image volume (.nii, .nii.gz, .nrrd or .zarr)")
    parser.add_argument("--prompts", required=True, metavar="PROMPTS.json", help="the prompt file")
    parser.add_argument("--out", required=True, metavar="LABELS.nii.gz", help="where to write the labels")
    add_model_arguments(parser)
    parser.add_argument("--cache", metavar="DIR", help="embedding cache folder (reused across runs)")
    parser.set_defaults(run=run)
    return parser


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """--model, --checkpoint and --preset, shared with ``precompute``."""
    from napari_medseg.core.intensity import DEFAULT_PRESET
    from napari_medseg.models.registry import DEFAULT_MODEL

    parser.add_argument("--model", default=DEFAULT_MODEL, help=f"model name (default {DEFAULT_MODEL})")
    parser.add_argument("--checkpoint", metavar="PATH", help="model weights (required for SAM-family models)")
    parser.add_argument(
        "--preset",
        default=DEFAULT_PRESET,
        help=f"intensity preset or window:LEVEL:WIDTH (default {DEFAULT_PRESET})",
    )


def run(args: argparse.Namespace) -> int:
    from napari_medseg.core.intensity import get_preset
    from napari_medseg.core.label_names import write_label_names
    from napari_medseg.core.prompt_file import load_prompt_file
    from napari_medseg.core.session import Session
    from napari_medseg.core.volume_io import read_volume, write_labels

    started = time.perf_counter()
    volume = read_volume(args.image)
    prompts = load_prompt_file(args.prompts, volume.shape)
    out = check_output_path(args.out, volume.path)
    preset = get_preset(args.preset)
    model = load_model_checked(args.model, args.checkpoint)
    cache = open_cache(args.cache)
    top = max(o.label for o in prompts.objects)
    labels = np.zeros(volume.shape, dtype=np.uint16 if top <= np.iinfo(np.uint16).max else np.int32)
    session = Session(volume, model, labels=labels, preset=preset, cache=cache, axis=prompts.axis)
    for obj in prompts.objects:
        session.segment_object(obj.interactions, obj.label, propagate=obj.propagate)
        voxels = int(np.count_nonzero(session.labels == obj.label))
        name = f" ({obj.name})" if obj.name else ""
        print(f"label {obj.label}{name}: {voxels} voxels")
    write_labels(out, session.labels, reference=volume)
    write_label_names(out, {o.label: o.name for o in prompts.objects if o.name})  # out.json beside it
    cache.flush()  # the embeddings reach the --cache folder before the process ends
    print(f"wrote {out} in {time.perf_counter() - started:.1f} s")
    return 0


def check_output_path(path: str, image_path: Path | None) -> Path:
    """The output must be a NIfTI/zarr path in an existing folder and not the input image itself."""
    out = Path(path).expanduser()
    name = out.name.lower().rstrip("/")
    if not name.endswith((".nii", ".nii.gz", ".zarr")):
        raise VolumeWriteError(f"output {out.name} must end in .nii.gz, .nii or .zarr")
    if not out.parent.is_dir():
        raise VolumeWriteError(f"output folder {out.parent} does not exist; create it first")
    if image_path is not None and out.exists() and out.resolve() == Path(image_path).resolve():
        raise VolumeWriteError(f"output {out} is the input image; choose another output path")
    if out.is_dir() and not name.endswith(".zarr"):
        raise VolumeWriteError(f"output {out} is a folder; give a file name")
    return out


def load_model_checked(name: str, checkpoint: str | None):
    """``load_model`` with any loader failure turned into a one-line :class:`ModelLoadError`."""
    from napari_medseg.models.registry import load_model

    try:
        return load_model(name, checkpoint)
    except MedsegError:
        raise
    except Exception as exc:  # a corrupt file makes loaders raise many unrelated types
        detail = (str(exc).splitlines() or [type(exc).__name__])[0]
        source = f" from {checkpoint}" if checkpoint else ""
        raise ModelLoadError(
            f"cannot load model '{name}'{source}: {detail[:200]}; check the checkpoint file"
        ) from exc


def open_cache(directory: str | None):
    """An embedding cache, on disk when ``directory`` is given."""
    from napari_medseg.core.cache import EmbeddingCache

    if directory is None:
        return EmbeddingCache()
    try:
        return EmbeddingCache(directory=directory)
    except OSError as exc:
        raise MedsegError(
            f"cannot use cache folder {directory}: {exc.strerror or exc}; choose a writable folder"
        ) from exc
