"""Synthetic training slices, made on the fly: random label maps rendered as CT/MR-like images.

Nothing here reads real or bundled data (never ``napari_medseg.core.sample``, never evaluation data).
A label map is a background split into a few large tissue regions, overpainted by objects of many
kinds: smooth blobs, superellipses, deformed blobs, rings, thin branching vessels and large branching
structures (white-matter-like). Each label gets an intensity (often close to its neighbours'), a
texture, partial-volume blur, a bias field, noise, sometimes inverted or low contrast, sometimes
anisotropic (blocky along one axis, like a sagittal slice of a thick-slice scan).

Neighbouring-slice pairs for propagation training are made from these in ``training.pairs``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi


@dataclass
class SynthSlice:
    image: np.ndarray  # float32 (H, W) in [0, 1]
    labels: np.ndarray  # int32 (H, W)


def smooth_noise(rng: np.random.Generator, shape: tuple[int, int], sigma: float) -> np.ndarray:
    """Zero-mean, unit-std gaussian-smoothed noise (made at low resolution when smooth, for speed)."""
    f = max(1, int(sigma // 3))
    small = (max(shape[0] // f, 2), max(shape[1] // f, 2))
    n = ndi.gaussian_filter(rng.standard_normal(small).astype(np.float32), sigma / f, mode="wrap")
    if f > 1:
        n = ndi.zoom(n, (shape[0] / small[0], shape[1] / small[1]), order=1, mode="nearest")[: shape[0], : shape[1]]
    n -= n.mean()
    return n / (n.std() + 1e-6)


def _grid(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    return np.mgrid[0 : shape[0], 0 : shape[1]].astype(np.float32)


def superellipse(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    rr, cc = _grid(shape)
    cy, cx = rng.uniform(0.1, 0.9) * shape[0], rng.uniform(0.1, 0.9) * shape[1]
    a, b = scale * rng.uniform(0.3, 1.0), scale * rng.uniform(0.3, 1.0)
    t = rng.uniform(0, np.pi)
    y, x = (rr - cy) * np.cos(t) + (cc - cx) * np.sin(t), -(rr - cy) * np.sin(t) + (cc - cx) * np.cos(t)
    n = rng.uniform(1.2, 4.0)
    return (np.abs(y / a) ** n + np.abs(x / b) ** n) <= 1.0


def deformed_blob(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    rr, cc = _grid(shape)
    cy, cx = rng.uniform(0.15, 0.85) * shape[0], rng.uniform(0.15, 0.85) * shape[1]
    ang = np.arctan2(rr - cy, cc - cx)
    rad = np.ones_like(ang)
    for k in range(2, 7):
        rad += rng.uniform(0, 0.35 / k**0.5) * np.cos(k * ang + rng.uniform(0, 2 * np.pi))
    dist = np.hypot(rr - cy, cc - cx)
    warp = smooth_noise(rng, shape, scale / 3) * scale * 0.08
    return dist + warp <= scale * rng.uniform(0.4, 1.0) * rad


def noise_blob(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """Thresholded smooth noise inside a soft window: irregular, sometimes several pieces."""
    n = smooth_noise(rng, shape, rng.uniform(3, max(4, scale / 2)))
    window = superellipse(rng, shape, scale * 1.3)
    return (n > rng.uniform(-0.3, 0.8)) & window


def ring(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    outer = deformed_blob(rng, shape, scale) if rng.random() < 0.5 else superellipse(rng, shape, scale)
    inner = ndi.binary_erosion(outer, iterations=int(rng.integers(2, 7)))
    return outer & ~inner


def _walk(rng: np.random.Generator, shape: tuple[int, int], start: np.ndarray, heading: float,
          length: int, curl: float) -> np.ndarray:
    steps = rng.normal(0, curl, size=length).cumsum() + heading
    pts = start + np.cumsum(np.stack([np.sin(steps), np.cos(steps)], 1), axis=0)
    inside = (pts[:, 0] >= 0) & (pts[:, 0] < shape[0]) & (pts[:, 1] >= 0) & (pts[:, 1] < shape[1])
    stop = np.argmin(inside) if not inside.all() else len(pts)
    return pts[:stop]


def tree(rng: np.random.Generator, shape: tuple[int, int], thick: bool) -> np.ndarray:
    """Branching tubes (vessels, airways; thick: large branching structures) of varying width."""
    centre = np.zeros(shape, dtype=bool)
    width = np.zeros(shape, dtype=np.float32)
    size = float(min(shape))
    w0 = rng.uniform(3.0, 9.0) if thick else rng.uniform(0.6, 3.0)
    start = np.array([rng.uniform(0.2, 0.8) * shape[0], rng.uniform(0.2, 0.8) * shape[1]])
    stack = [(start, rng.uniform(0, 2 * np.pi), int(size * rng.uniform(0.4, 1.0)), w0, 0)]
    max_depth = 4 if thick else 3
    while stack:
        p0, head, length, w, depth = stack.pop()
        pts = _walk(rng, shape, p0, head, length, rng.uniform(0.02, 0.15))
        if len(pts) < 2:
            continue
        idx = np.round(pts).astype(int).clip(0, np.array(shape) - 1)
        wid = np.linspace(w, w * rng.uniform(0.5, 1.0), len(idx))
        centre[idx[:, 0], idx[:, 1]] = True
        width[idx[:, 0], idx[:, 1]] = np.maximum(width[idx[:, 0], idx[:, 1]], wid)
        if depth < max_depth:
            for _ in range(int(rng.integers(1, 4))):
                k = int(rng.integers(len(pts) // 4, max(len(pts) // 4 + 1, len(pts) - 1)))
                stack.append((pts[k], head + rng.choice([-1, 1]) * rng.uniform(0.4, 1.3),
                              int(length * rng.uniform(0.3, 0.7)), wid[k] * rng.uniform(0.6, 0.9), depth + 1))
    dist, inds = ndi.distance_transform_edt(~centre, return_indices=True)
    return dist <= width[inds[0], inds[1]]


def folded_region(rng: np.random.Generator, shape: tuple[int, int], scale: float) -> np.ndarray:
    """A large region with deep folds (like cerebral white matter): band-pass noise ridges in a blob."""
    outer = deformed_blob(rng, shape, scale * 1.5)
    band = smooth_noise(rng, shape, rng.uniform(2.5, 5.0)) - 0.6 * smooth_noise(rng, shape, 10.0)
    core = ndi.binary_erosion(outer, iterations=int(rng.integers(3, 10)))
    mask = outer & ((band > rng.uniform(-0.4, 0.3)) | core)
    lab, n = ndi.label(mask)
    if n == 0:
        return mask
    return lab == (np.argmax(np.bincount(lab.ravel())[1:]) + 1)


SHAPES = ("superellipse", "deformed_blob", "noise_blob", "ring", "vessel", "thick_tree", "folded")
SHAPE_P = np.array([0.18, 0.2, 0.12, 0.08, 0.18, 0.12, 0.12])


def random_shape(rng: np.random.Generator, shape: tuple[int, int], kind: str | None = None) -> np.ndarray:
    kind = kind or str(rng.choice(SHAPES, p=SHAPE_P))
    size = float(min(shape))
    scale = size * float(np.exp(rng.uniform(np.log(0.04), np.log(0.45))))
    if kind == "superellipse":
        return superellipse(rng, shape, scale)
    if kind == "deformed_blob":
        return deformed_blob(rng, shape, scale)
    if kind == "noise_blob":
        return noise_blob(rng, shape, max(scale, 0.15 * size))
    if kind == "ring":
        return ring(rng, shape, max(scale, 0.1 * size))
    if kind == "vessel":
        return tree(rng, shape, thick=False)
    if kind == "thick_tree":
        return tree(rng, shape, thick=True)
    return folded_region(rng, shape, max(scale, 0.25 * size))


def random_label_map(rng: np.random.Generator, shape: tuple[int, int]) -> np.ndarray:
    """Background split into 1-4 tissue regions, then 2-7 objects painted in a random order."""
    labels = np.zeros(shape, dtype=np.int32)
    n_regions = int(rng.integers(1, 5))
    if n_regions > 1:
        field = smooth_noise(rng, shape, rng.uniform(8, 30))
        cuts = np.quantile(field, np.sort(rng.uniform(0.1, 0.9, n_regions - 1)))
        labels = np.digitize(field, cuts).astype(np.int32)
    next_id = n_regions
    for _ in range(int(rng.integers(2, 8))):
        m = random_shape(rng, shape)
        if m.sum() < 4:
            continue
        labels[m] = next_id
        next_id += 1
    return labels


@dataclass
class Appearance:
    """How labels look: per-label mean and texture, and the global imaging effects."""

    means: np.ndarray
    textures: np.ndarray
    tex_sigma: float
    blur: float
    bias: float
    noise: float
    gamma: float
    invert: bool
    low: float
    high: float
    aniso: tuple[int, int] | None


def random_appearance(rng: np.random.Generator, n_labels: int) -> Appearance:
    means = rng.uniform(0, 1, n_labels)
    if rng.random() < 0.3:  # neighbours of similar brightness: hard, low-contrast boundaries
        base = rng.uniform(0.2, 0.8)
        close = rng.random(n_labels) < 0.4
        means[close] = base + rng.normal(0, 0.06, close.sum())
    low, high = (0.0, 1.0)
    if rng.random() < 0.15:  # low contrast
        low = rng.uniform(0.2, 0.6)
        high = low + rng.uniform(0.1, 0.3)
    aniso = None
    if rng.random() < 0.2:
        aniso = (int(rng.integers(0, 2)), int(rng.integers(2, 6)))
    return Appearance(
        means=means.astype(np.float32),
        textures=rng.uniform(0, 0.12, n_labels).astype(np.float32) * (rng.random(n_labels) < 0.7),
        tex_sigma=float(rng.uniform(0.5, 3.0)),
        blur=float(rng.uniform(0, 1.5)),
        bias=float(rng.uniform(0, 0.35)),
        noise=float(np.exp(rng.uniform(np.log(0.004), np.log(0.12)))),
        gamma=float(np.exp(rng.uniform(-0.5, 0.5))),
        invert=bool(rng.random() < 0.1),
        low=low,
        high=high,
        aniso=aniso,
    )


def render(rng: np.random.Generator, labels: np.ndarray, app: Appearance,
           bias_field: np.ndarray | None = None) -> np.ndarray:
    """Label map -> float32 image in [0, 1]."""
    shape = labels.shape
    lab = np.clip(labels, 0, len(app.means) - 1)
    img = app.means[lab]
    tex = smooth_noise(rng, shape, app.tex_sigma)
    img = img + app.textures[lab] * tex
    if app.blur > 0.3:
        img = ndi.gaussian_filter(img, app.blur)
    if bias_field is None:
        bias_field = smooth_noise(rng, shape, 0.4 * min(shape))
    img = img * np.exp(app.bias * bias_field)
    img = img + rng.standard_normal(shape).astype(np.float32) * app.noise
    img = np.clip(img, 0, 1) ** app.gamma
    if app.invert:
        img = 1.0 - img
    img = app.low + img * (app.high - app.low)
    return np.clip(img, 0, 1).astype(np.float32)


def anisotropic(arr: np.ndarray, axis: int, factor: int, order: int) -> np.ndarray:
    """Keep every ``factor``-th line along ``axis`` and stretch back: a thick-slice reformat."""
    sl = [slice(None), slice(None)]
    sl[axis] = slice(0, None, factor)
    small = arr[tuple(sl)]
    zoom = [1.0, 1.0]
    zoom[axis] = arr.shape[axis] / small.shape[axis]
    out = ndi.zoom(small, zoom, order=order, mode="nearest")
    fixed = np.zeros_like(arr)
    h, w = min(out.shape[0], arr.shape[0]), min(out.shape[1], arr.shape[1])
    fixed[:h, :w] = out[:h, :w]
    return fixed


def make_slice(rng: np.random.Generator, size: int = 128) -> SynthSlice:
    shape = (size, size)
    labels = random_label_map(rng, shape)
    app = random_appearance(rng, int(labels.max()) + 1)
    if app.aniso is not None:
        labels = anisotropic(labels, app.aniso[0], app.aniso[1], order=0)
    image = render(rng, labels, app)
    if app.aniso is not None:
        image = anisotropic(image, app.aniso[0], app.aniso[1], order=1)
    return SynthSlice(image=image, labels=labels)


def pick_target(rng: np.random.Generator, labels: np.ndarray, min_area: int = 12,
                whole_label_p: float = 0.0) -> np.ndarray | None:
    """One object: a connected component of a random label (sometimes the whole label)."""
    ids, counts = np.unique(labels, return_counts=True)
    total = labels.size
    ok = ids[(counts >= min_area) & (counts <= 0.9 * total)]
    if len(ok) == 0:
        return None
    lid = rng.choice(ok)
    mask = labels == lid
    if rng.random() < whole_label_p:
        return mask
    comp, n = ndi.label(mask)
    sizes = np.bincount(comp.ravel())[1:]
    good = np.flatnonzero(sizes >= min_area) + 1
    if len(good) == 0:
        return None
    w = sizes[good - 1].astype(float)  # by area: large structures are what single clicks must fill
    return comp == rng.choice(good, p=w / w.sum())


def boundary_contrast(image: np.ndarray, target: np.ndarray) -> float:
    """Mean intensity step across the target's border, in units of the local spread."""
    ring = ndi.binary_dilation(target, iterations=3) & ~target
    if not ring.any():
        return np.inf
    inside, outside = image[target], image[ring]
    spread = 0.5 * (inside.std() + outside.std()) + 1e-3
    return float(abs(inside.mean() - outside.mean()) / spread)


def random_deformation(rng: np.random.Generator, shape: tuple[int, int], amount: float) -> np.ndarray:
    """A smooth displacement field (2, H, W) of about ``amount`` pixels, plus a small shift."""
    rr, cc = _grid(shape)
    dr = smooth_noise(rng, shape, rng.uniform(8, 24)) * amount + rng.normal(0, amount / 2)
    dc = smooth_noise(rng, shape, rng.uniform(8, 24)) * amount + rng.normal(0, amount / 2)
    return np.stack([rr + dr, cc + dc])
