"""The driver boundary: what the dispatcher may ask of a machine, and what it hears back."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict, Field


class Clock(Protocol):
    """The time a driver needs, injected so that tests and the simulator can run on a
    fake clock. ``fabqueue.clock`` implements it; drivers never import fabqueue."""

    def now(self) -> datetime:
        """Current time, timezone-aware (UTC)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back."""
        ...

    async def sleep(self, seconds: float) -> None: ...


class MachineState(StrEnum):
    offline = "offline"
    """Unreachable (unplugged, powered off, network down); the driver keeps trying."""
    connecting = "connecting"
    idle = "idle"
    """Ready for a job."""
    busy = "busy"
    """Working on a job (or on something started by hand at the machine)."""
    paused = "paused"
    error = "error"
    """Reachable but not usable until someone looks at it (firmware halted, jam…)."""


class JobPhase(StrEnum):
    """Where the machine says a job is. The dispatcher maps these to job states."""

    starting = "starting"
    """Accepted, not yet under way (heating, waiting for the operator to press start)."""
    running = "running"
    paused = "paused"
    done = "done"
    failed = "failed"
    cancelled = "cancelled"
    lost = "lost"
    """The machine no longer runs the job and did not finish it (disconnect, reset)."""


FINAL_PHASES = frozenset({JobPhase.done, JobPhase.failed, JobPhase.cancelled, JobPhase.lost})


class JobProgress(BaseModel):
    model_config = ConfigDict(frozen=True)

    ref: str
    phase: JobPhase
    progress: float | None = Field(default=None, ge=0.0, le=1.0)
    eta_s: float | None = None
    message: str | None = None
    """The machine's word on the job. On a ``done`` job it is a warning for the person who
    takes the part off (e.g. line noise): such a job always waits for the operator."""
    checkpoint: dict[str, Any] = Field(default_factory=dict)
    """What the driver needs to resume the job after an interruption."""


class Temperature(BaseModel):
    model_config = ConfigDict(frozen=True)

    actual: float
    target: float | None = None


class MachineStatus(BaseModel):
    model_config = ConfigDict(frozen=True)

    state: MachineState
    job: JobProgress | None = None
    message: str | None = None
    temperatures: dict[str, Temperature] = Field(default_factory=dict)
    at: datetime

    def same_as(self, other: MachineStatus | None) -> bool:
        """Equal but for the time stamp."""
        return other is not None and self.model_dump(exclude={"at"}) == other.model_dump(
            exclude={"at"}
        )


class DriverCapabilities(BaseModel):
    model_config = ConfigDict(frozen=True)

    file_types: frozenset[str] | None = None
    """File types the driver can send; None = whatever the machine's kind takes."""
    can_pause: bool = False
    can_cancel: bool = True
    reports_progress: bool = False
    reports_completion: bool = True
    """False: only the operator knows when the job is finished (confirm on the tablet)."""
    needs_operator_start: bool = False
    """The job is delivered; a person starts it at the machine."""
    can_resume: bool = False
    """Can continue an interrupted job from its checkpoint."""


class JobTicket(BaseModel):
    """All a driver learns of a job. Never a database row."""

    model_config = ConfigDict(frozen=True)

    job_id: int
    ref: str
    """Name the machine will know the job by; must identify it after a restart."""
    file_path: Path
    file_name: str
    file_type: str
    material: str | None = None
    copies: int = 1
    estimated_duration_s: float | None = None
    resume_from: dict[str, Any] | None = None
    """A checkpoint from an earlier attempt: continue from there instead of the start."""
    params: dict[str, Any] = Field(default_factory=dict)


class DriverConfig(BaseModel):
    """Base of each driver's ``Config``: the profile's ``[driver]`` table, minus ``type``."""

    model_config = ConfigDict(extra="forbid")


class DriverError(Exception):
    pass


class DriverUnavailable(DriverError):
    """Transient: the machine cannot be reached or is busy. Try again later."""


