"""Jobs and their event log."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from pydantic import BaseModel
from sqlalchemy import JSON, Index, text
from sqlmodel import Field, SQLModel
from typing_extensions import TypedDict

from fabqueue.models.types import UTCDateTime, str_enum
from jobs.base import MachineKind


class JobState(StrEnum):
    draft = "draft"
    """Waiting for a quote to be accepted, or for staff to review it."""
    queued = "queued"
    """Ready to run on the first suitable machine."""
    held = "held"
    """Kept out of the queue (material not in stock, waiting for the customer…)."""
    starting = "starting"
    """Claimed by a machine; the driver is sending or delivering it."""
    running = "running"
    paused = "paused"
    awaiting_operator = "awaiting_operator"
    """Finished on the machine; waiting for a person to take it off and judge it."""
    succeeded = "succeeded"
    failed = "failed"
    cancelled = "cancelled"
    interrupted = "interrupted"
    """Was active when the node died or the machine vanished; staff resume or requeue it."""


ACTIVE_STATES = frozenset({JobState.starting, JobState.running, JobState.paused})
"""The machine is working on the job."""

OCCUPYING_STATES = ACTIVE_STATES | {JobState.awaiting_operator}
"""The job holds its machine: at most one such job per machine (partial unique index)."""

TERMINAL_STATES = frozenset({JobState.succeeded, JobState.failed, JobState.cancelled})

WAITING_STATES = frozenset({JobState.draft, JobState.queued, JobState.held})


_OCCUPYING_SQL = "state IN ({})".format(", ".join(f"'{s.value}'" for s in sorted(OCCUPYING_STATES)))


class Outcome(StrEnum):
    good = "good"
    """Billable: the part is what was asked for."""
    bad = "bad"
    """Spoilt: the job runs again."""


class Job(SQLModel, table=True):
    __tablename__ = "job"
    __table_args__ = (
        # The database, not the code, guarantees one job per machine at a time.
        Index(
            "uq_job_machine_occupied",
            "machine",
            unique=True,
            sqlite_where=text(_OCCUPYING_SQL),
            postgresql_where=text(_OCCUPYING_SQL),
        ),
        Index("ix_job_queue", "state", "kind", "priority", "created_at"),
        # "Is anything queued for this machine?" must not scan a long queue of jobs
        # meant for other machines.
        Index("ix_job_waiting", "state", "target_machine", "kind"),
        # Activity reports read the jobs closed in a period (migration 0012).
        Index("ix_job_finished_at", "finished_at"),
        # The job list's filters, each with the newest-first order it pages by.
        Index("ix_job_owner_recent", "owner_id", "id"),
        Index("ix_job_state_recent", "state", "id"),
        Index("ix_job_machine", "machine"),
    )

    id: int | None = Field(default=None, primary_key=True)
    kind: MachineKind = Field(sa_type=str_enum(MachineKind))
    target_machine: str | None = Field(default=None, max_length=64, index=True)
    """The machine the submitter asked for; None = any machine of the kind."""
    machine: str | None = Field(default=None, max_length=64)
    """The machine that took the job (set when claimed)."""
    material: str | None = Field(default=None, max_length=64)
    copies: int = 1
    priority: int = 0
    owner_id: int = Field(foreign_key="app_user.id", index=True)
    title: str = Field(max_length=200)
    file_sha256: str = Field(foreign_key="stored_file.sha256", max_length=64)
    file_name: str = Field(max_length=255)
    file_type: str = Field(max_length=16)
    file_size: int
    analysis: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    state: JobState = Field(sa_type=str_enum(JobState))
    cancel_requested: bool = False
    pause_requested: bool = False
    """Desired pause state; the machine's runner makes the machine follow it."""
    progress: float | None = None
    eta_s: float | None = None
    message: str | None = Field(default=None, max_length=500)
    """Last thing a person should know: the machine's error, why it was interrupted…"""
    driver_ref: str | None = Field(default=None, max_length=255)
    """The machine's own name for the job, to recognise it after a restart."""
    checkpoint: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    """Where the machine got to (file offset, position), to resume an interrupted job."""
    attempt: int = 1
    outcome: Outcome | None = Field(default=None, sa_type=str_enum(Outcome))
    actual_duration_s: float | None = None
    """Time the machine spent on the last attempt, pauses excluded."""
    created_at: datetime = Field(sa_type=UTCDateTime)
    updated_at: datetime = Field(sa_type=UTCDateTime)
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    customer_name: str | None = Field(default=None, max_length=120)
    """A walk-in customer the job is made for (the counter calls them when it is ready)."""
    customer_contact: str | None = Field(default=None, max_length=200)
    """Their phone number or e-mail address, as they gave it."""
    # What one run asks for (all copies), written when a run ends (``reports.figures``):
    # reports sum these columns instead of reading every job's JSON analysis.
    run_duration_s: float | None = None
    run_heatup_s: float | None = None
    run_homing_s: float | None = None
    run_filament_g: float | None = None
    run_vinyl_mm2: float | None = None
    run_design_mm2: float | None = None
    run_thread_m: float | None = None
    run_purge_g: float | None = None


