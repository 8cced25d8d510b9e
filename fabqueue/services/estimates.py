"""Learning from finished jobs: how much longer (or shorter) a machine really takes.

A machine's correction factor is the median, over its last succeeded jobs, of

    (actual machine time − estimated heat-up − estimated homing) / estimated duration

where the actual time is what the runner measured (``Job.actual_duration_s``, pauses
excluded) and the estimates are those stored in the job's analysis. Heat-up and homing
are taken out because they do not scale with the part: a wrong acceleration or jerk in a
profile makes every move proportionally slower, a cold room does not.

Jobs on simulated machines (driver ``sim``) teach nothing: their times are the estimate.
Jobs that were interrupted and resumed, made several copies, or have no estimate are left
out, and so are ratios outside 0.25–4 (a job left paused through the night by a driver
that cannot report pauses, a job cancelled by hand). Until a machine has
:data:`MIN_SAMPLES` usable jobs, no factor is applied.
"""

from __future__ import annotations

import statistics
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlmodel import Session, col, select

from fabqueue.models import Job, JobEvent, MachineRecord
from fabqueue.states import JobState
from jobs.base import Analysis

WINDOW = 10
"""How many of the machine's latest usable jobs the median is taken over."""
MIN_SAMPLES = 3
RATIO_RANGE = (0.25, 4.0)
UNLEARNABLE_DRIVERS = frozenset({"sim"})


@dataclass(frozen=True)
class Correction:
    machine: str
    factor: float
    samples: int


def job_ratio(analysis: Mapping[str, Any], actual_s: float | None) -> float | None:
    """actual / estimated for one finished job, or None when it cannot teach anything."""
    if actual_s is None or actual_s <= 0:
        return None
    estimate = analysis.get("duration_s")
    if not isinstance(estimate, int | float) or estimate <= 0:
        return None
    details = analysis.get("details") or {}
    fixed = 0.0
    for key in ("heatup_s", "homing_s"):
        value = details.get(key)
        if isinstance(value, int | float) and value > 0:
            fixed += float(value)
    ratio = (actual_s - fixed) / float(estimate)
    low, high = RATIO_RANGE
    return ratio if low <= ratio <= high else None


def correction_factor(session: Session, machine: str, *, window: int = WINDOW) -> Correction | None:
    """The machine's learnt factor, or None (simulated machine, too few jobs)."""
    record = session.get(MachineRecord, machine)
    if record is None or record.driver in UNLEARNABLE_DRIVERS:
        return None
    resumed = select(JobEvent.job_id).where(JobEvent.to_state == JobState.interrupted)
    rows = session.exec(
        select(Job.analysis, Job.actual_duration_s)
        .where(
            Job.machine == machine,
            Job.state == JobState.succeeded,
            col(Job.actual_duration_s).is_not(None),
            Job.copies == 1,
            col(Job.id).not_in(resumed),
        )
        .order_by(col(Job.finished_at).desc(), col(Job.id).desc())
        .limit(window * 3)
    )
    ratios: list[float] = []
    for analysis, actual in rows:
        ratio = job_ratio(analysis or {}, actual)
        if ratio is not None:
            ratios.append(ratio)
            if len(ratios) == window:
                break
    if len(ratios) < MIN_SAMPLES:
        return None
    return Correction(machine=machine, factor=statistics.median(ratios), samples=len(ratios))


def apply_correction(analysis: Analysis, correction: Correction | None) -> Analysis:
    """Show the corrected duration beside the raw one; ``duration_s`` stays the estimate."""
    if correction is None or analysis.duration_s is None:
        return analysis
    details = {
        **analysis.details,
        "correction_factor": round(correction.factor, 4),
        "correction_samples": correction.samples,
        "correction_machine": correction.machine,
        "duration_corrected_s": round(analysis.duration_s * correction.factor, 1),
    }
    return analysis.model_copy(update={"details": details})