class JobRejected(DriverError):
    """This job cannot run on this machine. Trying again will not help."""


class NotSupported(DriverError):
    """The machine cannot do that (e.g. pause)."""


StatusCallback = Callable[[MachineStatus], None]


ConfigT = TypeVar("ConfigT", bound=DriverConfig)


class Driver(ABC, Generic[ConfigT]):
    """One machine. Async, small; every change of state is pushed through ``on_status``.

    Blocking libraries (pyserial, requests) run in threads behind a transport: no
    method may block the event loop.
    """

    name: ClassVar[str]
    Config: ClassVar[type[DriverConfig]]
    default_capabilities: ClassVar[DriverCapabilities] = DriverCapabilities()
    own_process: ClassVar[bool] = False
    """Run in a process of its own in the service (``drivers.hosted``): for drivers that
    keep a timetable the machine sets (a serial stream), which the server's busy
    interpreter lock must not delay."""

    def __init__(
        self, machine: str, config: ConfigT, *, on_status: StatusCallback, clock: Clock
    ) -> None:
        if not isinstance(config, self.Config):
            raise TypeError(
                f"{self.name} needs a {self.Config.__name__}, not {type(config).__name__}"
            )
        self.machine = machine
        self.cfg: ConfigT = config
        """The profile's ``[driver]`` table, validated by the driver's own ``Config``."""
        self.clock = clock
        self._on_status = on_status
        self._status = MachineStatus(state=MachineState.offline, at=clock.now())
        self.log = logging.getLogger(f"drivers.{self.name}.{machine}")

    @property
    def capabilities(self) -> DriverCapabilities:
        return self.default_capabilities

    @property
    def status(self) -> MachineStatus:
        """The last snapshot (also pushed to ``on_status`` whenever it changes)."""
        return self._status

    def _push(self, **changes: Any) -> MachineStatus:
        """Replace fields of the status snapshot and tell the listener if anything changed."""
        status = self._status.model_copy(update={**changes, "at": self.clock.now()})
        changed = not status.same_as(self._status)
        self._status = status
        if changed:
            self._on_status(status)
        return status

    def supports(self, ticket: JobTicket) -> str | None:
        """Why this driver cannot take ``ticket`` (None when it can)."""
        types = self.capabilities.file_types
        if types is not None and ticket.file_type not in types:
            return f"{self.name} machines take {', '.join(sorted(types))}, not {ticket.file_type}"
        return None

    @abstractmethod
    async def connect(self) -> None:
        """Start talking to the machine. Must not raise because it is off: report offline."""

    @abstractmethod
    async def close(self) -> None:
        """Stop every background task and release the device. Idempotent."""

    @abstractmethod
    async def probe(self) -> MachineStatus:
        """Ask the machine now what it is doing (used at start-up and by check-profiles)."""

    @abstractmethod
    async def start(self, ticket: JobTicket) -> None:
        """Hand the job over; return once the machine has it (raise JobRejected or
        DriverUnavailable otherwise). Progress follows through status snapshots."""

    async def pause(self) -> None:
        raise NotSupported(f"{self.name} machines cannot pause")

    async def resume(self) -> None:
        raise NotSupported(f"{self.name} machines cannot resume")

    @abstractmethod
    async def cancel(self) -> None:
        """Stop the current job; the final snapshot says ``cancelled``."""

    async def release(self) -> None:
        """The operator finished and removed the job by hand: forget it, become idle."""

    async def emergency_stop(self) -> str:
        """Stop the machine at once, whatever it is doing, and forget the job; return
        what was done, in words for the machine's event log. A person must then look at
        the machine. Drivers with a faster way than cancelling override this."""
        await self.cancel()
        await self.release()
        return "cancelled the job (this machine has no emergency stop of its own)"

    async def operator_report(self, ref: str, report: dict[str, Any]) -> None:
        """A person at the machine said where job ``ref`` stands (started, which colour
        block is next…). Only machines that cannot tell it themselves use this."""
