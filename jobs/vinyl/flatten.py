"""Cubic Béziers to polylines, all at once with numpy.

The number of chords per cubic comes from Wang's formula: with
``M = max(|P0 − 2P1 + P2|, |P1 − 2P2 + P3|)``, ``n = ceil(sqrt(3/4 · M / tol))`` chords
keep every point of the curve within ``tol`` of the polyline. Lines (degenerate cubics)
get one chord. Budgets stop files that would explode into millions of points.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

Points = NDArray[np.float64]


class TooComplex(ValueError):
    pass


def chord_counts(ctrl: NDArray[np.float64], tol: float) -> NDArray[np.int64]:
    d1 = ctrl[:, 0] - 2 * ctrl[:, 1] + ctrl[:, 2]
    d2 = ctrl[:, 1] - 2 * ctrl[:, 2] + ctrl[:, 3]
    m = np.maximum(np.hypot(d1[:, 0], d1[:, 1]), np.hypot(d2[:, 0], d2[:, 1]))
    n = np.ceil(np.sqrt(0.75 * m / tol))
    return np.maximum(n, 1).astype(np.int64)


def flatten(ctrls: list[NDArray[np.float64]], tol: float, max_points: int) -> list[Points]:
    """One polyline per ``(segments, 4, 2)`` array, first point included."""
    if not ctrls:
        return []
    seg_per_path = np.array([len(c) for c in ctrls])
    allc = np.concatenate(ctrls)
    n = chord_counts(allc, tol)
    total = int(n.sum()) + len(ctrls)
    if total > max_points:
        raise TooComplex(
            f"the drawing would need {total:,} points at a {tol} mm curve tolerance; "
            f"the limit is {max_points:,}"
        )
    seg = np.repeat(np.arange(len(allc)), n)
    first = np.cumsum(n) - n
    k = np.arange(len(seg)) - first[seg] + 1
    t = (k / n[seg])[:, None]
    u = 1 - t
    c = allc[seg]
    pts = (u * u * u) * c[:, 0] + (3 * u * u * t) * c[:, 1] + (3 * u * t * t) * c[:, 2]
    pts += (t * t * t) * c[:, 3]
    # Pin segment ends exactly: corners stay where the file put them.
    pts[np.cumsum(n) - 1] = allc[:, 3]
    out: list[Points] = []
    seg_end = np.cumsum(seg_per_path)
    pt_end = np.concatenate([[0], np.cumsum(n)])
    start_seg = 0
    for path_i, end_seg in enumerate(seg_end):
        a, b = pt_end[start_seg], pt_end[end_seg]
        poly = np.empty((b - a + 1, 2))
        poly[0] = ctrls[path_i][0, 0]
        poly[1:] = pts[a:b]
        out.append(poly)
        start_seg = end_seg
    return out
