"""NRRD volumes (3D Slicer's own format) read into a :class:`~napari_medseg.core.volume_io.Volume`.

A ``.nrrd`` file is a text header, a blank line, then the voxels (raw, gzip or bzip2), the first axis
fastest. The array is returned in NIfTI's order (``data[i, j, k]``, ``i`` the file's fastest axis) and
the header's ``space directions`` and ``space origin`` become the voxel-to-world affine in RAS, as
nibabel gives it for NIfTI: a Slicer segmentation saved as NRRD and its image then open on the same
grid, and labels drawn on it are written (as NIfTI) with the same geometry. Only data attached to the
header is read; a detached header (``.nhdr`` with ``data file:``) is refused with the way out.
"""

from __future__ import annotations

import bz2
import math
import re
import zlib
from pathlib import Path

import numpy as np

from napari_medseg.errors import VolumeReadError

NRRD_SUFFIX = ".nrrd"
_TYPES = {
    np.dtype(np.int8): ("signed char", "int8", "int8_t"),
    np.dtype(np.uint8): ("uchar", "unsigned char", "uint8", "uint8_t"),
    np.dtype(np.int16): ("short", "short int", "signed short", "signed short int", "int16", "int16_t"),
    np.dtype(np.uint16): ("ushort", "unsigned short", "unsigned short int", "uint16", "uint16_t"),
    np.dtype(np.int32): ("int", "signed int", "int32", "int32_t"),
    np.dtype(np.uint32): ("uint", "unsigned int", "uint32", "uint32_t"),
    np.dtype(np.int64): ("longlong", "long long", "long long int", "signed long long", "signed long long int",
                         "int64", "int64_t"),
    np.dtype(np.uint64): ("ulonglong", "unsigned long long", "unsigned long long int", "uint64", "uint64_t"),
    np.dtype(np.float32): ("float",),
    np.dtype(np.float64): ("double",),
}
DTYPES = {name: dtype for dtype, names in _TYPES.items() for name in names}
# world frames NRRD names, as the signs that turn them into RAS
_TO_RAS = {
    "right-anterior-superior": (1, 1, 1), "ras": (1, 1, 1), "scanner-xyz": (1, 1, 1),
    "left-posterior-superior": (-1, -1, 1), "lps": (-1, -1, 1),
    "left-anterior-superior": (-1, 1, 1), "las": (-1, 1, 1),
}
MAX_HEADER = 1 << 16
_VECTOR = re.compile(r"\(([^)]*)\)|\b(none)\b", re.IGNORECASE)


def read_header(raw: bytes, name: str) -> tuple[dict[str, str], bytes]:
    """The header's fields (keys lower-cased) and the bytes after the blank line that ends it."""
    if not raw.startswith(b"NRRD000"):
        raise VolumeReadError(f"{name} is not an NRRD file (it does not start with 'NRRD000'); give a .nrrd volume")
    end = raw.find(b"\n\n", 0, MAX_HEADER)
    crlf = raw.find(b"\r\n\r\n", 0, MAX_HEADER)
    if end < 0 and crlf < 0:
        raise VolumeReadError(f"cannot read {name}: no blank line ends the NRRD header; the file is truncated or corrupt")
    cut, skip = (end, 2) if crlf < 0 or 0 <= end < crlf else (crlf, 4)
    fields: dict[str, str] = {}
    for line in raw[:cut].decode("latin-1").splitlines()[1:]:
        if not line.strip() or line.startswith("#") or ":=" in line:  # comments and key/value pairs
            continue
        key, sep, value = line.partition(":")
        if sep:
            fields[key.strip().lower()] = value.strip()
    return fields, raw[cut + skip :]


def _vectors(text: str, name: str) -> list[np.ndarray | None]:
    """``(a,b,c) (d, e, f) none`` -> vectors (None for ``none``)."""
    out: list[np.ndarray | None] = []
    for vector, none in _VECTOR.findall(text):
        if none:
            out.append(None)
            continue
        try:
            out.append(np.array([float(v) for v in vector.split(",")], dtype=np.float64))
        except ValueError as exc:
            raise VolumeReadError(f"{name}: cannot read the NRRD vector ({vector}); the header is corrupt") from exc
    return out


