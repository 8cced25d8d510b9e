"""The pool: a fixed number of warm worker processes fed from a bounded queue.

Each worker slot is a parent thread that owns one child process and blocks on its
pipe, so neither the event loop nor the API's threads wait on file work: they hand a
task over and await its future. The queue has a maximum length: past it a caller is
told the pool is busy (the API answers 503) instead of piling work up in memory.

Children come from a fork server (:mod:`multiprocessing`'s ``forkserver``) that has
imported the readers once: a new worker is a fork of a small single-threaded process,
not of the threaded server, and starts warm.
"""

from __future__ import annotations

import asyncio
import logging
import math
import multiprocessing
import os
import pickle
import signal
import threading
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, TypeVar

from fabqueue.workers.child import MB, serve
from fabqueue.workers.fair import ANYONE, Closed, FairQueue, Full

log = logging.getLogger(__name__)

T = TypeVar("T")

MODELS_LANE = "models"
"""The lane where 3D models are sliced."""

MAX_ANSWER_BYTES = 64 * 1024 * 1024
"""An answer larger than this is refused before it is read into the server's memory."""
_PRELOAD = ["fabqueue.workers.tasks"]


@dataclass(frozen=True)
class WorkerLimits:
    cpu_s: int = 20
    """CPU seconds one task may use, plus ``cpu_s_per_mb`` for each megabyte of the files
    it is given (the 200,000-stitch embroidery reads in 0.5 s, a 10 MB G-code analyses in
    ~6 s on a small computer)."""
    cpu_s_per_mb: float = 1.0
    """A large honest file takes longer to read: a 50 MB G-code needs ~11 CPU s on this
    project's 2-core test machine and three times that on a small café computer, which a
    flat allowance would refuse though the upload limit lets it in. A hostile file gains
    nothing from it: its cost grows with its size too, and the per-file budgets inside
    ``jobs/`` (arc segments, stitches, path segments) cut it short in proportion."""
    memory_mb: int = 1024
    """Address space of a worker, for its whole life."""
    wall_s: float = 0.0
    """A task neither done nor out of CPU after this long (blocked) is ended too;
    0: ten times ``cpu_s`` plus 30 s, since a niced worker on a busy machine gets
    its CPU seconds slowly and the CPU limit, not this, should speak for a costly file."""

    def __post_init__(self) -> None:
        if self.wall_s <= 0:
            object.__setattr__(self, "wall_s", self.cpu_s * 10.0 + 30.0)

    def cpu_for(self, size_bytes: int) -> int:
        """CPU seconds for a task given files of ``size_bytes`` in all."""
        return self.cpu_s + math.ceil(self.cpu_s_per_mb * size_bytes / MB)

    def wall_for(self, cpu_s: int) -> float:
        """Wall time for a task allowed ``cpu_s``: its extra CPU at the default's pace."""
        return self.wall_s + 10.0 * (cpu_s - self.cpu_s)


def input_bytes(args: tuple[Any, ...]) -> int:
    """The size of the files a task is handed (its ``Path`` arguments)."""
    total = 0
    for arg in args:
        if isinstance(arg, Path):
            try:
                total += arg.stat().st_size
            except OSError:  # not there: the task will say so itself
                continue
    return total


class PoolBusy(Exception):
    """Every worker is busy and the queue is full: try again shortly."""


class WorkFailed(Exception):
    """A worker was stopped by a limit, or died, while doing a task."""

    def __init__(self, kind: str, reason: str) -> None:
        super().__init__(reason)
        self.kind = kind
        """cpu | memory | time | crash | closed"""
        self.reason = reason


@dataclass
class _Task:
    fn: Callable[..., Any]
    args: tuple[Any, ...]
    cpu_s: int
    future: Future[Any] = field(default_factory=Future)


