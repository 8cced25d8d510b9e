"""Printers run by an OctoPrint server, through its REST API (octorest, wrapped).

The driver uploads each job as ``<folder>/<job ref>.gcode`` and starts it in the same
request; the file name is the job's reference, so after a restart of fabqueue the job
OctoPrint is printing can be recognised as ours. State comes from ``/api/printer``'s
flags (their texts differ between versions), progress and ETA from ``/api/job``, and
how a job ended from the file's print history. OctoPrint being unreachable makes the
machine offline; the job is not given up for that.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
from dataclasses import dataclass
from typing import Any

from pydantic import Field, field_validator

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
    Temperature,
)
from drivers.octoprint.client import (
    AuthError,
    Conflict,
    NotFound,
    OctoPrintClient,
    OctoPrintError,
    Unreachable,
)

_ACTIVE_FLAGS = ("printing", "paused", "pausing", "cancelling", "finishing", "resuming")
_PAUSE_RETRY_S = 2.0
_SENSORS = {"tool0": "hotend", "bed": "bed", "chamber": "chamber"}


class OctoPrintConfig(DriverConfig):
    url: str
    """Where OctoPrint answers, e.g. ``http://octopi.local`` or ``http://127.0.0.1:5000``."""
    api_key_env: str = Field("FABQUEUE_OCTOPRINT_API_KEY", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    """Name of the environment variable holding the API key (never the key itself)."""
    port: str | None = None
    """Serial port OctoPrint should open (``VIRTUAL`` for its virtual printer); None lets
    OctoPrint use its own preference."""
    baudrate: int | None = Field(None, gt=0)
    printer_profile: str | None = None
    auto_connect: bool = True
    """Ask OctoPrint to connect to the printer whenever it is not connected."""
    reconnect_s: float = Field(10.0, gt=0)
    folder: str = Field("fabqueue", pattern=r"^[A-Za-z0-9_.-]+$")
    """Folder of OctoPrint's storage the jobs are uploaded to."""
    keep_files: bool = False
    """Leave each job's file in OctoPrint once the job is over."""
    poll_s: float = Field(1.0, gt=0)
    timeout_s: float = Field(10.0, gt=0)
    start_grace_s: float = Field(15.0, gt=0)
    """How long an uploaded job may take to show up as printing."""

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http:// or https:// address")
        return value.rstrip("/")


@dataclass
class _Tracked:
    ticket_ref: str
    remote: str
    successes: int
    failures: int
    started_at: float
    estimated_s: float | None = None
    seen_printing: bool = False
    cancel_requested: bool = False
    pause_wanted: bool | None = None
    """Pause (True) or resume (False) asked and not yet seen done; None: no wish, so a
    pause or resume made at OctoPrint itself is left alone."""
    pause_sent_at: float = 0.0
    progress: float = 0.0
    filepos: int = 0


class OctoPrintDriver(Driver[OctoPrintConfig]):
    name = "octoprint"
    Config = OctoPrintConfig
    default_capabilities = DriverCapabilities(
        file_types=frozenset({"gcode", "gco", "g"}),
        can_pause=True,
        reports_progress=True,
    )

    def __init__(
        self, machine: str, config: OctoPrintConfig, *, on_status: StatusCallback, clock: Clock
    ) -> None:
        super().__init__(machine, config, on_status=on_status, clock=clock)
        self._client: OctoPrintClient | None = None
        self._task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        self._tracked: _Tracked | None = None
        self._last_connect = -1e9
        self._flags: dict[str, bool] = {}
        self._orders = 0
        """Pause and resume orders given so far: a poll that began before one of them
        saw the old state and must not report it over the order's own report."""

    # --- life cycle -------------------------------------------------------------------------

    async def connect(self) -> None:
        if self._task is None or self._task.done():
            self._push(state=MachineState.connecting)
            self._task = asyncio.create_task(self._run(), name=f"octoprint-{self.machine}")

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        client, self._client = self._client, None
        if client is not None:
            await asyncio.to_thread(client.close)

    async def probe(self) -> MachineStatus:
        await self._poll()
        return self.status

    async def _run(self) -> None:
        while True:
            try:
                await self._poll()
            except Exception:  # a bug must not stop the watching
                self.log.exception("polling OctoPrint failed")
            # asyncio.timeout, not wait_for: on 3.11 wait_for swallows a cancellation
            # that races with the event, and close() would then never return.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.cfg.poll_s):
                    await self._wake.wait()
            self._wake.clear()

    def _client_or_none(self) -> OctoPrintClient | None:
        if self._client is None:
            key = os.environ.get(self.cfg.api_key_env, "").strip()
            if not key:
                self._push(
                    state=MachineState.error,
                    message=f"the OctoPrint API key is not set: put it in the environment "
                    f"variable {self.cfg.api_key_env}",
                )
                return None
            self._client = OctoPrintClient(self.cfg.url, key, timeout_s=self.cfg.timeout_s)
        return self._client

    async def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        return await asyncio.to_thread(fn, *args, **kwargs)

    # --- watching ---------------------------------------------------------------------------

    async def _poll(self) -> None:
        async with self._lock:
            client = self._client_or_none()
            if client is None:
                return
            try:
                await self._poll_with(client)
            except Unreachable as exc:
                self._push(state=MachineState.offline, message=str(exc))
            except AuthError as exc:
                self._push(
                    state=MachineState.error,
                    message=f"OctoPrint refused the API key in {self.cfg.api_key_env}: {exc}",
                )
            except OctoPrintError as exc:
                self._push(state=MachineState.error, message=str(exc))

    async def _poll_with(self, client: OctoPrintClient) -> None:
        orders = self._orders
        printer = await self._call(client.printer)
        if printer is None:
            await self._not_operational(client)
            return
        flags: dict[str, bool] = printer.get("state", {}).get("flags", {})
        self._flags = flags
        temps = self._temperatures(printer.get("temperature") or {})
        if any(flags.get(f) for f in _ACTIVE_FLAGS):
            await self._printing(client, flags, temps, orders)
        elif flags.get("error") or flags.get("closedOrError"):
            text = printer.get("state", {}).get("text", "error")
            self._push(state=MachineState.error, message=f"OctoPrint: {text}", temperatures=temps)
        else:
            changes: dict[str, Any] = {"state": MachineState.idle, "message": None}
            if self._tracked is not None:
                ended = await self._ended(client)
                if ended is None:
                    return  # not started yet
                changes["job"] = ended
            self._push(**changes, temperatures=temps)

    async def _not_operational(self, client: OctoPrintClient) -> None:
        connection = await self._call(client.connection)
        text = str(connection.get("current", {}).get("state", "Closed"))
        tracked = self._tracked
        if tracked is not None and tracked.seen_printing:
            # The line to the printer broke under the job (cable, printer reset).
            self._tracked = None
            self._push(
                state=MachineState.offline,
                message=f"OctoPrint lost the printer ({text})",
                job=self._progress(tracked, JobPhase.lost, f"OctoPrint lost the printer: {text}"),
            )
        else:
            self._push(
                state=MachineState.offline,
                message=f"OctoPrint is not connected to the printer ({text})",
            )
        now = self.clock.monotonic()
        connecting = text.lower().startswith(("connecting", "opening", "detecting"))
        if (
            self.cfg.auto_connect
            and not connecting
            and now - self._last_connect >= self.cfg.reconnect_s
        ):
            self._last_connect = now
            with contextlib.suppress(Conflict):
                await self._call(
                    client.connect, self.cfg.port, self.cfg.baudrate, self.cfg.printer_profile
                )
            self._wake.set()

    async def _printing(
        self,
        client: OctoPrintClient,
        flags: dict[str, bool],
        temps: dict[str, Temperature],
        orders: int,
    ) -> None:
        job = await self._call(client.job)
        path = str(((job.get("job") or {}).get("file") or {}).get("path") or "")
        tracked = self._tracked
        if tracked is None:
            tracked = self._adopt(path)
        if tracked is None or path != tracked.remote:
            # Someone prints something else from OctoPrint itself: busy, not ours.
            self._push(
                state=MachineState.busy,
                message=f"OctoPrint is printing {path or 'a file'} (not from fabqueue)",
                temperatures=temps,
                job=None,
            )
            return
        tracked.seen_printing = True
        if tracked.cancel_requested and not flags.get("cancelling"):
            with contextlib.suppress(Conflict):
                await self._call(client.cancel)
        elif tracked.pause_wanted is not None:
            await self._insist_on_pause(client, tracked, flags)
        progress = job.get("progress") or {}
        completion = progress.get("completion")
        if completion is not None:
            tracked.progress = max(tracked.progress, min(1.0, float(completion) / 100.0))
        tracked.filepos = int(progress.get("filepos") or tracked.filepos)
        left = progress.get("printTimeLeft")
        # "pausing": still emptying its queue, the head still moves; paused once it stops.
        paused = bool(flags.get("paused")) and not flags.get("resuming")
        if orders != self._orders:
            return  # stale: the poll woken by the order says how it went
        phase = JobPhase.paused if paused else JobPhase.running
        self._push(
            state=MachineState.paused if paused else MachineState.busy,
            message=None,
            temperatures=temps,
            job=self._progress(tracked, phase, eta_s=float(left) if left is not None else None),
        )

    async def _insist_on_pause(
        self, client: OctoPrintClient, tracked: _Tracked, flags: dict[str, bool]
    ) -> None:
        """OctoPrint loses a pause that arrives while the print is still starting (its
        start-of-job queue marker sets "Printing" over "Pausing"): ask again until the
        flags show it."""
        want = tracked.pause_wanted
        if want is None:
            return  # no wish: what someone does at OctoPrint itself is theirs
        held = bool(flags.get("paused") or flags.get("pausing"))
        resuming = bool(flags.get("resuming"))
        if (want and flags.get("paused") and not resuming) or (want is False and not held):
            tracked.pause_wanted = None  # done
            return
        on_its_way = flags.get("pausing") if want else resuming
        now = self.clock.monotonic()
        if not on_its_way and now - tracked.pause_sent_at >= _PAUSE_RETRY_S:
            tracked.pause_sent_at = now
            what = "pause" if want else "resume"
            self.log.info("OctoPrint did not %s the print; asking again", what)
            with contextlib.suppress(Conflict):
                await self._call(client.pause if want else client.resume)

    def _adopt(self, path: str) -> _Tracked | None:
        """After a restart: a job in our folder, named by its ref, is one of ours."""
        m = re.fullmatch(rf"{re.escape(self.cfg.folder)}/(fq-[\w-]+)\.gcode", path)
        if m is None:
            return None
        self._tracked = _Tracked(m.group(1), path, 0, 0, self.clock.monotonic())
        self._tracked.seen_printing = True
        return self._tracked

    async def _ended(self, client: OctoPrintClient) -> JobProgress | None:
        """The printer is idle again: how did our job end? (None: it has not begun.)"""
        tracked = self._tracked
        assert tracked is not None
        try:
            info = await self._call(client.file_info, tracked.remote)
        except NotFound:
            info = {}
        prints = info.get("prints") or {}
        successes, failures = int(prints.get("success") or 0), int(prints.get("failure") or 0)
        if successes > tracked.successes:
            phase, message = JobPhase.done, None
        elif (
            tracked.cancel_requested
            and not tracked.seen_printing
            and self.clock.monotonic() - tracked.started_at < self.cfg.start_grace_s
        ):
            return None  # it may still start: cancel it when it does, not before
        elif failures > tracked.failures or tracked.cancel_requested:
            if tracked.cancel_requested:
                phase, message = JobPhase.cancelled, None
            else:
                phase, message = JobPhase.failed, "OctoPrint reports the print as failed"
        elif (
            not tracked.seen_printing
            and self.clock.monotonic() - tracked.started_at < self.cfg.start_grace_s
        ):
            return None  # uploaded and selected; OctoPrint has not started it yet
        else:
            phase, message = JobPhase.failed, "OctoPrint did not run the print"
        self._tracked = None
        if phase == JobPhase.done:
            tracked.progress = 1.0
        if not self.cfg.keep_files:
            with contextlib.suppress(OctoPrintError):
                await self._call(client.delete, tracked.remote)
        return self._progress(
            tracked, phase, message, eta_s=0.0 if phase == JobPhase.done else None
        )

    def _temperatures(self, raw: dict[str, Any]) -> dict[str, Temperature]:
        temps: dict[str, Temperature] = {}
        for key, value in raw.items():
            if not isinstance(value, dict) or value.get("actual") is None:
                continue
            name = _SENSORS.get(key) or (f"hotend{key[4:]}" if key.startswith("tool") else key)
            target = value.get("target")
            temps[name] = Temperature(
                actual=float(value["actual"]), target=float(target) if target is not None else None
            )
        return temps

    def _progress(
        self,
        tracked: _Tracked,
        phase: JobPhase,
        message: str | None = None,
        eta_s: float | None = None,
    ) -> JobProgress:
        if eta_s is None and phase == JobPhase.running and tracked.estimated_s:
            eta_s = tracked.estimated_s * (1.0 - tracked.progress)
        return JobProgress(
            ref=tracked.ticket_ref,
            phase=phase,
            progress=tracked.progress,
            eta_s=eta_s,
            message=message,
            checkpoint={
                "octoprint_path": tracked.remote,
                "filepos": tracked.filepos,
                "progress": round(tracked.progress, 6),
            },
        )

    # --- orders -----------------------------------------------------------------------------

    async def start(self, ticket: JobTicket) -> None:
        reason = self.supports(ticket)
        if reason is not None:
            raise JobRejected(reason)
        async with self._lock:
            client = self._client_or_none()
            if client is None or self.status.state != MachineState.idle or self._tracked:
                raise DriverUnavailable(f"the printer is {self.status.state.value}")
            remote = f"{self.cfg.folder}/{ticket.ref}.gcode"
            try:
                await self._call(client.ensure_folder, self.cfg.folder)
                try:
                    before = (await self._call(client.file_info, remote)).get("prints") or {}
                except NotFound:
                    before = {}
                result = await self._call(client.upload, ticket.file_path, remote, start=True)
                if not result.get("effectivePrint"):
                    await self._call(client.select, remote, start=True)
            except Unreachable as exc:
                raise DriverUnavailable(str(exc)) from exc
            except Conflict as exc:
                raise DriverUnavailable(f"OctoPrint would not start the print: {exc}") from exc
            except OctoPrintError as exc:
                if exc.status in (400, 415):
                    raise JobRejected(f"OctoPrint refused the file: {exc}") from exc
                raise DriverUnavailable(str(exc)) from exc
            self._tracked = _Tracked(
                ticket.ref,
                remote,
                int(before.get("success") or 0),
                int(before.get("failure") or 0),
                self.clock.monotonic(),
                ticket.estimated_duration_s,
            )
            self._push(
                state=MachineState.busy,
                message=None,
                job=self._progress(self._tracked, JobPhase.running),
            )
        self._wake.set()

    async def _pause_command(self, pause: bool) -> None:
        """Ask once, then keep the wish: the watcher asks again if OctoPrint drops it."""
        self._orders += 1
        tracked = self._tracked
        if tracked is not None:
            tracked.pause_wanted = pause
            tracked.pause_sent_at = self.clock.monotonic()
        try:
            await self._job_command("pause" if pause else "resume", "pause" if pause else "resume")
        except DriverUnavailable:
            if tracked is not None:
                tracked.pause_wanted = None  # refused: the caller knows, nothing to insist on
            raise

    async def _job_command(self, what: str, fn_name: str) -> None:
        client = self._client_or_none()
        if client is None or self._tracked is None:
            raise DriverUnavailable(f"no job of ours to {what}")
        try:
            await self._call(getattr(client, fn_name))
        except (Conflict, Unreachable) as exc:
            raise DriverUnavailable(f"OctoPrint could not {what}: {exc}") from exc
        self._wake.set()

    async def pause(self) -> None:
        await self._pause_command(True)

    async def resume(self) -> None:
        await self._pause_command(False)
        tracked = self._tracked
        if tracked is not None:
            # OctoPrint resumes at once; say so now rather than at the next poll.
            self._push(state=MachineState.busy, job=self._progress(tracked, JobPhase.running))

    async def cancel(self) -> None:
        tracked = self._tracked
        if tracked is None:
            return
        tracked.cancel_requested = True
        try:
            await self._job_command("cancel", "cancel")
        except DriverUnavailable:
            if tracked.seen_printing:
                raise
            # Not printing yet: the watcher cancels it as soon as it shows up.

    async def release(self) -> None:
        if self._tracked is not None:
            await self.cancel()
        self._tracked = None
        self._push(job=None)

    async def emergency_stop(self) -> str:
        """What OctoPrint's own emergency-stop button does: ``M112`` through
        ``POST /api/printer/command``. The printer halts; OctoPrint then reports an error
        until someone resets the printer and reconnects."""
        client = self._client_or_none()
        if client is None:
            raise DriverUnavailable("OctoPrint cannot be asked (no API key)")
        try:
            await self._call(client.gcode, ["M112"])
        except OctoPrintError as exc:
            raise DriverUnavailable(f"OctoPrint did not take the emergency stop: {exc}") from exc
        self._tracked = None
        self._push(
            state=MachineState.error,
            job=None,
            message="emergency stop (M112): reset the printer and reconnect OctoPrint",
        )
        return "M112 sent through OctoPrint: the printer halted; reset it and reconnect"
