"""Figures of a design: counts, lengths, density, thread and time. Pure numpy.

Conventions, because pyembroidery's own counters mislead (research/embroidery.md §1.2):

* a *stitch* is a needle penetration, a ``STITCH`` record — never ``count_stitches()``;
* extents are those of the needle penetrations only (jump and command positions can lie
  far outside the design);
* between two consecutive penetrations there is either a *stitch* (nothing in between)
  or a *move* (jumps, a trim, a colour change): moves are travel, not thread laid on the
  fabric, even when a reader reports the landing as a long "stitch" after a trim (VP3,
  PCS do);
* a colour block is what pyembroidery calls one (split at colour changes, needle sets and
  colour breaks); blocks without a single stitch (a trailing colour change) are dropped
  and do not count as changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from jobs.embroidery.read import (
    COLOR_BREAK,
    COLOR_CHANGE,
    JUMP,
    NEEDLE_SET,
    STITCH,
    STOP,
    TRIM,
    Design,
    Thread,
)
from jobs.params.embroidery import EmbroideryParams

PALETTE: tuple[tuple[str, str], ...] = (
    ("#1d3f8f", "bleu roi"),
    ("#d22630", "rouge"),
    ("#f2c500", "jaune"),
    ("#1e8a3e", "vert"),
    ("#111111", "noir"),
    ("#f47b20", "orange"),
    ("#7a3e9d", "violet"),
    ("#00a3ad", "turquoise"),
    ("#8b5a2b", "marron"),
    ("#e86aa6", "rose"),
    ("#7f8c8d", "gris"),
    ("#6bbf59", "vert clair"),
)
"""Colours given, in turn, to the blocks of a file that names none (DST, EXP, U01):
a stable picture and operator sheet; the customer's colour chart says the real ones."""

HOT_SPOTS_KEPT = 8


@dataclass
class Block:
    number: int
    """1-based, in stitching order."""
    thread: Thread
    start: int
    """First record of the block."""
    end: int
    stitches: int = 0
    long_stitches: int = 0
    trims: int = 0
    stops: int = 0
    path_mm: float = 0.0
    stitch_seconds: float = 0.0
    trim_seconds: float = 0.0
    stop_seconds: float = 0.0
    change_seconds: float = 0.0
    """Changing to this block's colour (0 for the first block)."""
    thread_m: float = 0.0
    bobbin_m: float = 0.0

    @property
    def seconds(self) -> float:
        return self.stitch_seconds + self.trim_seconds + self.stop_seconds + self.change_seconds

    def as_dict(self) -> dict[str, Any]:
        return {
            "number": self.number,
            **self.thread.as_dict(),
            "stitches": self.stitches,
            "trims": self.trims,
            "stops": self.stops,
            "minutes": round(self.seconds / 60.0, 2),
            "thread_m": round(self.thread_m, 2),
            "bobbin_m": round(self.bobbin_m, 2),
        }