class _Slot:
    """One worker process and the thread that talks to it."""

    def __init__(self, pool: WorkerPool, index: int) -> None:
        self.pool = pool
        self.index = index
        self.proc: BaseProcess | None = None
        self.conn: Connection | None = None
        self.thread = threading.Thread(
            target=self._loop, name=f"fabqueue-worker-{index}", daemon=True
        )

    def _loop(self) -> None:
        if self.pool.prestart:
            try:
                self._ensure()
            except Exception:  # the first task will try again, and say why
                log.exception("could not start file worker %d", self.index)
        while True:
            try:
                owner, task = self.pool._queue.get()
            except Closed:
                break
            try:
                self._serve(task)
            finally:
                self.pool._queue.done(owner)
        self.stop()

    def _serve(self, task: _Task) -> None:
        if not task.future.set_running_or_notify_cancel():
            return
        try:
            result = self._run(task)
        except BaseException as exc:  # handed to the caller, who raised nothing yet
            task.future.set_exception(exc)
        else:
            task.future.set_result(result)

    def _ensure(self) -> Connection:
        if self.conn is not None and self.proc is not None and self.proc.is_alive():
            return self.conn
        self.stop()
        ours: Connection
        ours, theirs = self.pool._mp.Pipe()
        limits = self.pool.limits
        proc = self.pool._mp.Process(
            target=serve,
            args=(theirs, limits.memory_mb, limits.cpu_s),
            name=f"fabqueue-worker-{self.index}",
            daemon=True,
        )
        proc.start()
        theirs.close()
        self.proc, self.conn = proc, ours
        with self.pool._count_lock:
            self.pool.started += 1
        return ours

    def _run(self, task: _Task) -> Any:
        conn = self._ensure()
        try:
            request = (task.fn, task.args, task.cpu_s)
            conn.send_bytes(pickle.dumps(request, protocol=pickle.HIGHEST_PROTOCOL))
            if not conn.poll(self.pool.limits.wall_for(task.cpu_s)):
                self.stop()
                raise self.pool.failure("time", None, task.cpu_s)
            data = conn.recv_bytes(MAX_ANSWER_BYTES)
        except (EOFError, BrokenPipeError, ConnectionResetError):
            raise self.pool.failure("crash", self._exit_code(), task.cpu_s) from None
        except OSError:  # "bad message length": larger than MAX_ANSWER_BYTES
            self.stop()
            raise self.pool.failure("answer", None, task.cpu_s) from None
        status, value = pickle.loads(data)
        if status == "ok":
            return value
        if status == "memory":
            self._exit_code()
            raise self.pool.failure("memory", None, task.cpu_s)
        raise value

    def _exit_code(self) -> int | None:
        proc = self.proc
        if proc is None:
            return None
        proc.join(5.0)
        code = proc.exitcode
        self.stop()
        return code

    def stop(self) -> None:
        proc, conn = self.proc, self.conn
        self.proc = self.conn = None
        if conn is not None:
            conn.close()
        if proc is not None:
            if proc.is_alive():
                proc.kill()
            proc.join(5.0)
            proc.close()


