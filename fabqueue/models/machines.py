"""What the database knows of a machine: its live record, for every node to read."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON
from sqlmodel import Field, SQLModel

from fabqueue.models.types import UTCDateTime, str_enum
from jobs.base import MachineKind


class RunnerState(StrEnum):
    accepting = "accepting"
    """Takes the next suitable job when the machine is idle."""
    awaiting_operator = "awaiting_operator"
    """Something is still on the machine (finished part, spoilt part): a person must clear it."""
    stopped = "stopped"
    """Staff took the machine out of service."""


class MachineRecord(SQLModel, table=True):
    """Profiles describe machines; this row is their life: status, material, runner."""

    __tablename__ = "machine"

    slug: str = Field(primary_key=True, max_length=64)
    node: str = Field(max_length=120, index=True)
    name: str = Field(max_length=200)
    kind: MachineKind = Field(sa_type=str_enum(MachineKind))
    driver: str = Field(max_length=40)
    spec: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    """What other nodes need to accept jobs for it: file types, materials, size limits."""
    runner_state: RunnerState = Field(default=RunnerState.accepting, sa_type=str_enum(RunnerState))
    out_of_service: bool = False
    """Staff's wish that the machine take no job: it outlives the node being down and the
    operator's confirmation; only staff putting the machine back in service clears it."""
    loaded_material: str | None = Field(default=None, max_length=64)
    status: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    """Last status snapshot the driver pushed."""
    emergency_stop_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    """Staff asked for an emergency stop and the machine's runner has not yet carried it
    out (kept in the database so that the node driving the machine hears it, whichever
    node the request came through)."""
    updated_at: datetime = Field(sa_type=UTCDateTime)
    service_note: str | None = Field(default=None, max_length=300)
    """Why staff took the machine out of service (shown on its card until it is back)."""


Machine = MachineRecord
"""The name services and pages use for a machine's record."""


class MachineEvent(SQLModel, table=True):
    """What happened to a machine outside its jobs' own events, and who did it."""

    __tablename__ = "machine_event"

    id: int | None = Field(default=None, primary_key=True)
    machine: str = Field(foreign_key="machine.slug", max_length=64, index=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=120)
    """``user:<id>`` or ``machine:<slug>`` (the runner reporting what the machine did)."""
    action: str = Field(max_length=40)
    """``emergency_stop`` (asked), ``emergency_stopped`` (carried out by the driver)."""
    detail: str | None = Field(default=None, max_length=500)


class MachineEventPublic(SQLModel):
    id: int
    machine: str
    at: datetime
    actor: str
    action: str
    detail: str | None


class MachinePublic(SQLModel):
    slug: str
    node: str
    name: str
    kind: MachineKind
    driver: str
    spec: dict[str, Any]
    runner_state: RunnerState
    loaded_material: str | None
    status: dict[str, Any]
    out_of_service: bool = False
    current_job_id: int | None = None
    emergency_stop_at: datetime | None = None
    """An emergency stop asked and not yet carried out by the machine's node."""
    updated_at: datetime
