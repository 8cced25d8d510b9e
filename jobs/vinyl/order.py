"""Cut order: inside first, then as little blade travel as possible.

Rules, in order:

1. A path is cut only after every path inside it (holes before the letter around them,
   letters before the weeding border): a piece freed from the roll can shift, and its
   holes would then be cut in the wrong place.
2. Among the paths allowed next, the nearest (greedy nearest neighbour on a k-d tree),
   open paths entered from either end, closed paths from their nearest vertex.
3. 2-opt: reverse any stretch of the order that shortens travel, unless the stretch
   holds a path and one inside it (that would break rule 1).
4. Each closed path's start vertex is chosen again between its neighbours; each open
   path's direction too. Steps 3–4 repeat while they gain.

Pure: paths in, paths out (rotated or reversed copies), travel figures alongside.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from jobs.vinyl.geometry import CutPath, Points

WORK_LIMIT = 4_000_000
"""About half a second of 2-opt on a small computer; real lettering converges sooner."""


@dataclass(frozen=True)
class OrderStats:
    travel_mm: float
    """Blade-up travel between paths (not counting the move from the start point)."""
    lead_mm: float
    """From the start point to the first path."""


def travel(paths: list[CutPath], start: tuple[float, float] | None = None) -> OrderStats:
    """Blade-up travel of ``paths`` cut as given (end of each to start of the next)."""
    if not paths:
        return OrderStats(0.0, 0.0)
    ends = np.array([p.points[-1] for p in paths[:-1]]).reshape(-1, 2)
    starts = np.array([p.points[0] for p in paths[1:]]).reshape(-1, 2)
    gap = float(np.hypot(*(starts - ends).T).sum()) if len(ends) else 0.0
    lead = 0.0 if start is None else float(np.hypot(*(paths[0].points[0] - np.array(start))))
    return OrderStats(gap, lead)


def order(
    paths: list[CutPath],
    parent: list[int],
    start: tuple[float, float] = (0.0, 0.0),
    work: int = WORK_LIMIT,
    around: list[list[int]] | None = None,
) -> list[CutPath]:
    """``paths`` in cutting order (see the module doc). ``parent[i]`` is the closed path
    directly around path ``i`` (-1 for none); ``around[i]``, when given, is every closed
    path around it (overlapping shapes can both hold a contour, and neither is the
    other's parent). ``work`` caps the 2-opt effort (pairs of positions looked at): a
    count, not a clock, so the same file always gives the same order and the same
    bytes."""
    n = len(paths)
    if n == 0:
        return []
    if around is None:
        around = chains(parent)
    budget = [work]
    loops = [p.points[:-1] if p.closed else p.points for p in paths]
    seq, entry, flipped = _greedy(paths, loops, around, np.array(start, dtype=float))
    anc_d, anc_a = _ancestor_pairs(around)
    for _ in range(20):
        gained = _reenter(paths, loops, seq, entry, flipped, start)
        gained += _two_opt(paths, loops, seq, entry, flipped, anc_d, anc_a, start, budget)
        if gained < 1e-6 or budget[0] <= 0:
            break
    _reenter(paths, loops, seq, entry, flipped, start)
    out = []
    for k, i in enumerate(seq):
        p = paths[i]
        if p.closed:
            loop = np.roll(loops[i], -int(entry[k]), axis=0)
            pts = np.vstack([loop, loop[:1]])
        else:
            pts = p.points[::-1].copy() if flipped[k] else p.points
        out.append(replace(p, points=pts))
    return out


def chains(parent: list[int]) -> list[list[int]]:
    """Every path around each path, from the parent links."""
    out: list[list[int]] = []
    for i in range(len(parent)):
        up, p = [], parent[i]
        while p >= 0 and len(up) <= len(parent):
            up.append(p)
            p = parent[p]
        out.append(up)
    return out


def _greedy(
    paths: list[CutPath], loops: list[Points], around: list[list[int]], start: NDArray[np.float64]
) -> tuple[list[int], list[int], list[bool]]:
    # Imported here: scipy costs ~30 MB, and every process that imports the analyzer
    # registry (embroidery workers too) would pay for it.
    from scipy.spatial import cKDTree

    n = len(paths)
    waiting = np.zeros(n, dtype=np.int64)  # paths still to cut inside each path
    for ups in around:
        for up in ups:
            waiting[up] += 1
    owner_parts, vertex_parts = [], []
    for i, p in enumerate(paths):
        if p.closed:
            owner_parts.append(np.full(len(loops[i]), i))
            vertex_parts.append(np.arange(len(loops[i])))
        else:
            owner_parts.append(np.array([i, i]))
            vertex_parts.append(np.array([0, -1]))  # -1: enter from the far end
    owner = np.concatenate(owner_parts)
    vertex = np.concatenate(vertex_parts)
    pts = np.concatenate([loops[i] if p.closed else p.points[[0, -1]] for i, p in enumerate(paths)])
    done = np.zeros(n, dtype=bool)
    alive = np.arange(len(pts))
    tree = cKDTree(pts)
    dead_points = 0
    seq: list[int] = []
    entry: list[int] = []
    flipped: list[bool] = []
    pos = start
    while len(seq) < n:
        if dead_points > len(alive) // 2:
            keep = ~done[owner[alive]]
            alive = alive[keep]
            tree = cKDTree(pts[alive])
            dead_points = 0
        k = 16
        choice = -1
        while choice < 0:
            kk = min(k, len(alive))
            _, idx = tree.query(pos, k=kk)
            idx = np.atleast_1d(idx)
            cand = alive[idx[idx < len(alive)]]
            ok = ~done[owner[cand]] & (waiting[owner[cand]] == 0)
            if ok.any():
                choice = int(cand[int(np.argmax(ok))])
            elif kk >= len(alive):
                # Only blocked paths are left near: cannot happen with a forest, but be safe.
                free = np.nonzero(~done & (waiting == 0))[0]
                i = int(free[0])
                choice = int(np.nonzero(owner == i)[0][0])
            k *= 4
        i = int(owner[choice])
        done[i] = True
        dead_points += len(loops[i]) if paths[i].closed else 2
        for up in around[i]:
            waiting[up] -= 1
        seq.append(i)
        if paths[i].closed:
            v = int(vertex[choice])
            entry.append(v)
            flipped.append(False)
            pos = loops[i][v]
        else:
            flip = int(vertex[choice]) == -1
            entry.append(0)
            flipped.append(flip)
            pos = paths[i].points[0] if flip else paths[i].points[-1]
    return seq, entry, flipped


def _ancestor_pairs(around: list[list[int]]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    d = [i for i, ups in enumerate(around) for _ in ups]
    a = [up for ups in around for up in ups]
    return np.array(d, dtype=np.intp), np.array(a, dtype=np.intp)


def _ends(
    paths: list[CutPath], loops: list[Points], seq: list[int], entry: list[int], flipped: list[bool]
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    s = np.empty((len(seq), 2))
    e = np.empty((len(seq), 2))
    for k, i in enumerate(seq):
        if paths[i].closed:
            s[k] = e[k] = loops[i][entry[k]]
        else:
            a, b = paths[i].points[0], paths[i].points[-1]
            s[k], e[k] = (b, a) if flipped[k] else (a, b)
    return s, e


def _two_opt(
    paths: list[CutPath],
    loops: list[Points],
    seq: list[int],
    entry: list[int],
    flipped: list[bool],
    anc_d: NDArray[np.intp],
    anc_a: NDArray[np.intp],
    start: tuple[float, float],
    budget: list[int],
) -> float:
    """Reversing positions i..j replaces the gaps (i-1 -> i) and (j -> j+1) by
    (i-1 -> exit of j) and (entry of i -> j+1); every row i is scanned over all j at
    once (points as complex numbers: distances are ``abs``)."""
    n = len(seq)
    if n < 3:
        return 0.0
    s2, e2 = _ends(paths, loops, seq, entry, flipped)
    sc = s2[:, 0] + 1j * s2[:, 1]
    ec = e2[:, 0] + 1j * e2[:, 1]
    origin = complex(start[0], start[1])
    gap = np.abs(ec[:-1] - sc[1:])
    nested = len(anc_d) > 0
    gained = 0.0
    improved = True
    while improved and budget[0] > 0:
        improved = False
        last = _latest_inside(seq, anc_d, anc_a, len(paths)) if nested else None
        for i in range(n - 1):
            jmax = n - 1
            if last is not None:
                blocked = np.flatnonzero(last[i + 1 :] >= i)
                if len(blocked):
                    jmax = i + int(blocked[0])
                if jmax <= i:
                    continue
            budget[0] -= jmax - i + 50  # numpy's fixed cost per row counts too
            prev = ec[i - 1] if i > 0 else origin
            here = abs(prev - sc[i])
            best_j, best = -1, -1e-9
            hi = min(jmax, n - 2)
            if hi > i:
                delta = np.abs(prev - ec[i + 1 : hi + 1]) + np.abs(sc[i] - sc[i + 2 : hi + 2])
                delta -= gap[i + 1 : hi + 1] + here
                k = int(np.argmin(delta))
                if delta[k] < best:
                    best_j, best = i + 1 + k, float(delta[k])
            if jmax == n - 1:
                tail = abs(prev - ec[n - 1]) - here
                if tail < best:
                    best_j, best = n - 1, tail
            if best_j < 0:
                if budget[0] <= 0:
                    break
                continue
            j = best_j
            seq[i : j + 1] = seq[i : j + 1][::-1]
            entry[i : j + 1] = entry[i : j + 1][::-1]
            flipped[i : j + 1] = [
                (not f) if not paths[seq[i + k]].closed else f
                for k, f in enumerate(flipped[i : j + 1][::-1])
            ]
            sc[i : j + 1], ec[i : j + 1] = ec[i : j + 1][::-1].copy(), sc[i : j + 1][::-1].copy()
            gap[i:j] = gap[i:j][::-1].copy()
            if i > 0:
                gap[i - 1] = abs(ec[i - 1] - sc[i])
            if j < n - 1:
                gap[j] = abs(ec[j] - sc[j + 1])
            gained -= best
            improved = True
            if nested:
                last = _latest_inside(seq, anc_d, anc_a, len(paths))
            if budget[0] <= 0:
                break
    return gained


def _latest_inside(
    seq: list[int], anc_d: NDArray[np.intp], anc_a: NDArray[np.intp], total: int
) -> NDArray[np.intp]:
    """For each position: the latest position of a path lying inside that one."""
    pos = np.empty(total, dtype=np.intp)
    pos[np.array(seq)] = np.arange(len(seq))
    last = np.full(len(seq), -1, dtype=np.intp)
    np.maximum.at(last, pos[anc_a], pos[anc_d])
    return last


def _reenter(
    paths: list[CutPath],
    loops: list[Points],
    seq: list[int],
    entry: list[int],
    flipped: list[bool],
    start: tuple[float, float],
) -> float:
    """Pick each closed path's start vertex and each open path's direction again,
    given its neighbours in the order."""
    s, e = _ends(paths, loops, seq, entry, flipped)
    gained = 0.0
    n = len(seq)
    for k, i in enumerate(seq):
        prev = e[k - 1] if k > 0 else np.array(start, dtype=float)
        nxt = s[k + 1] if k < n - 1 else None
        if paths[i].closed:
            loop = loops[i]
            cost = np.hypot(*(loop - prev).T)
            if nxt is not None:
                cost = cost + np.hypot(*(loop - nxt).T)
            v = int(np.argmin(cost))
            old = float(cost[entry[k]])
            if cost[v] < old - 1e-9:
                gained += old - float(cost[v])
                entry[k] = v
                s[k] = e[k] = loop[v]
        else:
            a, b = paths[i].points[0], paths[i].points[-1]
            tail_a = np.hypot(*(b - nxt)) if nxt is not None else 0.0
            tail_b = np.hypot(*(a - nxt)) if nxt is not None else 0.0
            keep = np.hypot(*(prev - a)) + tail_a
            swap = np.hypot(*(prev - b)) + tail_b
            want = bool(swap < keep - 1e-9)
            cur = flipped[k]
            if want != cur:
                gained += float(abs(keep - swap))
                flipped[k] = want
                s[k], e[k] = (b, a) if want else (a, b)
    return gained