@dataclass
class Figures:
    stitches: int
    jumps: int
    trims: int
    colour_changes: int
    """Changes between blocks that have stitches (what a person or the machine does)."""
    stops: int
    needle_sets: int
    records: int
    extents_mm: tuple[float, float, float, float]
    """min x, min y, max x, max y of the needle penetrations."""
    longest_stitch_mm: float
    longest_jump_mm: float
    untrimmed_jumps: int
    longest_untrimmed_mm: float
    long_stitches: int
    over_max_stitch: int
    short_stitches: int
    path_m: float
    travel_m: float
    thread_m: float
    thread_rule_m: float
    thread_path_m: float
    bobbin_m: float
    unique_colours: int
    manual_changes: int
    max_density: float
    hot_cells: int
    hot_spots: list[dict[str, float]] = field(default_factory=list)
    blocks: list[Block] = field(default_factory=list)
    time_s: dict[str, float] = field(default_factory=dict)

    @property
    def size_mm(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.extents_mm
        return (x1 - x0, y1 - y0)

    @property
    def duration_s(self) -> float:
        return sum(self.time_s.values())


def block_spans(cmds: npt.NDArray[np.int32]) -> list[tuple[int, int, int]]:
    """(start, end, thread index) for every block, empty ones included, numbered as
    pyembroidery's ``get_as_colorblocks`` numbers threads."""
    n = int(cmds.shape[0])
    spans: list[tuple[int, int, int]] = []
    start = 0
    thread = 0
    for pos in np.flatnonzero(np.isin(cmds, (COLOR_CHANGE, NEEDLE_SET, COLOR_BREAK))).tolist():
        command = int(cmds[pos])
        if command == COLOR_BREAK:
            if start != pos:
                spans.append((start, pos, thread))
                thread += 1
            start = pos + 1
        elif command == COLOR_CHANGE:
            spans.append((start, pos + 1, thread))
            thread += 1
            start = pos + 1
        elif start != pos:  # NEEDLE_SET opens the next block
            spans.append((start, pos, thread))
            thread += 1
            start = pos
    if start != n:
        spans.append((start, n, thread))
    return spans


def thread_for(design: Design, index: int) -> Thread:
    if index < len(design.threads):
        return design.threads[index]
    colour, name = PALETTE[index % len(PALETTE)]
    return Thread(colour=colour, name=name, assigned=True)


def compute(design: Design, params: EmbroideryParams) -> Figures:
    cmds = design.commands
    n = len(design)
    is_stitch = cmds == STITCH
    idx = np.flatnonzero(is_stitch)
    x, y = design.x, design.y
    sx, sy = x[idx], y[idx]
    extents = (
        float(sx.min()) / 10,
        float(sy.min()) / 10,
        float(sx.max()) / 10,
        float(sy.max()) / 10,
    )

    # Consecutive needle penetrations: a stitch, or a move when a jump, trim or colour
    # change lies between them.
    cum_jump: npt.NDArray[np.intp] = np.cumsum(cmds == JUMP)
    cum_trim: npt.NDArray[np.intp] = np.cumsum(cmds == TRIM)
    breaks = np.isin(cmds, (COLOR_CHANGE, STOP, NEEDLE_SET, COLOR_BREAK))
    cum_break: npt.NDArray[np.intp] = np.cumsum(breaks)
    a, b = idx[:-1], idx[1:]
    seg = np.hypot(x[b] - x[a], y[b] - y[a]) / 10.0
    axis = np.maximum(np.abs(x[b] - x[a]), np.abs(y[b] - y[a])) / 10.0
    jumps_between = cum_jump[b] - cum_jump[a]
    trims_between = cum_trim[b] - cum_trim[a]
    breaks_between = cum_break[b] - cum_break[a]
    is_move = (jumps_between + trims_between + breaks_between) > 0
    is_seg_stitch = ~is_move
    cut = (trims_between + breaks_between) > 0
    stitch_len = seg[is_seg_stitch]
    move_len = seg[is_move]
    untrimmed = seg[is_move & ~cut]
    untrimmed_long = untrimmed[untrimmed > params.untrimmed_jump_mm]

    max_stitch = params.max_stitch_mm
    over_max = int(np.sum(axis[is_seg_stitch] > max_stitch)) if max_stitch else 0
    long_mask = is_seg_stitch & (seg > params.slow_stitch_mm)

    # Thread on the fabric: stitches, plus moves the machine does not cut.
    carried = np.where(is_seg_stitch | ~cut, seg, 0.0)

    spans = block_spans(cmds)
    blocks = _blocks(design, params, spans, idx, b, seg, long_mask, carried, cmds)
    unique = _unique_colours(blocks)
    manual = _assign_change_times(blocks, params, unique)

    stop_pos = _stops_inside(cmds, is_stitch)
    _add_stops(blocks, stop_pos, params)
    dens, hot_cells, spots = density(sx, sy, params)
    rule_m = sum(bl.stitches for bl in blocks) / 1000.0 * params.thread_m_per_1000
    path_m = float(carried.sum()) / 1000.0
    time = {
        "stitching": sum(bl.stitch_seconds for bl in blocks),
        "trims": sum(bl.trim_seconds for bl in blocks),
        "colour_changes": sum(bl.change_seconds for bl in blocks),
        "stops": sum(bl.stop_seconds for bl in blocks),
        "hooping": params.hooping_s,
    }
    return Figures(
        stitches=int(idx.shape[0]),
        jumps=int(cum_jump[-1]) if n else 0,
        trims=int(cum_trim[-1]) if n else 0,
        colour_changes=max(0, len(blocks) - 1),
        stops=int(stop_pos.shape[0]),
        needle_sets=int(np.sum(cmds == NEEDLE_SET)),
        records=n,
        extents_mm=extents,
        longest_stitch_mm=float(stitch_len.max()) if stitch_len.shape[0] else 0.0,
        longest_jump_mm=float(move_len.max()) if move_len.shape[0] else 0.0,
        untrimmed_jumps=int(untrimmed_long.shape[0]),
        longest_untrimmed_mm=float(untrimmed.max()) if untrimmed.shape[0] else 0.0,
        long_stitches=int(long_mask.sum()),
        over_max_stitch=over_max,
        short_stitches=int(np.sum(stitch_len < params.min_stitch_mm)),
        path_m=float(stitch_len.sum()) / 1000.0,
        travel_m=float(move_len.sum()) / 1000.0,
        thread_m=sum(bl.thread_m for bl in blocks),
        thread_rule_m=rule_m,
        thread_path_m=path_m * params.thread_take_up,
        bobbin_m=sum(bl.bobbin_m for bl in blocks),
        unique_colours=unique,
        manual_changes=manual,
        max_density=dens,
        hot_cells=hot_cells,
        hot_spots=spots,
        blocks=blocks,
        time_s=time,
    )


def _blocks(
    design: Design,
    params: EmbroideryParams,
    spans: list[tuple[int, int, int]],
    idx: npt.NDArray[np.intp],
    seg_end: npt.NDArray[np.intp],
    seg: npt.NDArray[np.float64],
    long_mask: npt.NDArray[np.bool_],
    carried: npt.NDArray[np.float64],
    cmds: npt.NDArray[np.int32],
) -> list[Block]:
    starts = np.array([s for s, _, _ in spans], dtype=np.intp)
    # Each stitch and each segment (named by its end) belongs to the block holding it.
    stitch_block = np.searchsorted(starts, idx, side="right") - 1
    seg_block = np.searchsorted(starts, seg_end, side="right") - 1
    k = len(spans)
    stitches = np.bincount(stitch_block, minlength=k)
    longs = np.bincount(seg_block, weights=long_mask.astype(np.float64), minlength=k)
    path = np.bincount(seg_block, weights=carried, minlength=k)
    trim_pos = np.flatnonzero(cmds == TRIM)
    trims = np.bincount(np.searchsorted(starts, trim_pos, side="right") - 1, minlength=k)
    blocks: list[Block] = []
    for i, (start, end, thread_index) in enumerate(spans):
        if stitches[i] == 0:
            continue
        count = int(stitches[i])
        slow = int(longs[i])
        block = Block(
            number=len(blocks) + 1,
            thread=thread_for(design, thread_index),
            start=start,
            end=end,
            stitches=count,
            long_stitches=slow,
            trims=int(trims[i]),
            path_mm=float(path[i]),
        )
        block.stitch_seconds = (count - slow) * 60.0 / params.spm + slow * 60.0 / params.slow_spm
        block.trim_seconds = block.trims * params.trim_s
        rule = count / 1000.0 * params.thread_m_per_1000
        by_path = block.path_mm / 1000.0 * params.thread_take_up
        block.thread_m = max(rule, by_path)
        # Longer stitches draw more of both threads: the bobbin follows the top's ratio.
        block.bobbin_m = count / 1000.0 * params.bobbin_m_per_1000 * (block.thread_m / rule)
        blocks.append(block)
    return blocks


def _unique_colours(blocks: list[Block]) -> int:
    if any(bl.thread.assigned for bl in blocks):
        return len(blocks)  # colours unknown: every block may need its own
    return len({bl.thread.colour.lower() for bl in blocks})


def _assign_change_times(blocks: list[Block], params: EmbroideryParams, unique: int) -> int:
    """Add the change time to each block after the first; return the changes made by hand.

    Single-needle: every change is a re-threading. Multi-needle: changes are automatic
    until the design needs more colours than there are needles; each colour beyond
    them is threaded by hand when it first comes up. A change to the same colour is
    only a stop.
    """
    manual = 0
    seen: list[str] = []
    previous = ""
    for i, block in enumerate(blocks):
        key = block.thread.colour.lower() if not block.thread.assigned else f"#{i}"
        new_colour = key not in seen
        if new_colour:
            seen.append(key)
        same_as_before, previous = key == previous, key
        if i == 0:
            continue
        if same_as_before:  # the machine stops for nothing: restart, no re-threading
            block.change_seconds = params.stop_s if params.needles == 1 else params.colour_change_s
        elif params.needles == 1 or (new_colour and len(seen) > params.needles):
            block.change_seconds = params.rethread_s
            manual += 1
        else:
            block.change_seconds = params.colour_change_s
    return manual


def _stops_inside(
    cmds: npt.NDArray[np.int32], is_stitch: npt.NDArray[np.bool_]
) -> npt.NDArray[np.intp]:
    """Positions of STOP records with stitches on both sides (a trailing stop does nothing)."""
    stops = np.flatnonzero(cmds == STOP)
    if not stops.shape[0]:
        return stops
    before = np.cumsum(is_stitch)
    total = before[-1]
    inside: npt.NDArray[np.intp] = stops[(before[stops] > 0) & (before[stops] < total)]
    return inside


def _add_stops(blocks: list[Block], stops: npt.NDArray[np.intp], params: EmbroideryParams) -> None:
    for pos in stops.tolist():
        for block in blocks:
            if block.start <= pos < block.end:
                block.stops += 1
                block.stop_seconds += params.stop_s
                break


def density(
    sx: npt.NDArray[np.float64], sy: npt.NDArray[np.float64], params: EmbroideryParams
) -> tuple[float, int, list[dict[str, float]]]:
    """Needle penetrations per mm² over a grid: the worst cell, how many cells exceed the
    profile's limit, and the worst of those (centre in mm, design coordinates)."""
    cell = params.density_cell_mm * 10.0
    gx = np.floor((sx - sx.min()) / cell).astype(np.int64)
    gy = np.floor((sy - sy.min()) / cell).astype(np.int64)
    ny = int(gy.max()) + 1
    counts = np.bincount(gx * ny + gy)
    per_mm2 = counts / (params.density_cell_mm**2)
    hot = np.flatnonzero(per_mm2 > params.max_density_per_mm2)
    worst = hot[np.argsort(per_mm2[hot])[::-1][:HOT_SPOTS_KEPT]]
    spots = [
        {
            "x_mm": round((float(sx.min()) + (int(c) // ny + 0.5) * cell) / 10.0, 1),
            "y_mm": round((float(sy.min()) + (int(c) % ny + 0.5) * cell) / 10.0, 1),
            "per_mm2": round(float(per_mm2[c]), 1),
        }
        for c in worst
    ]
    return float(per_mm2.max()), int(hot.shape[0]), spots
