"""Drag-knife compensation, and the model it is tested against.

A drag knife's tip trails the holder's axis by the blade offset ``r``: the tip is
pulled towards the holder and never slides sideways (a tractrix). Commanding the design
itself rounds every corner and cuts short. So the holder is sent ``r`` ahead of the tip
along the current direction, and at a corner it swings on a circle of radius ``r``
around the corner point: the holder moves at right angles to the blade, the tip stays
on the corner, and the blade turns to the new heading in place (the "swivel").

Between paths the blade is up and keeps its heading, so each path starts with the
holder put down ``r`` behind the path's start along that heading and swivelled round:
the tip starts exactly on the design. The very first heading is set by a short
alignment cut (``lead_in_mm``) made outside the design.
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray

from jobs.vinyl.geometry import Points, resample

Vec = NDArray[np.float64]
ARC_STEP = math.radians(20)
"""Swivel arcs are drawn with chords of at most 20°: the tip strays < 0.007 mm for
r = 0.25 mm while the holder runs along one chord (measured with :func:`trail`)."""


def _unit_dirs(points: Points) -> tuple[Points, Vec]:
    seg = np.diff(points, axis=0)
    lens = np.hypot(seg[:, 0], seg[:, 1])
    keep = np.concatenate([[True], lens > 1e-9])
    pts = points[keep]
    seg = np.diff(pts, axis=0)
    lens = np.hypot(seg[:, 0], seg[:, 1])
    return pts, seg / lens[:, None]


def compensate(
    points: Points, r: float, threshold_deg: float, heading: Vec | None
) -> tuple[Points, Vec]:
    """The holder path for a tip path ``points`` (one blade-down stroke), and the
    blade's heading at its end. ``heading`` is the blade's heading before the stroke
    (None: unknown, assume it already points along the first segment)."""
    pts, d = _unit_dirs(points)
    if len(d) == 0:
        h = heading if heading is not None else np.array([1.0, 0.0])
        return pts[:1] + r * h, h
    if r <= 0:
        return pts, d[-1]
    h0 = d[0] if heading is None else heading / np.hypot(*heading)
    prev = np.vstack([h0[None], d[:-1]])  # heading arriving at vertex j
    nxt = d  # heading leaving vertex j
    cross = prev[:, 0] * nxt[:, 1] - prev[:, 1] * nxt[:, 0]
    dot = (prev * nxt).sum(axis=1)
    angle = np.arctan2(cross, dot)
    thr = math.radians(threshold_deg)
    # Corners turning more than the threshold swing on an arc (chords of ≤ ARC_STEP);
    # gentler ones (flattened curves) get one point on the bisector instead of two.
    swing = np.abs(angle) > thr
    steps = np.where(swing, np.ceil(np.abs(angle) / ARC_STEP), 0).astype(np.int64)
    counts = steps + 1
    block = np.repeat(np.arange(len(d)), counts)
    first = np.cumsum(counts) - counts
    q = np.arange(len(block)) - first[block]
    frac = np.where(swing[block], q / np.maximum(steps[block], 1), 0.5)
    theta = angle[block] * frac
    c, s = np.cos(theta), np.sin(theta)
    px, py = prev[block, 0], prev[block, 1]
    rot = np.stack([c * px - s * py, s * px + c * py], axis=1)
    holder = pts[:-1][block] + r * rot
    holder = np.vstack([holder, pts[-1] + r * d[-1]])
    return holder, d[-1]


def trail(holder: Points, tip: Vec, r: float, step: float = 0.005) -> Points:
    """Simulate the trailing tip: the holder follows ``holder`` (blade down) with the
    tip starting at ``tip``; returns the tip's positions every ``step`` mm of holder
    travel."""
    h = resample(holder, step)
    out = np.empty_like(h)
    tx, ty = float(tip[0]), float(tip[1])
    for k in range(len(h)):
        hx, hy = h[k]
        dx, dy = hx - tx, hy - ty
        dist = math.hypot(dx, dy)
        if dist > 1e-12:
            # Rigid blade, no sideways slip: the tip moves along the blade only.
            tx, ty = hx - dx * r / dist, hy - dy * r / dist
        out[k] = (tx, ty)
    return out