class WorkerPool:
    """``size`` warm workers under ``limits``; at most ``queue_max`` tasks waiting,
    served fairly between their owners (:mod:`fabqueue.workers.fair`)."""

    def __init__(
        self,
        size: int,
        limits: WorkerLimits,
        *,
        queue_max: int = 16,
        prestart: bool = False,
        owner_cap: int | None = None,
    ) -> None:
        """``prestart``: start the workers now, in the background, so the first upload
        does not wait for one (the first start also starts the fork server: seconds).
        ``owner_cap``: workers one owner may hold at once; by default all but one, so
        one person's files never hold every worker (one, on a one-worker pool)."""
        if size < 1:
            raise ValueError("a worker pool needs at least one worker")
        self.size = size
        self.limits = limits
        self.queue_max = queue_max
        self.prestart = prestart
        self.owner_cap = owner_cap if owner_cap is not None else max(1, size - 1)
        self._count_lock = threading.Lock()
        self.started = 0
        """Worker processes started so far (a replaced worker counts again)."""
        self._queue: FairQueue[_Task] = FairQueue(queue_max, self.owner_cap)
        self._mp = _context()
        self._slots = [_Slot(self, i) for i in range(size)]
        self._closed = False
        self.lanes: dict[str, WorkerPool] = {}
        """Pools of their own for long tasks (slicing a model takes half a minute), so
        they queue behind each other and never hold every worker of this pool."""
        for slot in self._slots:
            slot.thread.start()

    def lane(self, name: str) -> WorkerPool:
        """The pool for tasks of ``name``: its own lane when one was made, else this one."""
        return self.lanes.get(name, self)

    def failure(self, kind: str, exit_code: int | None, cpu_s: int | None = None) -> WorkFailed:
        """The words a caller shows for a worker stopped by a limit (``cpu_s``: the
        task's allowance)."""
        limits = self.limits
        cpu_s = limits.cpu_s if cpu_s is None else cpu_s
        if kind == "crash" and exit_code == -signal.SIGXCPU:
            kind = "cpu"
        reasons = {
            "cpu": f"took more than {cpu_s} s of CPU",
            "memory": f"needed more than {limits.memory_mb} MB of memory",
            "time": f"was not done after {limits.wall_for(cpu_s):.0f} s",
            "answer": f"gave an answer larger than {MAX_ANSWER_BYTES >> 20} MB",
            "crash": f"made the worker stop ({_describe_exit(exit_code)})",
        }
        return WorkFailed(kind, reasons[kind])

    def submit(
        self, fn: Callable[..., T], *args: Any, wait: bool = False, owner: str | None = None
    ) -> Future[T]:
        """Queue ``fn(*args)`` for a worker. ``wait``: block for room in the queue
        (the dispatcher's conversions) instead of raising :class:`PoolBusy` (uploads).
        ``owner``: whose work it is (``user:12``, ``dispatch``), the unit of fairness;
        work without one shares a single turn."""
        if self._closed:
            raise WorkFailed("closed", "the worker pool is shut down")
        task = _Task(fn, args, self.limits.cpu_for(input_bytes(args)))
        try:
            self._queue.put(task, owner or ANYONE, block=wait)
        except Full:
            raise PoolBusy(
                f"the server is busy reading other files ({self.queue_max} waiting): "
                "try again in a minute"
            ) from None
        except Closed:
            raise WorkFailed("closed", "the worker pool is shut down") from None
        return task.future

    def run(
        self, fn: Callable[..., T], *args: Any, wait: bool = False, owner: str | None = None
    ) -> T:
        """Run ``fn(*args)`` in a worker; for threads (the CLI, the dispatcher's)."""
        return self.submit(fn, *args, wait=wait, owner=owner).result()

    async def arun(self, fn: Callable[..., T], *args: Any, owner: str | None = None) -> T:
        """Run ``fn(*args)`` in a worker without holding a thread while it waits."""
        return await asyncio.wrap_future(self.submit(fn, *args, owner=owner))

    def pending(self) -> int:
        return self._queue.qsize()

    def worker_pids(self) -> list[int]:
        return [s.proc.pid for s in self._slots if s.proc is not None and s.proc.pid]

    def close(self) -> None:
        """Refuse new work, drop what waits, end the workers."""
        if self._closed:
            return
        self._closed = True
        for task in self._queue.close():
            task.future.cancel()
        for slot in self._slots:
            slot.thread.join(10.0)
        for lane in self.lanes.values():
            lane.close()


def _describe_exit(code: int | None) -> str:
    if code is None:
        return "no exit status"
    if code < 0:
        try:
            return signal.Signals(-code).name
        except ValueError:
            return f"signal {-code}"
    return f"exit status {code}"


_mp_lock = threading.Lock()


def _context() -> Any:
    """The fork server, told once which modules to preload.

    One BLAS thread: OpenBLAS would otherwise reserve buffers per core when the fork
    server imports numpy, eating every worker's address-space limit before any file.
    """
    with _mp_lock:
        os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
        os.environ.setdefault("OMP_NUM_THREADS", "1")
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(_PRELOAD)
        return ctx
