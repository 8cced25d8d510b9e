"""Plane geometry for cut paths, in millimetres. Pure functions over numpy arrays."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

Points = NDArray[np.float64]

CLOSE_EPS_MM = 1e-3
"""A path ending this close to its start is closed (files often omit ``z``)."""


@dataclass
class CutPath:
    points: Points
    """(N, 2), N ≥ 2. A closed path repeats its first point at the end."""
    closed: bool
    source: str = ""
    """Where it came from (element id), for messages."""
    kind: str = "design"
    """design | border | weeding | lead_in."""


@dataclass
class Drawing:
    """What an SVG asks to cut, in mm, y down (SVG's frame)."""

    paths: list[CutPath] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    details: dict[str, object] = field(default_factory=dict)


def clean(points: Points, closed: bool) -> tuple[Points, bool] | None:
    """Drop repeated points; decide closedness; None when nothing is left to cut."""
    if len(points) < 2:
        return None
    step = np.hypot(*(np.diff(points, axis=0).T))
    keep = np.concatenate([[True], step > 1e-9])
    pts = points[keep]
    if len(pts) < 2:
        return None
    if closed or np.hypot(*(pts[-1] - pts[0])) < CLOSE_EPS_MM:
        if np.hypot(*(pts[-1] - pts[0])) < CLOSE_EPS_MM:
            pts = pts.copy()
            pts[-1] = pts[0]
        else:
            pts = np.vstack([pts, pts[:1]])
        if len(pts) < 4:  # a closed path needs at least a triangle to enclose anything
            return (pts, False) if len(pts) >= 2 else None
        return pts, True
    return pts, False


def length(points: Points) -> float:
    return float(np.hypot(*(np.diff(points, axis=0).T)).sum())


def signed_area(points: Points) -> float:
    x, y = points[:, 0], points[:, 1]
    return float(0.5 * (np.dot(x[:-1], y[1:]) - np.dot(x[1:], y[:-1])))


def bbox(points: Points) -> tuple[float, float, float, float]:
    lo = points.min(axis=0)
    hi = points.max(axis=0)
    return float(lo[0]), float(lo[1]), float(hi[0]), float(hi[1])


def bounds(paths: list[CutPath]) -> tuple[float, float, float, float] | None:
    if not paths:
        return None
    boxes = np.array([bbox(p.points) for p in paths])
    return (
        float(boxes[:, 0].min()),
        float(boxes[:, 1].min()),
        float(boxes[:, 2].max()),
        float(boxes[:, 3].max()),
    )


def winding(pts: Points, poly: Points) -> NDArray[np.int64]:
    """Winding number of each point of ``pts`` (M, 2) around the closed ``poly``."""
    a = poly[:-1]
    b = poly[1:]
    px = pts[:, 0][:, None]
    py = pts[:, 1][:, None]
    cross = (b[:, 0] - a[:, 0]) * (py - a[:, 1]) - (px - a[:, 0]) * (b[:, 1] - a[:, 1])
    up = (a[:, 1] <= py) & (b[:, 1] > py) & (cross > 0)
    down = (a[:, 1] > py) & (b[:, 1] <= py) & (cross < 0)
    w: NDArray[np.int64] = (up.sum(axis=1) - down.sum(axis=1)).astype(np.int64)
    return w


def inside(pts: Points, poly: Points) -> NDArray[np.bool_]:
    """Even-odd containment (for simple contours the same as non-zero)."""
    a = poly[:-1]
    b = poly[1:]
    px = pts[:, 0][:, None]
    py = pts[:, 1][:, None]
    straddle = (a[:, 1] > py) != (b[:, 1] > py)
    with np.errstate(divide="ignore", invalid="ignore"):
        xcross = a[:, 0] + (py - a[:, 1]) * (b[:, 0] - a[:, 0]) / (b[:, 1] - a[:, 1])
    hits = straddle & (px < xcross)
    odd: NDArray[np.bool_] = hits.sum(axis=1) % 2 == 1
    return odd


def _probes(points: Points) -> Points:
    n = len(points) - 1 if len(points) > 2 else len(points)
    idx = sorted({0, n // 3, (2 * n) // 3})
    return points[idx]


def enclosing(paths: list[CutPath]) -> list[list[int]]:
    """For every path, every closed path that contains it (largest first). Overlapping
    shapes can both contain a contour without either containing the other: the cut
    order must know about both, not only the smallest."""
    n = len(paths)
    around: list[list[int]] = [[] for _ in range(n)]
    if n == 0:
        return around
    boxes = np.array([bbox(p.points) for p in paths])
    closed = np.array([p.closed for p in paths], dtype=bool)
    areas = np.array([abs(signed_area(p.points)) if p.closed else 0.0 for p in paths])
    box_area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    eps = 1e-9
    for a in sorted(np.flatnonzero(closed).tolist(), key=lambda i: -areas[i]):
        ax0, ay0, ax1, ay1 = boxes[a]
        cand = np.nonzero(
            (boxes[:, 0] >= ax0 - eps)
            & (boxes[:, 1] >= ay0 - eps)
            & (boxes[:, 2] <= ax1 + eps)
            & (boxes[:, 3] <= ay1 + eps)
            & (box_area <= box_area[a])
        )[0]
        cand = cand[(cand != a) & ((areas[cand] < areas[a]) | ~closed[cand])]
        poly = paths[a].points
        for c in cand.tolist():
            probes = _probes(paths[c].points)
            if inside(probes, poly).sum() * 2 > len(probes):
                around[c].append(a)
    return around


def nesting(
    paths: list[CutPath], around: list[list[int]] | None = None
) -> tuple[list[int], list[int]]:
    """(parent, depth) of every path: the parent is the smallest closed path that
    contains it (-1 for none); depth counts the parents around it. ``around`` is
    :func:`enclosing`'s answer when the caller already has it."""
    if around is None:
        around = enclosing(paths)
    # ``around`` lists containers largest first: the last is the smallest.
    parent = [a[-1] if a else -1 for a in around]
    n = len(paths)
    depth = [0] * n
    for i in range(n):
        d, p = 0, parent[i]
        while p >= 0 and d <= n:
            d += 1
            p = parent[p]
        depth[i] = d
    return parent, depth


def distance_to_polyline(pts: Points, poly: Points) -> NDArray[np.float64]:
    """Shortest distance from each point to the polyline ``poly``."""
    a = poly[:-1]
    d = poly[1:] - a
    dd = (d * d).sum(axis=1)
    dd[dd == 0] = 1e-30
    best = np.full(len(pts), np.inf)
    chunk = max(1, 2_000_000 // max(1, len(a)))
    for s in range(0, len(pts), chunk):
        p = pts[s : s + chunk]
        t = ((p[:, None, :] - a[None]) * d[None]).sum(axis=2) / dd
        t = np.clip(t, 0, 1)
        proj = a[None] + t[:, :, None] * d[None]
        dist = np.hypot(*(p[:, None, :] - proj).transpose(2, 0, 1))
        best[s : s + chunk] = dist.min(axis=1)
    return best


def resample(points: Points, step: float) -> Points:
    """Points along the polyline no more than ``step`` apart (vertices kept)."""
    seg = np.diff(points, axis=0)
    lens = np.hypot(seg[:, 0], seg[:, 1])
    counts = np.maximum(1, np.ceil(lens / step).astype(np.int64))
    idx = np.repeat(np.arange(len(seg)), counts)
    first = np.cumsum(counts) - counts
    t = (np.arange(len(idx)) - first[idx]) / counts[idx]
    out = points[:-1][idx] + seg[idx] * t[:, None]
    return np.vstack([out, points[-1:]])


def visible_contours(
    contours: list[tuple[NDArray[np.float64], bool]], rule: str
) -> list[tuple[NDArray[np.float64], bool]]:
    """Keep the contours across which a filled shape's fill changes. Under ``nonzero``
    a contour nested in another turning the same way encloses no hole: cutting it would
    cut a filled area in two."""
    closed = [p for p, c in contours if c]
    if len(closed) < 2:
        return contours
    boxes = _Boxes(np.array([(*p.min(axis=0), *p.max(axis=0)) for p in closed]))
    kept: list[tuple[NDArray[np.float64], bool]] = []
    for pts, is_closed in contours:
        if not is_closed:
            kept.append((pts, is_closed))
            continue
        (x0, y0), (x1, y1) = pts.min(axis=0), pts.max(axis=0)
        near = boxes.overlapping(float(x0), float(y0), float(x1), float(y1), margin=2e-3)
        # Alone (only itself near), nothing can hide any of it.
        if len(near) <= 1 or _fill_changes_across(pts, [closed[k] for k in near], rule):
            kept.append((pts, is_closed))
    return kept


class _Boxes:
    """Bounding boxes sorted by their left edge, to find the ones overlapping a box
    without looking at all of them (a path of 45,000 subpaths took 37 s that way)."""

    def __init__(self, boxes: NDArray[np.float64]) -> None:
        self.order = np.argsort(boxes[:, 0], kind="stable")
        self.boxes = boxes[self.order]
        self.widest = float((boxes[:, 2] - boxes[:, 0]).max())

    def overlapping(
        self, x0: float, y0: float, x1: float, y1: float, margin: float
    ) -> NDArray[np.intp]:
        b = self.boxes
        lo = int(np.searchsorted(b[:, 0], x0 - margin - self.widest, side="left"))
        hi = int(np.searchsorted(b[:, 0], x1 + margin, side="right"))
        w = b[lo:hi]
        hit = (w[:, 2] >= x0 - margin) & (w[:, 1] <= y1 + margin) & (w[:, 3] >= y0 - margin)
        found: NDArray[np.intp] = np.sort(self.order[lo:hi][hit])
        return found


def _fill_changes_across(pts: Points, near: list[Points], rule: str) -> bool:
    """Probe both sides of several edges: overlapping contours hide only part of each
    other, and any visible stretch means the contour must be cut."""
    seg = np.diff(pts, axis=0)
    lens = np.hypot(seg[:, 0], seg[:, 1])
    idx = np.unique(np.linspace(0, len(seg) - 1, min(len(seg), 12)).astype(int))
    idx = idx[lens[idx] > 1e-6]
    if len(idx) == 0:
        return False
    mid = pts[idx] + seg[idx] / 2
    normal = np.stack([-seg[idx, 1], seg[idx, 0]], axis=1) / lens[idx, None]
    eps = np.minimum(1e-3, lens[idx] / 4)[:, None]
    probes = np.vstack([mid + normal * eps, mid - normal * eps])
    w = np.zeros(len(probes), dtype=np.int64)
    for poly in near:
        w += winding(probes, poly)
    fill = (w % 2 == 1) if rule == "evenodd" else (w != 0)
    half = len(idx)
    return bool(np.any(fill[:half] != fill[half:]))