class JobEvent(SQLModel, table=True):
    __tablename__ = "job_event"
    # Activity reports count the operator's « bad » judgements of a period (migration 0012)
    # and find, for each, the machine whose claim came last before it (migration 0015).
    __table_args__ = (
        Index("ix_job_event_to_state_at", "to_state", "at"),
        Index("ix_job_event_job_state_at", "job_id", "to_state", "at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="job.id", index=True)
    from_state: JobState | None = Field(default=None, sa_type=str_enum(JobState))
    to_state: JobState = Field(sa_type=str_enum(JobState))
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=120)
    """Who moved it: ``user:<id>``, ``machine:<slug>``, ``system``."""
    reason: str | None = Field(default=None, max_length=500)


class JobPublic(SQLModel):
    id: int
    kind: MachineKind
    target_machine: str | None
    machine: str | None
    material: str | None
    copies: int
    priority: int
    owner_id: int
    title: str
    file_name: str
    file_type: str
    file_size: int
    file_sha256: str
    analysis: dict[str, Any]
    state: JobState
    cancel_requested: bool
    pause_requested: bool
    progress: float | None
    eta_s: float | None
    message: str | None
    checkpoint: dict[str, Any]
    attempt: int
    outcome: Outcome | None
    actual_duration_s: float | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobsPublic(SQLModel):
    data: list[JobPublic]
    count: int


class JobSummary(TypedDict):
    """A job as a list shows it: everything but its analysis and checkpoint (those stay
    on ``GET /api/v1/jobs/{id}``), so a page of jobs is cheap to read and to send.

    A typed dict, not a model: the rows come from our own database, and building a model
    per row was most of the cost of a page."""

    id: int
    kind: MachineKind
    target_machine: str | None
    machine: str | None
    material: str | None
    copies: int
    priority: int
    owner_id: int
    title: str
    file_name: str
    file_type: str
    file_size: int
    state: JobState
    cancel_requested: bool
    pause_requested: bool
    progress: float | None
    eta_s: float | None
    message: str | None
    attempt: int
    outcome: Outcome | None
    actual_duration_s: float | None
    created_at: datetime
    updated_at: datetime
    started_at: datetime | None
    finished_at: datetime | None


class JobPage(BaseModel):
    """One page of jobs, newest first."""

    data: list[JobSummary]
    count: int
    """Jobs matching the filters, on every page."""
    next: str | None
    """The next page's path and query (``before`` the last job here), or null on the
    last page."""


class JobEventPublic(SQLModel):
    id: int
    job_id: int
    from_state: JobState | None
    to_state: JobState
    at: datetime
    actor: str
    reason: str | None
