"""Cut order: inside first, then as little blade travel as possible.

Rules, in order:

1. A path is cut only after every path inside it (holes before the letter around them,
   letters before the weeding border): a piece freed from the roll can shift, and its
   holes would then be cut in the wrong place. With overlapping shapes a contour can
   lie inside several closed paths that do not hold each other: it precedes all of them.
2. Among the paths allowed next, the nearest (greedy nearest neighbour on a k-d tree),
   open paths entered from either end, closed paths from their nearest vertex.
3. Local search that never breaks rule 1, repeated while it gains:
   - each closed path's start vertex and each open path's direction are chosen again
     between its neighbours;
   - 2-opt: reverse a stretch of the order, unless the stretch holds a path and one
     inside it;
   - or-opt: move a run of one to three paths elsewhere, turned round or not, but
     never past a path around it (moving later) or before one inside it (moving
     earlier). Holes-first blocks many 2-opt reversals on lettering; moving single
     holes and letters is what frees the order there.

Pure: paths in, paths out (rotated or reversed copies), travel figures alongside.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from jobs.vinyl.geometry import CutPath, Points

SETTLE_PASSES = 3
"""Passes over the start vertices between two rounds of moves; later passes gain
little (stencil page: 0.1 % for three times the time)."""
MOVE_VERTICES = 32
"""Entry vertices looked at when a closed path is moved (evenly spaced; the exact one
is chosen again once it is in place)."""
TRIAL_SLACK = 0.5
"""A move that loses less than this share of what it frees is tried for real, with
the neighbours' entry vertices chosen again."""
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
    start: tuple[float, float] | None = (0.0, 0.0),
    work: int = WORK_LIMIT,
    around: list[list[int]] | None = None,
) -> list[CutPath]:
    """``paths`` in cutting order (see the module doc). ``parent[i]`` is the closed path
    directly around path ``i`` (-1 for none); ``around[i]``, when given, is every closed
    path around it (overlapping shapes can both hold a contour, and neither is the
    other's parent). ``start`` is where the blade is (None: anywhere, the move to the
    first path costs nothing). ``work`` caps the local search effort (positions looked
    at): a count, not a clock, so the same file always gives the same order and the
    same bytes."""
    n = len(paths)
    if n == 0:
        return []
    if around is None:
        around = chains(parent)
    loops = [p.points[:-1] if p.closed else p.points for p in paths]
    origin = None if start is None else np.array(start, dtype=float)
    first = origin if origin is not None else loops[_first_free(around)][0]
    seq, entry, flipped = _greedy(paths, loops, around, first)
    tour = _Tour(paths, loops, seq, entry, flipped, origin, around, work)
    tour.improve()
    out = []
    for k, i in enumerate(tour.seq):
        p = paths[i]
        if p.closed:
            loop = np.roll(loops[i], -int(tour.entry[k]), axis=0)
            pts = np.vstack([loop, loop[:1]])
        else:
            pts = p.points[::-1].copy() if tour.flipped[k] else p.points
        out.append(replace(p, points=pts))
    return out


def _first_free(around: list[list[int]]) -> int:
    """The first path in the file with nothing inside it (where a free start begins)."""
    inner = {up for ups in around for up in ups}
    return next(i for i in range(len(around)) if i not in inner)


def chains(parent: list[int]) -> list[list[int]]:
    """Every path around each path, from the parent links."""
    out: list[list[int]] = []
    for i in range(len(parent)):
        up: list[int] = []
        p = parent[i]
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


