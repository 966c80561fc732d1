"""Real CT and MR tumours with reference labels: the test volumes in pyradiomics' source package.

pyradiomics (BSD licence) tests its features on five clinical volumes, each with a segmentation
drawn by hand, and publishes them in its source distribution on PyPI (``pyradiomics-3.1.0.tar.gz``,
``data/*.nrrd``): two CT lung tumours (a 3-slice nodule and an 11-slice mass against the pleura), two
MR brain tumours (T1 after contrast, skull not stripped) and an MR breast lesion. The archive is
fetched once (``fetched.py``); the built-in model never saw them: an evaluation set, never a
development one.
"""

from __future__ import annotations

from pathlib import Path

from napari_medseg.errors import MedsegError
from napari_medseg.evaluation.fetched import PinnedArchive, fetch

RADIOMICS_SET = "radiomics"
# volume -> (structure, intensity preset): lung tumours in the lung window, as they are read
VOLUMES = {
    "lung1": ("tumour", "ct-lung"),
    "lung2": ("tumour", "ct-lung"),
    "brain1": ("tumour", "mr"),
    "brain2": ("tumour", "mr"),
    "breast1": ("lesion", "mr"),
}
ARCHIVE = PinnedArchive(
    name="pyradiomics-3.1.0.tar.gz",
    url="https://files.pythonhosted.org/packages/03/c1/20fc2c50ab1e3304da36d866042a1905a2b05a1431ece35448ab6b4578f2/"
        "pyradiomics-3.1.0.tar.gz",
    sha256="24722c962a6bbd09bc39c1c67dbffe92435f9692a421fabaae8a6b4511eb48e4",
    members=tuple(f"data/{volume}_{part}.nrrd" for volume in VOLUMES for part in ("image", "label")),
    set_name=RADIOMICS_SET,
)


def radiomics_cases(folder: Path | None = None):
    """One case per volume (its labelled tumour), sliced along the volume's third axis (its slices)."""
    from napari_medseg.core.volume_io import read_volume
    from napari_medseg.evaluation.datasets import Case

    folder = fetch(ARCHIVE) if folder is None else Path(folder)
    cases = []
    for volume, (structure, preset) in VOLUMES.items():
        image, labels = read_volume(folder / f"{volume}_image.nrrd"), read_volume(folder / f"{volume}_label.nrrd")
        if image.shape != labels.shape:
            raise MedsegError(f"{volume}_label.nrrd has shape {labels.shape}, its image {image.shape}; "
                              "the files do not match")
        cases.append(Case(RADIOMICS_SET, volume, structure, image.data, labels.data > 0, axis=2, preset=preset,
                          spacing=image.spacing))
    return cases
