"""Which job a machine takes next. Pure: no I/O, the clock is an argument.

Rules, in order:

1. A job resuming on this machine (interrupted, then resumed by staff) goes first:
   its half-made part is on the machine.
2. The machine must take the job's file type.
3. When the machine tracks material, a job that names a material runs only when that
   material is loaded.
4. The design must fit the machine (bed, roll width, hoop).
5. During someone's booking only that person's jobs run (they jump the queue); a job
   whose expected duration (estimate x the machine's learnt correction, or the
   profile's default when there is no estimate) would run into another person's
   booking waits; a shorter one may run before it. Under the ``during_booking`` policy
   a member's own job waits for a booking of theirs.
6. Then highest priority first, then oldest first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from jobs.base import Analysis
from jobs.params import MachineParams


@dataclass(frozen=True)
class Candidate:
    id: int
    owner_id: int
    file_type: str
    material: str | None
    priority: int
    created_at: datetime
    analysis: Analysis | None = None
    resuming: bool = False
    needs_booking: bool = False
    """A member's job under the ``during_booking`` policy: runs only in their booking."""

    @property
    def duration_s(self) -> float:
        """How long the machine is taken: motion plus heat-up and set-up when known."""
        if self.analysis is None:
            return 0.0
        total = self.analysis.details.get("machine_time_s")
        return float(total) if total else (self.analysis.duration_s or 0.0)


@dataclass(frozen=True)
class MachineInfo:
    slug: str
    file_types: frozenset[str]
    loaded_material: str | None = None
    track_material: bool = True
    params: MachineParams | None = None
    correction: float = 1.0
    """The machine's learnt ratio of real to estimated time."""
    default_job_s: float = 0.0
    """The time assumed for a job with no estimate (the profile's default duration)."""
    member_jobs_need_booking: bool = False
    """The site's ``member_jobs = "during_booking"`` policy."""


def expected_s(c: Candidate, machine: MachineInfo) -> float:
    """How long the job will hold the machine, as well as can be told before it runs."""
    estimate = c.duration_s
    return estimate * machine.correction if estimate > 0 else machine.default_job_s


@dataclass(frozen=True)
class Booking:
    owner_id: int
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class Decision:
    job_id: int | None
    waiting: dict[int, str] = field(default_factory=dict)
    """Why each passed-over job is not taken now (shown to people who ask)."""


def _blocked_by_booking(
    c: Candidate, machine: MachineInfo, bookings: Sequence[Booking], now: datetime
) -> str | None:
    if c.needs_booking and not any(
        b.owner_id == c.owner_id and b.starts_at <= now < b.ends_at for b in bookings
    ):
        return "waits for a booking of its owner"
    end = now + timedelta(seconds=expected_s(c, machine))
    for b in bookings:
        if b.owner_id == c.owner_id or b.ends_at <= now:
            continue
        if b.starts_at <= now:
            return "the machine is booked by someone else now"
        if b.starts_at < end:
            return f"would run into a booking starting at {b.starts_at.isoformat()}"
    return None


def why_not(
    c: Candidate, machine: MachineInfo, bookings: Sequence[Booking], now: datetime
) -> str | None:
    """Why ``machine`` cannot take ``c`` now (None when it can)."""
    if c.file_type not in machine.file_types:
        return f"{machine.slug} does not take {c.file_type} files"
    if machine.track_material and c.material is not None and c.material != machine.loaded_material:
        loaded = machine.loaded_material or "nothing"
        return f"needs {c.material} loaded on {machine.slug} ({loaded} is)"
    if machine.params is not None and c.analysis is not None:
        problems = machine.params.fit_problems(c.analysis)
        if problems:
            return "does not fit: " + "; ".join(problems)
    return _blocked_by_booking(c, machine, bookings, now)


def pick_next(
    candidates: Sequence[Candidate],
    machine: MachineInfo,
    bookings: Sequence[Booking],
    now: datetime,
) -> Decision:
    waiting: dict[int, str] = {}
    holder = next((b.owner_id for b in bookings if b.starts_at <= now < b.ends_at), None)
    ordered = sorted(
        candidates,
        key=lambda c: (not c.resuming, c.owner_id != holder, -c.priority, c.created_at, c.id),
    )
    resuming_here = any(c.resuming for c in ordered)
    for c in ordered:
        if resuming_here and not c.resuming:
            waiting[c.id] = "a job is resuming on this machine first"
            continue
        reason = why_not(c, machine, bookings, now)
        if reason is None:
            return Decision(c.id, waiting)
        waiting[c.id] = reason
    return Decision(None, waiting)