class _Tour:
    """The order being improved: path indexes, each closed path's entry vertex, each
    open path's direction, and the start and end point of every position (complex
    numbers, so distances are ``abs``)."""

    def __init__(
        self,
        paths: list[CutPath],
        loops: list[Points],
        seq: list[int],
        entry: list[int],
        flipped: list[bool],
        origin: NDArray[np.float64] | None,
        around: list[list[int]],
        work: int,
    ) -> None:
        self.paths = paths
        self.loops = loops
        self.zloops: list[NDArray[np.complex128]] = [
            (p[:, 0] + 1j * p[:, 1]).astype(np.complex128) if c.closed else np.empty(0, complex)
            for p, c in zip(loops, paths, strict=True)
        ]
        self.seq = seq
        self.entry = entry
        self.flipped = flipped
        self.origin = None if origin is None else complex(origin[0], origin[1])
        self.anc_d, self.anc_a = _ancestor_pairs(around)
        self.budget = work
        self.n = len(seq)
        self.refresh()

    # --- bookkeeping ---------------------------------------------------------------

    def refresh(self) -> None:
        """Ends, gaps and precedence bounds, from scratch."""
        s = np.empty(self.n, dtype=complex)
        e = np.empty(self.n, dtype=complex)
        for k, i in enumerate(self.seq):
            if self.paths[i].closed:
                x, y = self.loops[i][self.entry[k]]
                s[k] = e[k] = complex(x, y)
            else:
                a, b = self.paths[i].points[0], self.paths[i].points[-1]
                if self.flipped[k]:
                    a, b = b, a
                s[k], e[k] = complex(a[0], a[1]), complex(b[0], b[1])
        self.sc, self.ec = s, e
        self.gap = np.abs(e[:-1] - s[1:])
        self.bounds()

    def bounds(self) -> None:
        """Precedence bounds after a change of the order."""
        pos = np.empty(len(self.paths), dtype=np.intp)
        pos[np.array(self.seq)] = np.arange(self.n)
        # For each position: the nearest later position of a path around it, and the
        # latest earlier position of a path inside it.
        self.next_around = np.full(self.n, self.n, dtype=np.intp)
        self.last_inside = np.full(self.n, -1, dtype=np.intp)
        if len(self.anc_d):
            np.minimum.at(self.next_around, pos[self.anc_d], pos[self.anc_a])
            np.maximum.at(self.last_inside, pos[self.anc_a], pos[self.anc_d])

    def lead(self, to: NDArray[np.complex128] | complex) -> NDArray[np.float64] | float:
        """Cost of reaching ``to`` from the start (nothing when the start is free)."""
        if self.origin is None:
            return np.zeros(np.shape(to)) if np.ndim(to) else 0.0
        return np.abs(to - self.origin)

    def total(self) -> float:
        return float(self.gap.sum()) + float(self.lead(self.sc[0]))

    # --- the search ----------------------------------------------------------------

    def improve(self) -> None:
        for _ in range(30):
            gained = self.settle()
            gained += self.two_opt()
            gained += self.settle()
            gained += self.or_opt()
            if gained < 1e-6 or self.budget <= 0:
                break
        self.settle()

    def settle(self) -> float:
        """Start vertices and directions again until they stop gaining (cheap: no
        budget, each pass is linear in the vertices)."""
        total = 0.0
        for _ in range(SETTLE_PASSES):
            gained = self.reenter()
            total += gained
            if gained < 1e-6:
                break
        return total

    def reenter(self) -> float:
        """Pick each closed path's start vertex and each open path's direction again,
        given its neighbours in the order."""
        gained = 0.0
        for k in range(self.n):
            gained += self._reenter_one(k)
        if gained:
            self.gap = np.abs(self.ec[:-1] - self.sc[1:])
        return gained

    def _reenter_one(self, k: int) -> float:
        if not self.paths[self.seq[k]].closed:
            return self._turn_open(k)
        before = self.ec[k - 1] if k > 0 else self.origin
        after = self.sc[k + 1] if k < self.n - 1 else None
        old = _cost(before, self.sc[k]) + _cost(self.sc[k], after)
        cost, v = self._best_entry(k, before, after)
        if cost >= old - 1e-9:
            return 0.0
        self._enter(k, v)
        self._fix_gaps(k - 1, k + 1)
        return old - cost

    def _loop(self, k: int) -> NDArray[np.complex128]:
        return self.zloops[self.seq[k]]

    def _best_entry(
        self, k: int, before: complex | None, after: complex | None
    ) -> tuple[float, int]:
        """The vertex of the closed path at ``k`` that costs least between two points."""
        z = self._loop(k)
        cost = np.abs(z - before) if before is not None else np.zeros(len(z))
        if after is not None:
            cost = cost + np.abs(z - after)
        v = int(np.argmin(cost))
        return float(cost[v]), v

    def _enter(self, k: int, v: int) -> None:
        self.entry[k] = v
        self.sc[k] = self.ec[k] = self._loop(k)[v]

    def _fix_gaps(self, k0: int, k1: int) -> None:
        """Recompute the gaps leaving positions k0..k1."""
        for j in range(max(k0, 0), min(k1, self.n - 2) + 1):
            self.gap[j] = abs(self.ec[j] - self.sc[j + 1])

    def _turn_open(self, k: int) -> float:
        """Choose an open path's direction together with the entry vertices of closed
        neighbours: each alone is a local optimum that can hide a better turn (a line
        inside a frame was left at the frame's far corner)."""
        pts = self.paths[self.seq[k]].points
        a, b = complex(pts[0][0], pts[0][1]), complex(pts[-1][0], pts[-1][1])
        lo = k - 1 if k > 0 and self.paths[self.seq[k - 1]].closed else k
        hi = k + 1 if k < self.n - 1 and self.paths[self.seq[k + 1]].closed else k
        old = self._arrive(lo) + float(self.gap[lo : min(hi + 1, self.n - 1)].sum())
        best = (old - 1e-9, False, -1, -1)
        for turned, head, tail in ((False, a, b), (True, b, a)):
            cost_in, v_in = self._side_before(k, head)
            cost_out, v_out = self._side_after(k, tail)
            if cost_in + cost_out < best[0]:
                best = (cost_in + cost_out, turned, v_in, v_out)
        if best[2] == -1 and best[3] == -1 and best[0] >= old - 1e-9:
            return 0.0
        _, turned, v_in, v_out = best
        self.flipped[k] = turned
        self.sc[k], self.ec[k] = (b, a) if turned else (a, b)
        if v_in >= 0:
            self._enter(k - 1, v_in)
        if v_out >= 0:
            self._enter(k + 1, v_out)
        self._fix_gaps(lo - 1, hi)
        return old - best[0]

    def _side_before(self, k: int, head: complex) -> tuple[float, int]:
        """Cost of arriving at ``head`` in position ``k``, through the best entry of a
        closed path just before it (its vertex, or -1 when it has none to choose)."""
        if k == 0:
            return float(self.lead(head)), -1
        if not self.paths[self.seq[k - 1]].closed:
            return abs(self.ec[k - 1] - head), -1
        before = self.ec[k - 2] if k > 1 else self.origin
        return self._best_entry(k - 1, before, head)

    def _side_after(self, k: int, tail: complex) -> tuple[float, int]:
        if k == self.n - 1:
            return 0.0, -1
        if not self.paths[self.seq[k + 1]].closed:
            return abs(tail - self.sc[k + 1]), -1
        after = self.sc[k + 2] if k + 2 < self.n else None
        return self._best_entry(k + 1, tail, after)

    def two_opt(self) -> float:
        """Reversing positions i..j replaces the gaps (i-1 -> i) and (j -> j+1) by
        (i-1 -> exit of j) and (entry of i -> j+1); every row i is scanned over all j at
        once. A reversal is refused when the stretch holds a path and one inside it."""
        gained = 0.0
        improved = self.n >= 3
        while improved and self.budget > 0:
            improved = False
            for i in range(self.n - 1):
                best_j, best = self._best_reversal(i)
                if best_j >= 0:
                    self._reverse(i, best_j)
                    gained -= best
                    improved = True
                if self.budget <= 0:
                    break
        return gained

    def _best_reversal(self, i: int) -> tuple[int, float]:
        n = self.n
        # The stretch i..j must not hold a path and one inside it: stop before the first
        # position whose inside paths reach back to i.
        blocked = np.flatnonzero(self.last_inside[i + 1 :] >= i)
        jmax = i + int(blocked[0]) if len(blocked) else n - 1
        if jmax <= i:
            return -1, 0.0
        self.budget -= jmax - i + 50  # numpy's fixed cost per row counts too
        here = self._arrive(i)
        best_j, best = -1, -1e-9
        hi = min(jmax, n - 2)
        if hi > i:
            prev_to = self._arrive_at(i, self.ec[i + 1 : hi + 1])
            delta = prev_to + np.abs(self.sc[i] - self.sc[i + 2 : hi + 2])
            delta -= self.gap[i + 1 : hi + 1] + here
            k = int(np.argmin(delta))
            if delta[k] < best:
                best_j, best = i + 1 + k, float(delta[k])
        if jmax == n - 1:
            tail = float(self._arrive_at(i, self.ec[n - 1])) - here
            if tail < best:
                best_j, best = n - 1, tail
        return best_j, best

    def _arrive(self, k: int) -> float:
        """Cost of the move into position ``k`` as the order stands."""
        return float(self.gap[k - 1]) if k > 0 else float(self.lead(self.sc[0]))

    def _arrive_at(
        self, k: int, to: NDArray[np.complex128] | complex
    ) -> NDArray[np.float64] | float:
        """Cost of moving from the end of position ``k - 1`` (or the start) to ``to``."""
        return np.abs(self.ec[k - 1] - to) if k > 0 else self.lead(to)

    def _reverse(self, i: int, j: int) -> None:
        self.seq[i : j + 1] = self.seq[i : j + 1][::-1]
        self.entry[i : j + 1] = self.entry[i : j + 1][::-1]
        self.flipped[i : j + 1] = [
            (not f) if not self.paths[self.seq[i + k]].closed else f
            for k, f in enumerate(self.flipped[i : j + 1][::-1])
        ]
        sc, ec = self.sc, self.ec
        sc[i : j + 1], ec[i : j + 1] = ec[i : j + 1][::-1].copy(), sc[i : j + 1][::-1].copy()
        self.gap[i:j] = self.gap[i:j][::-1].copy()
        if i > 0:
            self.gap[i - 1] = abs(ec[i - 1] - sc[i])
        if j < self.n - 1:
            self.gap[j] = abs(ec[j] - sc[j + 1])
        self.bounds()

    def or_opt(self) -> float:
        """Move runs of 1–3 paths to where they cost least, keeping rule 1."""
        gained = 0.0
        for length in (1, 2, 3):
            i = 0
            while i + length <= self.n and self.budget > 0:
                gain = self._move_run(i, length)
                gained += gain
                i += 1
        return gained

    def _move_run(self, i: int, length: int) -> float:
        n = self.n
        last = i + length - 1
        nxt = self.sc[last + 1] if last + 1 < n else None
        removed = self._arrive(i) + (float(self.gap[last]) if nxt is not None else 0.0)
        closing = float(self._arrive_at(i, nxt)) if nxt is not None else 0.0
        saved = removed - closing
        # Where the run may go: after every path inside it, before every path around it.
        lo = int(self.last_inside[i : last + 1].max())
        hi = int(self.next_around[i : last + 1].min())
        heads, tails, turned = self._run_options(i, last, nested=hi <= last)
        cost, where, option = self._insertion(heads, tails, i, last, lo, hi)
        if where < -1:
            return 0.0
        if saved - cost > 1e-9:
            self._apply_move(i, last, where, option, bool(turned[option]))
            return saved - cost
        if saved - cost < -TRIAL_SLACK * removed:
            return 0.0
        # Nearly worth it with every entry vertex kept: try it with the neighbours'
        # entries chosen again, and undo it unless the whole order is shorter.
        return self._trial(i, last, where, option, bool(turned[option]))

    def _apply_move(self, i: int, last: int, where: int, option: int, turned: bool) -> None:
        if i == last and self.paths[self.seq[i]].closed:
            self._enter(i, option * self._vertex_step(i))
        self._relocate(i, last, where, turned)

    def _trial(self, i: int, last: int, where: int, option: int, turned: bool) -> float:
        self.budget -= self.n
        before = self.total()
        saved = self._snapshot()
        self._apply_move(i, last, where, option, turned)
        at = where + 1 if where < i else where - (last - i)
        for k in sorted({i - 1, i, at - 1, at, at + last - i, at + last - i + 1}):
            if 0 <= k < self.n:
                self._reenter_one(k)
        after = self.total()
        if after < before - 1e-9:
            return before - after
        self._restore(saved)
        return 0.0

    def _snapshot(self) -> tuple[object, ...]:
        return (
            list(self.seq), list(self.entry), list(self.flipped),
            self.sc.copy(), self.ec.copy(), self.gap.copy(),
            self.next_around, self.last_inside,
        )  # fmt: skip

    def _restore(self, saved: tuple[object, ...]) -> None:
        (self.seq, self.entry, self.flipped, self.sc, self.ec, self.gap,
         self.next_around, self.last_inside) = saved  # type: ignore[assignment]  # fmt: skip

    def _vertex_step(self, k: int) -> int:
        return max(1, len(self.loops[self.seq[k]]) // MOVE_VERTICES)

    def _run_options(
        self, i: int, last: int, nested: bool
    ) -> tuple[NDArray[np.complex128], NDArray[np.complex128], NDArray[np.bool_]]:
        """Ways to cut the run once moved: (entry, exit, turned round). A closed path
        alone may be entered at any of its vertices (up to MOVE_VERTICES of them, evenly
        spaced); a run turned round must not hold a path and one around it."""
        if i == last and self.paths[self.seq[i]].closed:
            z = self._loop(i)[:: self._vertex_step(i)]
            return z, z, np.zeros(len(z), dtype=bool)
        heads = [self.sc[i]]
        tails = [self.ec[last]]
        if not nested:
            heads.append(self.ec[last])
            tails.append(self.sc[i])
        return np.array(heads), np.array(tails), np.array([False, True][: len(heads)])

    def _insertion(
        self,
        heads: NDArray[np.complex128],
        tails: NDArray[np.complex128],
        i: int,
        last: int,
        lo: int,
        hi: int,
    ) -> tuple[float, int, int]:
        """Cheapest place and way for the run: between positions p and p+1, p in
        [lo, hi - 1] outside the run (-1 is the very front), entered at ``heads[o]`` and
        left at ``tails[o]``. Returns (added cost, p, o); p = -2 when there is none."""
        n = self.n
        p = np.arange(max(lo, -1), min(hi, n))
        p = p[(p < i - 1) | (p > last)]
        self.budget -= len(p) * len(heads) + 50
        if len(p) == 0:
            return 0.0, -2, 0
        has_next = (p + 1 < n)[:, None]
        frm = self.ec[np.maximum(p, 0)][:, None]
        nxt = self.sc[np.minimum(p + 1, n - 1)][:, None]
        front = (p < 0)[:, None]
        into = np.where(front, self.lead(heads[None, :]), np.abs(frm - heads[None, :]))
        out = np.where(has_next, np.abs(tails[None, :] - nxt), 0.0)
        was = np.where(has_next, np.where(front, self.lead(nxt), np.abs(frm - nxt)), 0.0)
        cost = into + out - was
        k = int(np.argmin(cost))
        row, col = divmod(k, len(heads))
        return float(cost[row, col]), int(p[row]), col

    def _relocate(self, i: int, last: int, where: int, turned: bool) -> None:
        run = np.arange(i, last + 1)
        if turned:
            run = run[::-1]
        rest = np.concatenate([np.arange(0, i), np.arange(last + 1, self.n)])
        at = int(np.count_nonzero(rest <= where))
        perm = np.concatenate([rest[:at], run, rest[at:]])
        flip = np.zeros(self.n, dtype=bool)
        if turned:
            flip[at : at + len(run)] = True
        self.seq = [self.seq[k] for k in perm]
        self.entry = [self.entry[k] for k in perm]
        closed = np.array([self.paths[s].closed for s in self.seq])
        flip &= ~closed
        self.flipped = [bool(self.flipped[k]) ^ bool(f) for k, f in zip(perm, flip, strict=True)]
        sc, ec = self.sc[perm], self.ec[perm]
        self.sc = np.where(flip, ec, sc)
        self.ec = np.where(flip, sc, ec)
        self.gap = np.abs(self.ec[:-1] - self.sc[1:])
        self.bounds()


def _cost(a: complex | None, b: complex | None) -> float:
    return abs(a - b) if a is not None and b is not None else 0.0
