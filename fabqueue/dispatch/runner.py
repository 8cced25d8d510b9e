"""One machine's runner: claims jobs, hands them to the driver, turns its reports into states.

The runner is the only code that joins a driver to the database. It works in one task,
one step at a time, so the machine never sees two orders at once. Database calls are
short and run in a worker thread, off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from drivers.base import (
    FINAL_PHASES,
    Driver,
    DriverError,
    DriverUnavailable,
    JobPhase,
    JobProgress,
    JobRejected,
    JobTicket,
    MachineState,
    MachineStatus,
)
from fabqueue.clock import Clock
from fabqueue.db import SessionFactory, session_scope
from fabqueue.dispatch.claim import active_jobs_of, claim_next, worth_claiming
from fabqueue.dispatch.outcomes import ending_for
from fabqueue.dispatch.prepare import prepare_ticket
from fabqueue.dispatch.scheduler import MachineInfo
from fabqueue.events import EventBus, queue_bus_event
from fabqueue.lease import NodeLease
from fabqueue.models import Job, JobEvent, MachineEvent, MachineRecord, RunnerState
from fabqueue.profiles import MachineProfile, ProfileSet
from fabqueue.settings import Settings
from fabqueue.states import ACTIVE_STATES, InvalidTransition, JobState, mark_running, transition
from fabqueue.storage import FileMissing, FileStore
from fabqueue.workers import WorkerPool

T = TypeVar("T")

RETRY_MAX_S = 60.0
RECHECK_S = 0.05
"""An idle machine that just found nothing to take looks again at most this often."""
CANCEL_TIMEOUT_S = 60.0
FILE_MISSING = "input file not found"


@dataclass
class _Current:
    job_id: int
    ref: str
    state: JobState
    ran: bool = False
    run_seconds: float = 0.0
    running_since: float | None = None
    cancel_sent_at: float | None = None
    pause_sent: bool = False
    offline_since: float | None = None
    operator_report: dict[str, Any] | None = None
    """The last report of a person at the machine handed to the driver."""


class MachineRunner:
    def __init__(
        self,
        *,
        profile: MachineProfile,
        driver_cls: type[Driver[Any]],
        profiles: ProfileSet,
        sessions: SessionFactory,
        read_sessions: SessionFactory,
        bus: EventBus,
        clock: Clock,
        settings: Settings,
        store: FileStore,
        workers: WorkerPool,
        lease: NodeLease,
    ) -> None:
        self.profile = profile
        self.slug = profile.slug
        self.sessions = sessions
        self.read_sessions = read_sessions
        self.bus = bus
        self.clock = clock
        self.settings = settings
        self.store = store
        self.workers = workers
        self.lease = lease
        self.materials = profiles.materials
        self.info = MachineInfo(
            slug=profile.slug,
            file_types=profiles.file_types(profile),
            track_material=profile.track_material,
            params=profile.params,
            default_job_s=profile.booking.default_job_minutes * 60,
            member_jobs_need_booking=profiles.site is not None
            and profiles.site.booking.member_jobs == "during_booking",
        )
        assert profile.driver_config is not None
        self.driver = driver_cls(
            profile.slug, profile.driver_config, on_status=self._on_status, clock=clock
        )
        self.current: _Current | None = None
        self.log = logging.getLogger(f"fabqueue.runner.{self.slug}")
        self._wake = asyncio.Event()
        self._pending: list[MachineStatus] = []
        self._stopping = False
        self._task: asyncio.Task[None] | None = None
        self._retry_at = 0.0
        self._retry_delay = 1.0
        self._last_progress_write = -1e9
        self._wake_for_machine = True
        self._blocked_until = 0.0
        self._recheck = False
        self._status_dirty = True
        self._status_written: tuple[tuple[Any, ...] | None, float] | None = None
        self._status_key: tuple[Any, ...] | None = None
        self._requests_check = True
        self._requests_at = -1e9
        """Look at the job's record for requests (cancel, pause…): when woken for this
        machine, at every poll and when the machine's state changes — not for each
        progress report, which a machine may send many times a second."""
        self._estop_check = True
        """Look for an emergency stop request (at start-up, when told, at every poll)."""
        self.looks = 0
        """Times the runner looked at the queue: tests wait on it instead of sleeping."""

    # --- life cycle -------------------------------------------------------------------

    async def start(self) -> None:
        try:
            await self.driver.connect()
        except DriverError as exc:
            self.log.warning("cannot connect: %s", exc)
        await self.reconcile()
        self._task = asyncio.create_task(self._loop(), name=f"runner-{self.slug}")

    async def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.driver.close()

    def wake(self, *, queue_only: bool = False) -> None:
        """``queue_only``: woken because a job was queued somewhere, nothing else."""
        if queue_only and self.current is not None:
            return  # busy with a job: a longer queue changes nothing for it now
        if not queue_only:
            self._wake_for_machine = True
            self._requests_check = True
        self._wake.set()

    def emergency_stop(self) -> None:
        """Staff asked for an emergency stop: the request is in the database; act now."""
        self._estop_check = True
        self._wake_for_machine = True
        self._wake.set()

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                await self.step()
            except Exception:
                self.log.exception("runner step failed; retrying")
                await asyncio.sleep(1.0)
            await self._wait_for_wake()

    async def _wait_for_wake(self) -> None:
        timeout = self.settings.dispatch_poll_s
        if self._recheck:  # a queue change was put off: look again when allowed
            left = self._blocked_until - asyncio.get_running_loop().time()
            timeout = min(timeout, max(0.0, left))
        try:
            await asyncio.wait_for(self._wake.wait(), timeout=timeout)
        except TimeoutError:
            if not self._recheck:
                # The poll looks at everything afresh, an emergency stop asked through
                # another node included.
                self._wake_for_machine = True
                self._estop_check = True
            self._requests_check = True
        self._wake.clear()

    async def _read(self, fn: Callable[[Session], T]) -> T:
        """A read-only look: never queues behind writers."""

        def run() -> T:
            with self.read_sessions() as session:
                return fn(session)

        return await asyncio.to_thread(run)

    async def _db(self, fn: Callable[[Session], T]) -> T:
        def run() -> T:
            with session_scope(self.sessions) as session:
                return fn(session)

        return await asyncio.to_thread(run)

    # --- status from the driver ------------------------------------------------------

    def _on_status(self, status: MachineStatus) -> None:
        key = _status_key(status)
        if key != self._status_key:
            self._status_key = key
            self._requests_check = True
        self._pending.append(status)
        self._status_dirty = True
        self._wake_for_machine = True
        self.bus.publish(
            "machine:status", {"machine": self.slug, "status": status.model_dump(mode="json")}
        )
        self._wake.set()

    async def step(self) -> None:
        pending, self._pending = self._pending, []
        for status in pending:
            await self._handle_status(status)
        if self._estop_check:
            await self._emergency_stop_if_asked()
        if self._status_dirty and self._status_due():
            self._status_dirty = False
            await self._write_machine_status()
        if self.current is not None:
            now = self.clock.monotonic()
            # Requests made through another node come with no event here: at least
            # once per poll period, however often the machine reports.
            if self._requests_check or now - self._requests_at >= self.settings.dispatch_poll_s:
                self._requests_check, self._requests_at = False, now
                await self._follow_requests()
            await self._watch_offline()
        elif not self._stopping:
            await self._claim_and_start()

    def _status_due(self) -> bool:
        """A change of state is written at once; progress and temperatures alone at most
        once per progress interval (the board has them live from the bus; the record is
        for other nodes and restarts). A machine may report many times a second: a
        simulated one does, and each write is a transaction."""
        key = self._status_key  # the driver's latest status, keyed as it arrived
        now = self.clock.monotonic()
        last = self._status_written
        if (
            last is not None
            and last[0] == key
            and now - last[1] < self.settings.progress_write_interval_s
        ):
            return False  # still dirty: the next step after the interval writes it
        self._status_written = (key, now)
        return True

    async def _write_machine_status(self) -> None:
        snapshot = self.driver.status.model_dump(mode="json")

        def write(session: Session) -> None:
            record = session.get(MachineRecord, self.slug)
            if record is not None:
                record.status = snapshot
                record.updated_at = self.clock.now()
                session.add(record)

        await self._db(write)

    async def _handle_status(self, status: MachineStatus) -> None:
        cur = self.current
        progress = status.job
        if cur is None or progress is None or progress.ref != cur.ref:
            return
        if progress.phase == JobPhase.running:
            if cur.state == JobState.starting:
                await self._begin_running(cur, "machine started")
            elif cur.state == JobState.paused:
                await self._move(cur, JobState.running, [JobState.paused], "machine resumed")
            self._mark_running(cur)
            await self._write_progress(cur, progress)
        elif progress.phase == JobPhase.paused and cur.state == JobState.running:
            self._mark_stopped(cur)
            await self._move(
                cur,
                JobState.paused,
                [JobState.running],
                progress.message or "machine paused",
                # The machine paused itself (filament out…) or obeyed us: either way the
                # desired state is now "paused" until someone resumes.
                values={"pause_requested": True},
            )
        elif progress.phase in FINAL_PHASES:
            await self._finish(cur, progress)
        else:
            await self._write_progress(cur, progress)

    def _mark_running(self, cur: _Current) -> None:
        cur.ran = True
        if cur.running_since is None:
            cur.running_since = self.clock.monotonic()

    def _mark_stopped(self, cur: _Current) -> None:
        if cur.running_since is not None:
            cur.run_seconds += self.clock.monotonic() - cur.running_since
            cur.running_since = None

    async def _write_progress(self, cur: _Current, p: JobProgress, force: bool = False) -> None:
        now = self.clock.monotonic()
        if not force and now - self._last_progress_write < self.settings.progress_write_interval_s:
            return
        self._last_progress_write = now

        def write(session: Session) -> None:
            job = session.get(Job, cur.job_id)
            if job is None or job.machine != self.slug:
                return
            operator = job.checkpoint.get("operator")
            if operator is not None and p.checkpoint.get("operator") != operator:
                return  # a person reported since the driver spoke: theirs is newer
            job.progress = p.progress
            job.eta_s = p.eta_s
            if p.checkpoint:
                job.checkpoint = p.checkpoint
            job.updated_at = self.clock.now()
            session.add(job)
            queue_bus_event(
                session,
                "job:progress",
                {
                    "job_id": cur.job_id,
                    "machine": self.slug,
                    "progress": p.progress,
                    "eta_s": p.eta_s,
                },
            )

        await self._db(write)

    async def _move(
        self,
        cur: _Current,
        to: JobState,
        expected: Iterable[JobState],
        reason: str,
        values: dict[str, Any] | None = None,
        runner: RunnerState | None = None,
    ) -> bool:
        """Transition the current job; False if someone else moved it first."""
        now = self.clock.now()

        def write(session: Session) -> None:
            transition(
                session,
                cur.job_id,
                to,
                expected=expected,
                actor=f"machine:{self.slug}",
                reason=reason,
                at=now,
                values=values,
            )
            if runner is not None:
                self._set_runner(session, runner)

        return await self._guarded(cur, to, write)

    async def _begin_running(self, cur: _Current, reason: str) -> bool:
        """The machine says the job is under way: ``starting`` -> ``running``."""
        now = self.clock.now()

        def write(session: Session) -> None:
            mark_running(session, cur.job_id, actor=f"machine:{self.slug}", reason=reason, at=now)

        return await self._guarded(cur, JobState.running, write)

    async def _guarded(self, cur: _Current, to: JobState, write: Callable[[Session], None]) -> bool:
        try:
            await self._db(write)
        except InvalidTransition as exc:
            self.log.info("job %s moved elsewhere: %s", cur.job_id, exc)
            await self._lost_track(cur)
            return False
        cur.state = to
        return True

    def _set_runner(self, session: Session, state: RunnerState) -> None:
        record = session.get(MachineRecord, self.slug)
        if record is not None and record.runner_state != state:
            record.runner_state = state
            record.updated_at = self.clock.now()
            session.add(record)
            queue_bus_event(
                session, "machine:runner", {"machine": self.slug, "runner_state": state.value}
            )

    async def _lost_track(self, cur: _Current) -> None:
        """The job left this machine by another hand (operator, staff): let it go."""
        state = await self._db(lambda s: (j := s.get(Job, cur.job_id)) and JobState(j.state))
        if state in ACTIVE_STATES:
            cur.state = state
            return
        await self._let_go()

    async def _let_go(self) -> None:
        """The job left the machine by another hand. If that was an emergency stop, stop
        the machine; otherwise forget the job and let the machine be idle."""
        if await self._emergency_stop_if_asked():
            return
        self.current = None
        with contextlib.suppress(DriverError):
            await self.driver.release()

    async def _emergency_stop_if_asked(self) -> bool:
        """Carry out a pending emergency stop through the driver; True if there was one."""
        self._estop_check = False
        asked = await self._read(_emergency_stop_asked(self.slug))
        if asked is None:
            return False
        try:
            said = await self.driver.emergency_stop()
        except DriverError as exc:
            said = f"the machine did not take the emergency stop ({exc}): stop it by hand"
        self.log.warning("emergency stop: %s", said)
        cur, self.current = self.current, None
        if cur is not None:
            self._mark_stopped(cur)
        await self._db(lambda s: self._record_emergency_stop(s, asked, said, cur))
        return True

    def _record_emergency_stop(
        self, session: Session, asked: datetime, said: str, cur: _Current | None
    ) -> None:
        now = self.clock.now()
        record = session.get(MachineRecord, self.slug)
        if record is not None and record.emergency_stop_at == asked:
            record.emergency_stop_at = None  # a newer request stays pending
            session.add(record)
        job = session.get(Job, cur.job_id) if cur is not None else None
        if job is not None and job.id is not None and job.state in ACTIVE_STATES:
            # Claimed while the stop was being asked: it stops with the machine.
            transition(
                session,
                job.id,
                JobState.interrupted,
                expected=[JobState(job.state)],
                actor=f"machine:{self.slug}",
                reason="emergency stop",
                at=now,
                values={"message": "emergency stop", "eta_s": None},
            )
        session.add(
            MachineEvent(
                machine=self.slug,
                at=now,
                actor=f"machine:{self.slug}",
                action="emergency_stopped",
                detail=said[:500],
            )
        )
        queue_bus_event(
            session, "machine:emergency_stopped", {"machine": self.slug, "detail": said}
        )

    async def _finish(self, cur: _Current, p: JobProgress) -> None:
        self._mark_stopped(cur)
        if cur.state == JobState.starting and p.phase == JobPhase.done:
            await self._begin_running(cur, "machine started")
        end = ending_for(p.phase, p.message, auto_advance=self.profile.auto_advance, ran=cur.ran)
        values: dict[str, Any] = {
            "progress": p.progress,
            "eta_s": None,
            "actual_duration_s": round(cur.run_seconds, 3) if cur.ran else None,
            "finished_at": self.clock.now(),
            "cancel_requested": False,
            "pause_requested": False,
            **end.values,
        }
        if p.checkpoint or p.phase != JobPhase.lost:
            values["checkpoint"] = p.checkpoint
        if p.phase == JobPhase.lost:
            values.pop("finished_at")
        await self._move(cur, end.to, list(end.expected), end.reason, values, end.runner)
        self.current = None

    async def _interrupt(self, cur: _Current, reason: str, checkpoint: dict[str, Any]) -> None:
        self._mark_stopped(cur)
        values: dict[str, Any] = {"message": reason[:500], "eta_s": None}
        if checkpoint:
            values["checkpoint"] = checkpoint
        await self._move(
            cur,
            JobState.interrupted,
            ACTIVE_STATES,
            reason,
            values,
            RunnerState.awaiting_operator,
        )
        self.current = None

    # --- requests from people (flags on the job) --------------------------------------

    async def _follow_requests(self) -> None:
        cur = self.current
        assert cur is not None
        job = await self._read(lambda s: s.get(Job, cur.job_id))
        if job is None or job.machine != self.slug or job.state not in ACTIVE_STATES:
            await self._let_go()
            return
        cur.state = JobState(job.state)
        await self._pass_operator_report(cur, job.checkpoint.get("operator"))
        mono = self.clock.monotonic()
        if job.cancel_requested:
            if cur.cancel_sent_at is None:
                cur.cancel_sent_at = mono
                try:
                    await self.driver.cancel()
                except DriverError as exc:
                    await self._force_cancel(cur, f"cancelled; the machine did not answer ({exc})")
            elif mono - cur.cancel_sent_at > CANCEL_TIMEOUT_S:
                await self._force_cancel(cur, "cancelled; the machine never confirmed: check it")
            return
        if job.pause_requested and cur.state == JobState.running and not cur.pause_sent:
            cur.pause_sent = True
            try:
                await self.driver.pause()
            except DriverError as exc:
                cur.pause_sent = False
                await self._set_pause_flag(cur.job_id, False, f"pause failed: {exc}")
        elif not job.pause_requested and cur.state == JobState.paused:
            cur.pause_sent = False
            try:
                await self.driver.resume()
            except DriverError as exc:
                await self._set_pause_flag(cur.job_id, True, f"resume failed: {exc}")

    async def _pass_operator_report(self, cur: _Current, report: Any) -> None:
        """A person said the job started (or which block is next): it runs from now on,
        and the driver of a machine that cannot tell shows it."""
        if not isinstance(report, dict) or report == cur.operator_report:
            return
        cur.operator_report = report
        if cur.state == JobState.running:
            self._mark_running(cur)
        try:
            await self.driver.operator_report(cur.ref, dict(report))
        except DriverError as exc:
            self.log.warning("the driver did not take the operator's report: %s", exc)

    async def _set_pause_flag(self, job_id: int, paused: bool, message: str) -> None:
        """The machine refused: make the desired state match what it is really doing."""

        def write(session: Session) -> None:
            job = session.get(Job, job_id)
            if job is not None:
                job.pause_requested = paused
                job.message = message[:500]
                session.add(job)

        await self._db(write)

    async def _force_cancel(self, cur: _Current, reason: str) -> None:
        self._mark_stopped(cur)
        await self._move(
            cur,
            JobState.cancelled,
            ACTIVE_STATES,
            reason,
            {"finished_at": self.clock.now(), "cancel_requested": False, "message": reason},
            RunnerState.awaiting_operator,
        )
        self.current = None

    async def _watch_offline(self) -> None:
        cur = self.current
        if cur is None:
            return
        if self.driver.status.state != MachineState.offline:
            cur.offline_since = None
            return
        mono = self.clock.monotonic()
        if cur.offline_since is None:
            cur.offline_since = mono
        elif mono - cur.offline_since >= self.settings.offline_grace_s:
            await self._interrupt(
                cur, f"the machine was unreachable for {self.settings.offline_grace_s:.0f} s", {}
            )

    # --- taking the next job ------------------------------------------------------------

    def _claim(self, session: Session) -> JobTicket | None:
        return claim_next(
            session,
            machine=self.info,
            kind=self.profile.kind,
            store=self.store,
            now=self.clock.now(),
        )

    async def _claim_and_start(self) -> None:
        if self.driver.status.state != MachineState.idle:
            return
        if self.clock.monotonic() < self._retry_at:
            return
        if not self._time_to_look():
            return
        try:
            ticket = await self._look()
        finally:
            self.looks += 1
        if ticket is not None:
            await self._hand_over(ticket)

    def _time_to_look(self) -> bool:
        """Every submission wakes the runners of its kind. A burst of submissions
        elsewhere need not re-ask a machine that was not taking work a moment ago (until
        the next poll), nor one that found nothing for it a few milliseconds ago (it
        looks again shortly, once, for the whole burst); a change on the machine itself,
        or the poll, re-asks at once."""
        now = asyncio.get_running_loop().time()
        woken_for_machine, self._wake_for_machine = self._wake_for_machine, False
        if self._blocked_until > now and not woken_for_machine:
            self._recheck = True
            return False
        self._recheck = False
        return True

    async def _look(self) -> JobTicket | None:
        """Claim the next job this machine should run, if it takes work and one fits."""
        # Look before taking the write lock, so a busy queue does not make every runner
        # queue for it too.
        now = asyncio.get_running_loop().time()
        verdict = await self._read(lambda s: worth_claiming(s, self.slug, self.profile.kind))
        if verdict in ("stopped", "occupied"):
            self._blocked_until = now + self.settings.dispatch_poll_s
        elif verdict == "empty":
            self._blocked_until = now + RECHECK_S
        else:
            self._blocked_until = 0.0
        if verdict != "yes":
            return None
        try:
            return await self._db(self._claim)
        except (InvalidTransition, IntegrityError) as exc:
            # Another runner or node took the job, or the machine got a job meanwhile.
            self.log.debug("claim lost: %s", exc)
            self._wake.set()
            return None

    async def _hand_over(self, ticket: JobTicket) -> None:
        """Prepare the claimed job for the machine and give it to the driver."""
        cur = _Current(job_id=ticket.job_id, ref=ticket.ref, state=JobState.starting)
        self.current = cur
        try:
            ticket = await asyncio.to_thread(
                prepare_ticket,
                ticket,
                machine=self.profile,
                materials=self.materials,
                store=self.store,
                workers=self.workers,
            )
            reason = self.driver.supports(ticket)
            if reason is not None:
                raise JobRejected(reason)
            await self.driver.start(ticket)
        except JobRejected as exc:
            await self._rejected(cur, exc)
            return
        except FileMissing as exc:
            await self._file_missing(cur, exc)
            return
        except Exception as exc:  # DriverUnavailable, or a driver bug: the job is not lost
            await self._unavailable(cur, exc)
            return
        self._retry_delay = 1.0
        if (
            not self.driver.capabilities.needs_operator_start
            and cur.state == JobState.starting
            and await self._begin_running(cur, "sent to the machine")
        ):
            self._mark_running(cur)

    async def _rejected(self, cur: _Current, exc: JobRejected) -> None:
        self.log.warning("job %s rejected: %s", cur.job_id, exc)
        await self._move(
            cur,
            JobState.failed,
            [JobState.starting],
            f"rejected by the machine: {exc}",
            {"message": str(exc)[:500], "finished_at": self.clock.now()},
        )
        self.current = None

    async def _file_missing(self, cur: _Current, exc: FileMissing) -> None:
        """The file may still be on its way (a node saving it, a database link down): put
        the job back a few times, counted in its events whichever node tried, then fail
        it — a job that can never run must not hold the queue forever."""
        tries = self.settings.file_missing_tries
        failed_before = await self._read(lambda s: _missing_tries(s, cur.job_id))
        if failed_before + 1 >= tries:
            reason = f"{FILE_MISSING}: {exc} (tried {tries} times); submit the file again"
            self.log.warning("job %s failed: %s", cur.job_id, reason)
            await self._move(
                cur,
                JobState.failed,
                [JobState.starting],
                reason,
                {"message": reason[:500], "finished_at": self.clock.now()},
            )
            self.current = None
            return
        await self._unavailable(cur, exc, reason=f"{FILE_MISSING}: {exc}; back in the queue")

    async def _unavailable(self, cur: _Current, exc: Exception, reason: str = "") -> None:
        if not isinstance(exc, DriverUnavailable | FileMissing):
            self.log.exception("driver failed to start job %s", cur.job_id)
        await self._move(
            cur,
            JobState.queued,
            [JobState.starting],
            reason or f"machine unavailable, back in the queue: {exc}",
            {"machine": None, "message": (reason or f"{self.slug} unavailable: {exc}")[:500]},
        )
        self.current = None
        self._retry_at = self.clock.monotonic() + self._retry_delay
        self._retry_delay = min(RETRY_MAX_S, self._retry_delay * 2)

    # --- start-up -----------------------------------------------------------------------

    async def reconcile(self) -> None:
        """After a restart: keep watching a job the machine still runs; interrupt the rest
        (only with the node's lease held: else another process may run those jobs)."""
        if not self.lease.held:
            return
        node = self.lease.node
        jobs = await self._db(lambda s: active_jobs_of(s, self.slug, node))
        if not jobs:
            return
        try:
            status = await self.driver.probe()
        except DriverError:
            status = self.driver.status
        for job in jobs:
            assert job.id is not None
            running = status.job
            cur = _Current(job_id=job.id, ref=job.driver_ref or "", state=JobState(job.state))
            if (
                running is not None
                and job.driver_ref
                and running.ref == job.driver_ref
                and running.phase not in FINAL_PHASES
            ):
                self.log.info("job %s still runs on the machine; watching it again", job.id)
                cur.ran = True
                cur.running_since = self.clock.monotonic()
                self.current = cur
                continue
            self.current = cur
            await self._interrupt(
                cur,
                "fabqueue restarted while the job was active; the machine is not running it",
                job.checkpoint,
            )


def _missing_tries(session: Session, job_id: int) -> int:
    """Times the job was put back because its file could not be found."""
    rows = session.exec(
        select(JobEvent.id)
        .where(JobEvent.job_id == job_id)
        .where(col(JobEvent.reason).startswith(FILE_MISSING))
    )
    return len(list(rows))


def _emergency_stop_asked(slug: str) -> Callable[[Session], datetime | None]:
    def read(session: Session) -> datetime | None:
        record = session.get(MachineRecord, slug)
        return record.emergency_stop_at if record is not None else None

    return read


def _status_key(status: MachineStatus) -> tuple[Any, ...]:
    """What makes a status a change of state rather than progress: anything a person
    reads (the machine's message, the job's), not figures that move every second."""
    job = status.job
    return (status.state, status.message, job and job.ref, job and job.phase, job and job.message)
