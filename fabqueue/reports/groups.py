"""Runs added up per machine, kind, material, result and month: what every figure of
the activity, material and energy reports is made of.

The database adds the runs up itself (``rows.load_groups``, one GROUP BY a period);
:func:`of_rows` adds up rows the same way, so the definitions can be checked on a few
rows worked out by hand (``tests/reports/test_tables.py``) and the two ways against each
other on a generated year. Pure: no database here.
"""

from __future__ import annotations

from collections.abc import Iterable

from fabqueue.reports.period import Period
from fabqueue.reports.rows import JobRow, RedoRow, RunGroup


def run_seconds(job: JobRow) -> float:
    """The run's machine time: measured (operator's entry, else the runner's), else its
    estimate (× progress for a failed run); a cancelled job ran for none."""
    if job.actual_s is not None and job.actual_s > 0:
        return job.actual_s
    estimate = job.q.duration_s or 0.0
    if job.state == "failed" and job.progress is not None:
        return estimate * min(max(job.progress, 0.0), 1.0)
    return estimate if job.state in ("succeeded", "failed") else 0.0


def fraction(job: JobRow) -> float:
    """The share of its material a run used: a failed run's progress, else all of it."""
    if job.state == "failed" and job.progress is not None:
        return min(max(job.progress, 0.0), 1.0)
    return 1.0


def _one(
    row: JobRow | RedoRow, result: str, month: str | None, seconds: float, frac: float
) -> RunGroup:
    q = row.q
    g = RunGroup(row.kind, row.machine, row.material, result, month, runs=1)
    g.seconds = round(seconds)
    g.run_s = seconds
    g.heat_s = min(q.heatup_s, seconds)
    g.filament_g = q.filament_g * frac
    g.filament_runs = int(q.filament_g > 0)
    g.vinyl_m2 = q.vinyl_mm2 / 1e6 * frac
    g.vinyl_runs = int(q.vinyl_mm2 > 0)
    g.thread_m = q.thread_m * frac
    g.thread_runs = int(q.thread_m > 0)
    if result == "succeeded" and q.filament_g > 0 and q.purge_g is not None:
        g.purge_g, g.purge_runs = q.purge_g, 1
    if result == "succeeded" and q.design_mm2 is not None and q.vinyl_mm2 > 0:
        g.offcut_m2, g.offcut_runs = max(q.vinyl_mm2 - q.design_mm2, 0.0) / 1e6, 1
    return g


def of_rows(
    jobs: Iterable[JobRow], redos: Iterable[RedoRow], period: Period | None = None
) -> list[RunGroup]:
    """The groups of these rows; by month of ``period`` when given."""
    singles = [
        _one(
            j,
            j.state,
            period.month_of(j.closed_at) if period else None,
            run_seconds(j),
            fraction(j),
        )
        for j in jobs
    ]
    singles += [
        _one(r, "redone", period.month_of(r.at) if period else None, r.q.duration_s or 0.0, 1.0)
        for r in redos
    ]
    return merge(singles)


def merge(groups: Iterable[RunGroup]) -> list[RunGroup]:
    """Groups of the same key added up, in key order."""
    out: dict[tuple[str, str | None, str | None, str, str | None], RunGroup] = {}
    for g in groups:
        have = out.get(g.key)
        if have is None:
            out[g.key] = RunGroup(*g.key)
            have = out[g.key]
        have.add(g)
    return [out[k] for k in sorted(out, key=lambda k: tuple((x is None, x or "") for x in k))]
