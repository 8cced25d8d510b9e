"""Estimates against what jobs really took, so prices and estimators can be tuned.

The estimate is the job's analysis (``duration_s``, material quantities). The actual
time is the operator's entry when there is one, else the machine's own figure
(``job.actual_duration_s``, written by the runner). Ratio = actual / estimate: 1.25
means the job took 25 % longer than estimated. "Worst" is the ratio furthest from 1
either way (0.5 and 2.0 are equally wrong).
"""

from __future__ import annotations

import math
import statistics
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session, col, select

from fabqueue.models import Job, JobActual, QuoteJob, User
from fabqueue.services.errors import Conflict, Forbidden, Invalid, NotFound
from fabqueue.states import JobState
from jobs.base import MachineKind

FINISHED = frozenset({JobState.awaiting_operator, JobState.succeeded, JobState.failed})


class ActualIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    duration_s: float | None = Field(default=None, gt=0, le=30 * 86400)
    """Machine time the job really took (pauses excluded)."""
    material: dict[str, float] = Field(default_factory=dict)
    """Quantities really used, by the analysis' keys (filament_g, thread_m…)."""
    note: str = Field(default="", max_length=500)


class ActualPublic(BaseModel):
    job_id: int
    duration_s: float | None
    material: dict[str, float]
    note: str
    recorded_by: str
    recorded_at: datetime


class RatioStats(BaseModel):
    metric: str
    """``duration`` or a material key."""
    count: int
    median: float
    worst: float
    worst_job_id: int


class KindReport(BaseModel):
    kind: MachineKind
    jobs: int
    """Finished jobs with an estimate and an actual for at least one metric."""
    duration: RatioStats | None
    material: list[RatioStats]


def record_actual(
    *, session: Session, user: User, job_id: int, data: ActualIn, at: datetime
) -> JobActual:
    if not user.is_staff:
        raise Forbidden("staff enter what a job really took")
    job = session.get(Job, job_id)
    if job is None:
        raise NotFound(f"no job {job_id}")
    if job.state not in FINISHED:
        raise Conflict(
            f"job {job_id} is {job.state.value}: enter actuals once it has run",
            state=job.state.value,
        )
    for key, value in data.material.items():
        if not math.isfinite(value) or value < 0:
            raise Invalid(f"material {key!r}: a quantity used is a positive number")
    if data.duration_s is None and not data.material:
        raise Invalid("give the real duration, material used, or both")
    row = session.get(JobActual, job_id) or JobActual(job_id=job_id, recorded_by="", recorded_at=at)
    if data.duration_s is not None:
        row.duration_s = data.duration_s
    row.material = {**row.material, **data.material}
    row.note = data.note or row.note
    row.recorded_by = f"user:{user.id}"
    row.recorded_at = at
    session.add(row)
    session.commit()
    return row


def _stats(metric: str, pairs: list[tuple[int, float]]) -> RatioStats | None:
    # Absurd entries (a duration of 1e-300 s, 1e308 g of filament) give ratios that
    # underflow to 0 or overflow to infinity: they say nothing about the estimates.
    pairs = [(job_id, r) for job_id, r in pairs if 0 < r < math.inf]
    if not pairs:
        return None
    ratios = [r for _, r in pairs]
    worst_id, worst = max(pairs, key=lambda p: abs(math.log(p[1])))
    return RatioStats(
        metric=metric,
        count=len(pairs),
        median=statistics.median(ratios),
        worst=worst,
        worst_job_id=worst_id,
    )


def estimates(
    session: Session, *, since: datetime | None = None, quotes_only: bool = False
) -> list[KindReport]:
    query = (
        select(Job, JobActual)
        .outerjoin(JobActual, col(JobActual.job_id) == col(Job.id))
        .where(col(Job.state).in_([s.value for s in FINISHED]))
    )
    if since is not None:
        query = query.where(col(Job.finished_at) >= since)
    if quotes_only:
        query = query.where(col(Job.id).in_(select(QuoteJob.job_id)))
    durations: dict[MachineKind, list[tuple[int, float]]] = {k: [] for k in MachineKind}
    materials: dict[MachineKind, dict[str, list[tuple[int, float]]]] = {k: {} for k in MachineKind}
    counted: dict[MachineKind, set[int]] = {k: set() for k in MachineKind}
    for job, actual in session.exec(query):
        assert job.id is not None
        kind = MachineKind(job.kind)
        analysis: dict[str, Any] = job.analysis or {}
        estimate = analysis.get("duration_s")
        real = actual.duration_s if actual and actual.duration_s else job.actual_duration_s
        if estimate and real and estimate > 0 and real > 0:
            durations[kind].append((job.id, real / estimate))
            counted[kind].add(job.id)
        if actual is not None:
            estimated_material: dict[str, float] = analysis.get("material") or {}
            for key, used in actual.material.items():
                planned = estimated_material.get(key)
                if planned and planned > 0 and used > 0:
                    materials[kind].setdefault(key, []).append((job.id, used / planned))
                    counted[kind].add(job.id)
    reports = []
    for kind in MachineKind:
        if not counted[kind]:
            continue
        material_stats = [_stats(k, v) for k, v in sorted(materials[kind].items())]
        reports.append(
            KindReport(
                kind=kind,
                jobs=len(counted[kind]),
                duration=_stats("duration", durations[kind]),
                material=[s for s in material_stats if s is not None],
            )
        )
    return reports