def _voxels(fields: dict[str, str], body: bytes, name: str) -> np.ndarray:
    type_name = fields.get("type", "").lower()
    if type_name not in DTYPES:
        raise VolumeReadError(f"{name}: NRRD type {fields.get('type')!r} is not a scalar grey-value type; "
                              "give int, short, float, ...")
    dtype = DTYPES[type_name]
    if dtype.itemsize > 1:
        dtype = dtype.newbyteorder("<" if fields.get("endian", "little").lower() == "little" else ">")
    try:
        sizes = [int(v) for v in fields["sizes"].split()]
    except (KeyError, ValueError) as exc:
        raise VolumeReadError(f"{name}: the NRRD header has no readable 'sizes'; the file is corrupt") from exc
    if any(s <= 0 for s in sizes):
        raise VolumeReadError(f"{name} holds no voxels (sizes {sizes}); give a volume of at least one voxel")
    encoding = fields.get("encoding", "raw").lower()
    count = math.prod(sizes)
    expected = count * dtype.itemsize  # (no more is decompressed: a corrupt header cannot fill the memory)
    try:
        if encoding in ("gzip", "gz"):
            data = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(body, expected)
        elif encoding in ("bzip2", "bz2"):
            data = bz2.BZ2Decompressor().decompress(body, max_length=expected)
        elif encoding == "raw":
            data = body
        else:
            raise VolumeReadError(f"{name}: NRRD encoding {encoding!r} is not read here; save it as raw or gzip")
    except (OSError, EOFError, zlib.error, ValueError) as exc:
        raise VolumeReadError(f"cannot read {name}: its compressed voxels are corrupt or truncated ({exc})") from exc
    if len(data) < expected:
        raise VolumeReadError(f"cannot read {name}: {len(data)} bytes of voxels for {count} {type_name} voxels; "
                              "the file is truncated")
    # the file's first axis is the fastest: numpy's reversed order, transposed back
    array = np.frombuffer(data, dtype=dtype, count=count).reshape(sizes[::-1]).transpose()
    return np.ascontiguousarray(array.astype(dtype.newbyteorder("="), copy=False))


def _geometry(fields: dict[str, str], directions: list[np.ndarray | None] | None, spatial: list[int],
              name: str) -> tuple[np.ndarray, tuple[float, ...]]:
    """The 4x4 RAS affine and the voxel spacing of the spatial axes (``directions``: the header's
    ``space directions``, read, or None without them)."""
    affine = np.eye(4)
    signs = np.ones(3)
    space = fields.get("space", "").lower()
    if space:
        if space not in _TO_RAS:
            raise VolumeReadError(f"{name}: NRRD space {fields['space']!r} is not a 3D patient space; "
                                  "save it in RAS or LPS")
        signs = np.array(_TO_RAS[space], dtype=np.float64)
    if directions is not None:
        vectors = [v for v in directions if v is not None]
        if len(vectors) != len(spatial) or any(len(v) != 3 for v in vectors):
            raise VolumeReadError(f"{name}: its NRRD 'space directions' do not give one 3D vector per spatial axis")
        for column, vector in enumerate(vectors):
            affine[:3, column] = signs * vector
        origin = _vectors(fields.get("space origin", "(0,0,0)"), name)
        if len(origin) != 1 or origin[0] is None or len(origin[0]) != 3:
            raise VolumeReadError(f"{name}: its NRRD 'space origin' is not one 3D point; fix the header's geometry")
        affine[:3, 3] = signs * origin[0]
    elif "spacings" in fields:  # no world frame: the spacings alone
        try:
            values = [float(v) for v in fields["spacings"].split()]
        except ValueError as exc:
            raise VolumeReadError(f"{name}: its NRRD 'spacings' are not numbers; fix the header") from exc
        values = [v for v in values if not np.isnan(v)]
        for column, value in enumerate(values[: len(spatial)]):
            affine[column, column] = value if np.isfinite(value) and value > 0 else 1.0
    if not np.all(np.isfinite(affine)) or abs(np.linalg.det(affine[:3, :3])) < 1e-12:
        raise VolumeReadError(f"{name}: its NRRD 'space directions' are degenerate; fix the header's geometry")
    spacing = tuple(float(s) if s > 0 else 1.0 for s in np.linalg.norm(affine[:3, :3], axis=0))
    return affine, spacing


def read_nrrd(path: str | Path):
    """A 3D scalar volume from a ``.nrrd`` file with attached data (see the module docstring). A 2D
    image becomes a one-slice volume; a leading non-spatial axis of size 1 is dropped."""
    from napari_medseg.core.volume_io import Volume, _as_scalar_3d  # (volume_io dispatches here)

    p = Path(path).expanduser()
    try:
        raw = p.read_bytes()
    except OSError as exc:
        raise VolumeReadError(f"cannot read {p}: {exc.strerror or exc}") from exc
    fields, body = read_header(raw, p.name)
    if "data file" in fields or "datafile" in fields:
        raise VolumeReadError(f"{p.name} is a detached NRRD header (its voxels are in another file); "
                              "save the volume as a single .nrrd file")
    data = _voxels(fields, body, p.name)
    kinds = fields.get("kinds", "").lower().split()
    directions = _vectors(fields["space directions"], p.name) if "space directions" in fields else None
    if directions is not None and len(directions) != data.ndim:
        raise VolumeReadError(f"{p.name}: its NRRD 'space directions' name {len(directions)} axes, its sizes "
                              f"{data.ndim}; the header is corrupt")
    axes = list(range(data.ndim))
    non_spatial = [a for a in axes if (directions is not None and directions[a] is None)
                   or (kinds and a < len(kinds) and kinds[a] not in ("domain", "space", "???"))]
    if any(data.shape[a] != 1 for a in non_spatial):
        raise VolumeReadError(f"{p.name} has shape {data.shape} with a non-spatial axis (vectors, colours or time); "
                              "give a single scalar 3D volume")
    spatial = [a for a in axes if a not in non_spatial]
    data = _as_scalar_3d(data.reshape([data.shape[a] for a in spatial]), p.name)  # (2D: one slice)
    affine, spacing = _geometry(fields, directions, spatial, p.name)
    return Volume(data=data, affine=affine, spacing=spacing, header=None, path=p)
