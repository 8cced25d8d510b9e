"""Firmware semantics of two motion commands: arcs (G2/G3) and machine limits (M201-M205).

Arcs are cut into straight segments as Prusa's Marlin (Buddy firmware) does
(``G2_G3.cpp`` ``plan_arc``), which PrusaSlicer also models: segments short enough to
stay within a chord deviation, at least ``arc_segments_per_s`` per second, between
``arc_min_segment_mm`` and ``arc_max_segment_mm``.
"""

from __future__ import annotations

import math
import re

from jobs.gcode.planner import MotionLimits
from jobs.params.printer import PrinterParams

_LIMIT_WORD = re.compile(rb"([A-Z])\s*([-+]?(?:\d+\.?\d*|\.\d+))")

Point = tuple[float, float]

MAX_SEGMENTS_PER_ARC = 100_000
"""A typo'd radius must not stall the analysis."""
ARC_SEGMENTS_MIN = 200_000
ARC_SEGMENTS_PER_BYTE = 25
"""The file's budget of arc segments: the larger of the two (see :func:`arc_budget`)."""


def arc_budget(size_bytes: int) -> int:
    """Arc segments a file of this size may make in all.

    Arcs are the one place where a line of G-code makes more than one move: a short line
    can ask for a full circle of a kilometre's radius, 100,000 segments. A budget per
    arc is not enough (200 such circles fit in 7 KB and take minutes), so the budget is
    per file and grows with its size: real arc-fitted files (Arc Welder, PrusaSlicer's
    arc fitting) make a few segments per arc line, well under one per byte. Every other
    line makes at most one move, so the file's size already bounds the rest of the work.
    """
    return max(ARC_SEGMENTS_MIN, ARC_SEGMENTS_PER_BYTE * size_bytes)


class ArcBudgetExceeded(Exception):
    """The arc needs more segments than the file has left (see ``budget``)."""

    def __init__(self, needed: int) -> None:
        super().__init__(f"{needed} segments")
        self.needed = needed


def arc_segments(
    start: Point,
    end: Point,
    *,
    i: float | None,
    j: float | None,
    r: float | None,
    clockwise: bool,
    turns: int,
    feed: float,
    params: PrinterParams,
    budget: int | None = None,
) -> tuple[list[Point], str | None]:
    """The end points of the straight segments of an arc (the last one is ``end``).

    Returns ``([end], problem)`` when the arc cannot be drawn (no centre, zero radius,
    a radius too short for its end points): the caller moves straight and warns.
    Raises :class:`ArcBudgetExceeded`, before making any point, when the arc needs more
    than ``budget`` segments (what is left of the file's budget).
    """
    x0, y0 = start
    x1, y1 = end
    if r is not None:
        if r == 0.0:
            return [end], "arc with a zero radius"
        dx, dy = x1 - x0, y1 - y0
        d = math.hypot(dx, dy)
        if d == 0.0:
            return [end], "R-form arc that ends where it starts"
        half = d / 2.0
        if abs(r) < half - 1e-6:
            return [end], f"arc radius {abs(r):.3f} mm is shorter than half its chord"
        h = math.sqrt(max(0.0, r * r - half * half))
        sign = -1.0 if clockwise != (r < 0) else 1.0
        cx = (x0 + x1) / 2.0 + sign * h * (-dy / d)
        cy = (y0 + y1) / 2.0 + sign * h * (dx / d)
        ci, cj = cx - x0, cy - y0
    else:
        if i is None and j is None:
            return [end], "arc without I, J or R"
        ci, cj = i or 0.0, j or 0.0
    radius = math.hypot(ci, cj)
    if radius < 1e-9:
        return [end], "arc with a zero radius"
    cx, cy = x0 + ci, y0 + cj
    # Angle from start to end around the centre, in the arc's direction.
    sx, sy = -ci, -cj
    ex, ey = x1 - cx, y1 - cy
    angle = math.atan2(sx * ey - sy * ex, sx * ex + sy * ey)
    if angle < 0.0:
        angle += 2.0 * math.pi
    if clockwise:
        angle -= 2.0 * math.pi
    if abs(x1 - x0) < 1e-9 and abs(y1 - y0) < 1e-9:
        angle = -2.0 * math.pi if clockwise else 2.0 * math.pi  # a full circle
    if turns > 0:
        angle += (-2.0 if clockwise else 2.0) * math.pi * turns
    flat = radius * abs(angle)
    p = params
    segment = min(math.sqrt(8.0 * radius * p.arc_tolerance_mm), feed / p.arc_segments_per_s)
    segment = min(max(segment, p.arc_min_segment_mm), p.arc_max_segment_mm)
    count = max(1, int(flat / segment + 0.8))
    count = min(count, MAX_SEGMENTS_PER_ARC)
    if budget is not None and count > budget:
        raise ArcBudgetExceeded(count)
    points: list[Point] = []
    step = angle / count
    for k in range(1, count):
        a = step * k
        ca, sa = math.cos(a), math.sin(a)
        points.append((cx + sx * ca - sy * sa, cy + sx * sa + sy * ca))
    points.append(end)
    return points, None


