"""Drawings that reach past the slice's edge, cut to the slice.

A box dragged around an organ at the image's border, or a lasso or a stroke that overshoots it, is
what a hand does; the part outside says nothing, and refusing the whole drawing (the prompt file's
rule: every coordinate within ``-0.5 .. size - 0.5``) would throw the rest away. The widget's tools
cut each drawing to the slice before it becomes a prompt; the prompt file and the Python API keep
the strict check, where a coordinate outside is a mistake to report.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from napari_medseg.core.prompts import Coord


def _limits(shape: tuple[int, int]) -> tuple[float, float, float, float]:
    rows, cols = shape
    return -0.5, rows - 0.5, -0.5, cols - 0.5


def on_slice(point: Coord, shape: tuple[int, int]) -> bool:
    """Whether a (row, col) point lies on a slice of ``shape`` (the prompt check's -0.5 .. size - 0.5)."""
    r_min, r_max, c_min, c_max = _limits(shape)
    return r_min <= point[0] <= r_max and c_min <= point[1] <= c_max


def polyline_length(points: Sequence[Coord]) -> float:
    """A stroke's length in pixels (0 for a dot)."""
    return float(sum(np.hypot(b[0] - a[0], b[1] - a[1]) for a, b in zip(points[:-1], points[1:], strict=True)))


def clip_box(lo: Coord, hi: Coord, shape: tuple[int, int]) -> tuple[Coord, Coord] | None:
    """The box from ``lo`` to ``hi`` (row, col corners) cut to a slice of ``shape``; None outside it."""
    r_min, r_max, c_min, c_max = _limits(shape)
    r0, r1 = max(min(lo[0], hi[0]), r_min), min(max(lo[0], hi[0]), r_max)
    c0, c1 = max(min(lo[1], hi[1]), c_min), min(max(lo[1], hi[1]), c_max)
    if r0 >= r1 or c0 >= c1:
        return None
    return (r0, c0), (r1, c1)


def clip_polygon(vertices: Sequence[Coord], shape: tuple[int, int]) -> list[Coord]:
    """A closed polygon cut to the slice (Sutherland-Hodgman against its four edges); fewer than three
    vertices when nothing of it lies on the slice."""
    limits = _limits(shape)
    r_min, r_max, c_min, c_max = limits
    edges = ((0, r_min, True), (0, r_max, False), (1, c_min, True), (1, c_max, False))
    out = [(float(r), float(c)) for r, c in vertices]
    for axis, limit, keep_above in edges:
        if not out:
            break

        def inside(p: Coord, axis: int = axis, limit: float = limit, keep_above: bool = keep_above) -> bool:
            return p[axis] >= limit if keep_above else p[axis] <= limit

        source, out = out, []
        for i, p in enumerate(source):
            q = source[i - 1]  # the edge q -> p
            if inside(p):
                if not inside(q):
                    out.append(_crossing(q, p, axis, limit))
                out.append(p)
            elif inside(q):
                out.append(_crossing(q, p, axis, limit))
    return [_within(p, limits) for p in out]


def clip_polyline(points: Sequence[Coord], shape: tuple[int, int]) -> list[list[Coord]]:
    """A stroke cut to the slice: its runs on the slice, each ending where the stroke crosses the
    edge (a stroke that leaves and comes back gives two runs, not a jump across)."""
    limits = _limits(shape)

    def inside(p: Coord) -> bool:
        return on_slice(p, shape)

    pts = [(float(r), float(c)) for r, c in points]
    runs: list[list[Coord]] = []
    current: list[Coord] = []
    for i, p in enumerate(pts):
        if i == 0:
            if inside(p):
                current.append(p)
            continue
        segment = _clip_segment(pts[i - 1], p, limits)
        if segment is None:  # this step lies wholly outside
            if current:
                runs.append(current)
                current = []
            continue
        a, b = segment
        if not current:
            current.append(a)
        current.append(b)
        if not inside(p):  # left the slice at b
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


def _crossing(q: Coord, p: Coord, axis: int, limit: float) -> Coord:
    """Where the segment q -> p crosses the line ``coordinate[axis] == limit``."""
    t = (limit - q[axis]) / (p[axis] - q[axis])
    point = (q[0] + t * (p[0] - q[0]), q[1] + t * (p[1] - q[1]))
    return (limit, point[1]) if axis == 0 else (point[0], limit)


def _within(p: Coord, limits: tuple[float, float, float, float]) -> Coord:
    """``p`` held inside the limits: an interpolated end may land a rounding error past the edge."""
    r_min, r_max, c_min, c_max = limits
    return min(max(p[0], r_min), r_max), min(max(p[1], c_min), c_max)


def _clip_segment(a: Coord, b: Coord, limits: tuple[float, float, float, float]) -> tuple[Coord, Coord] | None:
    """The part of segment a -> b inside the rectangle (Liang-Barsky), or None."""
    r_min, r_max, c_min, c_max = limits
    dr, dc = b[0] - a[0], b[1] - a[1]
    t0, t1 = 0.0, 1.0
    for p, q in ((-dr, a[0] - r_min), (dr, r_max - a[0]), (-dc, a[1] - c_min), (dc, c_max - a[1])):
        if p == 0:
            if q < 0:
                return None
            continue
        t = q / p
        if p < 0:
            t0 = max(t0, t)
        else:
            t1 = min(t1, t)
        if t0 > t1:
            return None
    return _within((a[0] + t0 * dr, a[1] + t0 * dc), limits), _within((a[0] + t1 * dr, a[1] + t1 * dc), limits)
