"""What one run of a job asks for (all copies), from its analysis: the figures every
report reads, kept in plain columns of the job (``run_*``, migration 0015).

A yearly report used to read them out of each job's JSON analysis: on PostgreSQL that
parsed 50,000 documents a report. They are written instead when a run ends (the job
closes, or the operator judges it bad and it runs again: ``states.transition``), and
the migration back-fills the jobs already there. Nothing else here touches the database.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(slots=True)
class Quantities:
    """What one run of a job asks for, from its analysis (all copies)."""

    duration_s: float | None = None
    heatup_s: float = 0.0
    homing_s: float = 0.0
    filament_g: float = 0.0
    vinyl_mm2: float = 0.0
    design_mm2: float | None = None
    """Area of the design itself (weeding offcut = vinyl used − this), when known."""
    thread_m: float = 0.0
    purge_g: float | None = None


PATHS = (
    ("duration_s",),
    ("details", "heatup_s"),
    ("details", "homing_s"),
    ("material", "filament_g"),
    ("material", "vinyl_area_mm2"),
    ("details", "design_area_mm2"),
    ("material", "thread_m"),
    ("details", "purge_g"),
)
"""Where each of :class:`Quantities`' figures sits in an analysis, in its field order."""

COLUMNS = (
    "run_duration_s",
    "run_heatup_s",
    "run_homing_s",
    "run_filament_g",
    "run_vinyl_mm2",
    "run_design_mm2",
    "run_thread_m",
    "run_purge_g",
)
"""The job's columns holding :class:`Quantities`, in the same order."""


def quantities(values: Sequence[Any], copies: int) -> Quantities:
    """A run's quantities from the ``PATHS`` values of its analysis, scaled to its copies."""
    # A negative or missing figure is unknown, not a negative quantity.
    duration, heatup, homing, filament, vinyl, design, thread, purge = [
        None if v is None or v < 0 else float(v) for v in values
    ]
    n = max(copies, 1)
    return Quantities(
        duration_s=duration * n if duration is not None else None,
        heatup_s=heatup or 0.0,
        homing_s=homing or 0.0,
        filament_g=(filament or 0.0) * n,
        vinyl_mm2=(vinyl or 0.0) * n,
        design_mm2=design * n if design is not None else None,
        thread_m=(thread or 0.0) * n,
        purge_g=purge * n if purge is not None else None,
    )


def _number(node: Any) -> float | None:
    # What the database's JSON path and float cast give: booleans and text are no figure.
    return float(node) if isinstance(node, int | float) and not isinstance(node, bool) else None


def from_analysis(analysis: dict[str, Any], copies: int = 1) -> Quantities:
    """The same, from an analysis as stored (tests, callers holding a job)."""
    values: list[Any] = []
    for path in PATHS:
        node: Any = analysis
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        values.append(_number(node))
    return quantities(values, copies)


def columns(analysis: dict[str, Any] | None, copies: int) -> dict[str, float | None]:
    """The job's ``run_*`` column values for its analysis and copies."""
    q = from_analysis(analysis or {}, copies)
    return {name: getattr(q, name.removeprefix("run_")) for name in COLUMNS}
