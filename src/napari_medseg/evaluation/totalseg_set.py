"""A real abdominal CT whose labels come from another model: TotalSegmentator's test example.

TotalSegmentator (Apache licence) ships, in its source distribution on PyPI
(``totalsegmentator-2.18.0.tar.gz``, ``tests/reference_files``), a real abdominal CT resampled to
3 mm voxels (122 x 101 x 30; ``example_ct_sm.nii.gz``) and the segmentation its own model made of it
(``example_seg.nii.gz``), which its tests compare against. So the references are a strong model's
answer, not an expert's: on large organs TotalSegmentator agrees with experts to Dice ~0.94, less on
small ones. What the set shows is our model on real abdominal anatomy at a coarse 3 mm in plane,
where the liver spans ~2,000 pixels and the aorta ~44. Fetched once (``fetched.py``); never used to
choose anything.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from napari_medseg.errors import MedsegError
from napari_medseg.evaluation.fetched import PinnedArchive, fetch

TOTALSEG_SET = "totalseg"
# TotalSegmentator's 'total' task class ids (its map_to_binary.py) -> our structure names
STRUCTURES = {
    5: "liver",
    1: "spleen",
    2: "right kidney",
    3: "left kidney",
    52: "aorta",
    63: "inferior vena cava",
    6: "stomach",
    4: "gallbladder",
    7: "pancreas",
    31: "vertebra L1",
}
ARCHIVE = PinnedArchive(
    name="totalsegmentator-2.18.0.tar.gz",
    url="https://files.pythonhosted.org/packages/c3/53/7d654d2ec3fcb801ae54d318b0ffc18021aed528bf4e4df0753caf0c8a73/"
        "totalsegmentator-2.18.0.tar.gz",
    sha256="5d4223ef93973bc36d710869d11e7742ead2c154c72f7f9edcaaadd5b6c4bd03",
    members=("tests/reference_files/example_ct_sm.nii.gz", "tests/reference_files/example_seg.nii.gz"),
    set_name=TOTALSEG_SET,
)


def totalseg_cases(folder: Path | None = None):
    """One case per listed structure of the example CT, axial slices (its third axis), abdomen window."""
    from napari_medseg.core.volume_io import read_volume
    from napari_medseg.evaluation.datasets import Case

    folder = fetch(ARCHIVE) if folder is None else Path(folder)
    image, labels = read_volume(folder / "example_ct_sm.nii.gz"), read_volume(folder / "example_seg.nii.gz")
    if image.shape != labels.shape:
        raise MedsegError(f"example_seg.nii.gz has shape {labels.shape}, its image {image.shape}; the files do not match")
    data, seg = np.asarray(image.data), np.asarray(labels.data)
    return [Case(TOTALSEG_SET, "ts-example-ct", name, data, seg == value, axis=2, preset="ct-abdomen",
                 spacing=image.spacing)
            for value, name in STRUCTURES.items() if (seg == value).any()]
