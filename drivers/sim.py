"""A simulated machine: runs jobs on the injected clock, with knobs for speed and faults.

The shipped profiles use it, so ``make run`` works with no hardware; tests use it to
drive the whole dispatcher.
"""

from __future__ import annotations

import asyncio
import contextlib

from pydantic import Field

from drivers.base import (
    Clock,
    Driver,
    DriverCapabilities,
    DriverConfig,
    DriverUnavailable,
    JobPhase,
    JobProgress,
    JobRejected,
    JobTicket,
    MachineState,
    MachineStatus,
    StatusCallback,
)


class SimConfig(DriverConfig):
    speed: float = Field(60.0, gt=0)
    """Simulated seconds per real second: 60 turns a one-hour print into a minute."""
    default_duration_s: float = Field(600.0, gt=0)
    """Duration of a job whose analysis gives none."""
    tick_s: float = Field(0.5, gt=0)
    """Progress is reported this often (clock seconds)."""
    start_delay_s: float = Field(0.0, ge=0)
    """Time the machine takes to accept a job (upload, heating…)."""
    fail_at: float | None = Field(None, gt=0, lt=1)
    """Fail every job at this fraction of its run."""
    go_offline_at: float | None = Field(None, gt=0, lt=1)
    """Vanish at this fraction of every job's run (unplugged cable)."""
    offline_for_s: float = Field(5.0, ge=0)
    """How long the machine stays away after vanishing."""
    offline: bool = False
    """Start unreachable (a machine that is switched off)."""
    reject_file_types: list[str] = Field(default_factory=list)


class SimDriver(Driver[SimConfig]):
    name = "sim"
    Config = SimConfig
    default_capabilities = DriverCapabilities(
        can_pause=True, reports_progress=True, can_resume=True
    )

    def __init__(
        self, machine: str, config: SimConfig, *, on_status: StatusCallback, clock: Clock
    ) -> None:
        super().__init__(machine, config, on_status=on_status, clock=clock)
        self._task: asyncio.Task[None] | None = None
        self._comeback: asyncio.Task[None] | None = None
        self._resumed = asyncio.Event()
        self._resumed.set()
        self._cancelled = False
        self.received: list[JobTicket] = []
        """Every ticket the machine accepted, in order (for tests)."""

    async def connect(self) -> None:
        self._push(state=MachineState.offline if self.cfg.offline else MachineState.idle)

    async def close(self) -> None:
        for task in (self._task, self._comeback):
            if task and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._comeback = None

    async def probe(self) -> MachineStatus:
        return self.status

    async def start(self, ticket: JobTicket) -> None:
        if self.status.state == MachineState.offline:
            raise DriverUnavailable("the simulated machine is offline")
        if self._task and not self._task.done():
            raise DriverUnavailable("the simulated machine is busy")
        if ticket.file_type in self.cfg.reject_file_types:
            raise JobRejected(f"this machine does not take {ticket.file_type} files")
        if self.cfg.start_delay_s:
            await self.clock.sleep(self.cfg.start_delay_s)
        self.received.append(ticket)
        self._cancelled = False
        self._resumed.set()
        start_at = float((ticket.resume_from or {}).get("progress", 0.0))
        self._push(
            state=MachineState.busy,
            job=JobProgress(ref=ticket.ref, phase=JobPhase.running, progress=start_at),
            message=None,
        )
        self._task = asyncio.create_task(self._run(ticket, start_at), name=f"sim-{self.machine}")

    async def _run(self, ticket: JobTicket, start_at: float) -> None:
        total = (ticket.estimated_duration_s or self.cfg.default_duration_s) / self.cfg.speed
        done = start_at * total
        # A fault happens when the run crosses its mark, not again on a resumed run.
        fail_at = self.cfg.fail_at if (self.cfg.fail_at or 0) > start_at else None
        offline_at = self.cfg.go_offline_at if (self.cfg.go_offline_at or 0) > start_at else None
        while done < total:
            await self._resumed.wait()
            if self._cancelled:
                return
            # Never step over a scripted fault: it must happen where it was asked to.
            marks = [f * total for f in (fail_at, offline_at) if f]
            next_stop = min([m for m in marks if m > done + 1e-12] + [total])
            step = min(self.cfg.tick_s, next_stop - done)
            await self.clock.sleep(step)
            if self._cancelled:
                return
            if not self._resumed.is_set():
                continue
            done += step
            fraction = min(1.0, done / total)
            if fail_at is not None and fraction >= fail_at - 1e-9:
                self._finish(ticket, JobPhase.failed, fraction, "simulated failure")
                return
            if offline_at is not None and fraction >= offline_at - 1e-9:
                self._vanish(ticket, fraction)
                return
            self._push(
                job=JobProgress(
                    ref=ticket.ref,
                    phase=JobPhase.running,
                    progress=fraction,
                    eta_s=(total - done) * self.cfg.speed,
                    checkpoint={"progress": round(fraction, 6)},
                )
            )
        self._finish(ticket, JobPhase.done, 1.0, None)

    def _finish(self, ticket: JobTicket, phase: JobPhase, fraction: float, msg: str | None) -> None:
        self._push(
            state=MachineState.idle,
            job=JobProgress(
                ref=ticket.ref,
                phase=phase,
                progress=fraction,
                eta_s=0.0 if phase == JobPhase.done else None,
                message=msg,
                checkpoint={"progress": round(fraction, 6)},
            ),
        )

    def _vanish(self, ticket: JobTicket, fraction: float) -> None:
        self._push(
            state=MachineState.offline,
            job=JobProgress(
                ref=ticket.ref,
                phase=JobPhase.lost,
                progress=fraction,
                message="simulated disconnection",
                checkpoint={"progress": round(fraction, 6)},
            ),
            message="the simulated machine vanished",
        )
        self._comeback = asyncio.create_task(self._come_back())

    async def _come_back(self) -> None:
        await self.clock.sleep(self.cfg.offline_for_s)
        self._push(state=MachineState.idle, message=None)

    async def pause(self) -> None:
        job = self.status.job
        if job is None or job.phase != JobPhase.running:
            raise DriverUnavailable("nothing is running")
        self._resumed.clear()
        self._push(state=MachineState.paused, job=job.model_copy(update={"phase": JobPhase.paused}))

    async def resume(self) -> None:
        job = self.status.job
        if job is None or job.phase != JobPhase.paused:
            raise DriverUnavailable("nothing is paused")
        self._push(state=MachineState.busy, job=job.model_copy(update={"phase": JobPhase.running}))
        self._resumed.set()

    async def cancel(self) -> None:
        job = self.status.job
        if job is None or job.phase not in (JobPhase.running, JobPhase.paused, JobPhase.starting):
            return
        self._cancelled = True
        self._resumed.set()
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._push(
            state=MachineState.idle,
            job=job.model_copy(update={"phase": JobPhase.cancelled, "eta_s": None}),
        )

    async def emergency_stop(self) -> str:
        """Stops at once, mid-step."""
        self._cancelled = True
        self._resumed.set()
        if self._task and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        self._push(state=MachineState.idle, job=None, message="emergency stop")
        return "the simulated machine stopped at once"

    async def release(self) -> None:
        if self._task and not self._task.done():
            await self.cancel()
        self._push(state=MachineState.idle, job=None)