def _values(code: bytes) -> dict[str, float]:
    """Words of a limits command; ``X1000,960`` (normal,silent) keeps the first value."""
    out: dict[str, float] = {}
    for letter, number in _LIMIT_WORD.findall(code):
        key = letter.decode()
        try:
            value = float(number)
        except ValueError:
            continue
        if value - value == 0.0:  # finite
            out.setdefault(key, value)
    return out


_AXES = {"X": 0, "Y": 1, "Z": 2, "E": 3}


def apply_limits(
    limits: MotionLimits, cmd: str, code: bytes, scale: float, *, per_minute: bool = False
) -> None:
    """Apply M201/M203/M204/M205/M566 to ``limits`` the way Marlin does.

    ``per_minute``: RepRapFirmware gives M203 speeds in mm/min.
    """
    w = _values(code.split(None, 1)[1] if b" " in code.strip() else b"")
    if cmd == "M201":
        _per_axis(limits.max_accel, w, scale, 1.0)
    elif cmd == "M203":
        _per_axis(limits.max_feedrate, w, scale, 1.0 / 60.0 if per_minute else 1.0)
    elif cmd == "M204":
        _accelerations(limits, w)
    elif cmd == "M205":
        _jerks(limits, w)
    elif cmd == "M566":
        for k, idx in _AXES.items():
            if k in w and w[k] >= 0:
                limits.jerk[idx] = w[k] / 60.0


def _per_axis(values: list[float], w: dict[str, float], scale: float, factor: float) -> None:
    """M201/M203: positive values per axis; X, Y and Z follow G20/G21, E does not."""
    for k, idx in _AXES.items():
        if k in w and w[k] > 0:
            values[idx] = w[k] * factor * (scale if idx < 3 else 1.0)


def _accelerations(limits: MotionLimits, w: dict[str, float]) -> None:
    if "S" in w:
        # Legacy form (Marlin 1, Prusa MK3): S sets print and travel, T retract.
        if w["S"] > 0:
            limits.accel_print = limits.accel_travel = w["S"]
        if "T" in w and w["T"] > 0:
            limits.accel_retract = w["T"]
        return
    if w.get("P", 0) > 0:
        limits.accel_print = w["P"]
    if w.get("R", 0) > 0:
        limits.accel_retract = w["R"]
    if w.get("T", 0) > 0:
        limits.accel_travel = w["T"]


def _jerks(limits: MotionLimits, w: dict[str, float]) -> None:
    if "X" in w and w["X"] >= 0:
        limits.jerk[0] = limits.jerk[1] = w["X"]
    for k in ("Y", "Z", "E"):
        if k in w and w[k] >= 0:
            limits.jerk[_AXES[k]] = w[k]
    if "S" in w and w["S"] >= 0:
        limits.min_feedrate = w["S"]
    if "T" in w and w["T"] >= 0:
        limits.min_travel_feedrate = w["T"]
    if "J" in w and w["J"] > 0:
        # The firmware says it plans corners by junction deviation.
        limits.junction_deviation_mm = w["J"]


def limits_from(params: PrinterParams) -> MotionLimits:
    return MotionLimits(
        max_feedrate=[
            params.max_feedrate_x_mm_s,
            params.max_feedrate_y_mm_s,
            params.max_feedrate_z_mm_s,
            params.max_feedrate_e_mm_s,
        ],
        max_accel=[
            params.max_accel_x_mm_s2,
            params.max_accel_y_mm_s2,
            params.max_accel_z_mm_s2,
            params.max_accel_e_mm_s2,
        ],
        jerk=[params.jerk_x_mm_s, params.jerk_y_mm_s, params.jerk_z_mm_s, params.jerk_e_mm_s],
        accel_print=params.print_accel_mm_s2,
        accel_travel=params.travel_accel_mm_s2,
        accel_retract=params.retract_accel_mm_s2,
        min_feedrate=params.min_feedrate_mm_s,
        min_travel_feedrate=params.min_travel_feedrate_mm_s,
        junction_deviation_mm=(
            params.junction_deviation_mm if params.junction == "junction_deviation" else None
        ),
    )
