"""Estimates against actuals: per machine, how actual machine time compares with the
estimate — the learning data of ``services.estimates`` (heat-up and homing taken out,
ratios outside 0.25–4 left out), over the period's succeeded runs with a measured time.
Pure: rows in, figures out.
"""

from __future__ import annotations

import statistics
from collections import defaultdict

from pydantic import BaseModel

from fabqueue.reports.rows import JobRow
from fabqueue.services.estimates import job_ratio

BUCKETS = ((0.0, 0.8), (0.8, 0.9), (0.9, 1.1), (1.1, 1.25), (1.25, 1.5), (1.5, float("inf")))
BUCKET_LABELS = ("< 0,8", "0,8–0,9", "0,9–1,1", "1,1–1,25", "1,25–1,5", "≥ 1,5")


class MachineAccuracy(BaseModel):
    machine: str
    count: int
    median: float
    p10: float
    p90: float
    within_10pct: float
    """Share of runs whose actual time was within ±10 % of the estimate."""
    buckets: list[int]
    """Counts per ``BUCKET_LABELS``: lower bound included, upper excluded."""


def _quantile(sorted_values: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (the usual « type 7 »)."""
    pos = (len(sorted_values) - 1) * q
    low = int(pos)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (pos - low)


def ratios(jobs: list[JobRow]) -> dict[str, list[float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for j in jobs:
        if j.state != "succeeded" or j.machine is None:
            continue
        analysis = {
            "duration_s": j.q.duration_s,
            "details": {"heatup_s": j.q.heatup_s, "homing_s": j.q.homing_s},
        }
        ratio = job_ratio(analysis, j.actual_s)
        if ratio is not None:
            out[j.machine].append(ratio)
    return out


def report(jobs: list[JobRow]) -> list[MachineAccuracy]:
    return report_of(ratios(jobs))


def report_of(ratios: dict[str, list[float]]) -> list[MachineAccuracy]:
    out = []
    for machine, values in sorted(ratios.items()):
        values.sort()
        buckets = [sum(1 for v in values if low <= v < high) for low, high in BUCKETS]
        out.append(
            MachineAccuracy(
                machine=machine,
                count=len(values),
                median=round(statistics.median(values), 4),
                p10=round(_quantile(values, 0.1), 4),
                p90=round(_quantile(values, 0.9), 4),
                within_10pct=round(buckets[2] / len(values), 4),
                buckets=buckets,
            )
        )
    return out
