"""The worker process's side: limits first, then one task at a time from the pipe.

The limits are set before any task is read, so nothing a file makes a reader do
escapes them. The memory limit holds for the worker's whole life; the CPU limit is
re-armed before each task (``RLIMIT_CPU`` counts the process's total CPU time), then
again with the task's own allowance once it is read (it grows with the task's files),
and the kernel's SIGXCPU ends a worker that spends more than its allowance on one file.
"""

from __future__ import annotations

import math
import os
import pickle
import resource
from multiprocessing.connection import Connection
from typing import Any

MB = 1024 * 1024
NICENESS = 10
"""Workers yield the CPU to the server process: answering /health beats analysing."""


def _cpu_used_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _arm_cpu_limit(cpu_s: int) -> None:
    # The hard limit stays open so the soft one can be moved on for the next task; the
    # default action of SIGXCPU ends the process, which the pool reports and replaces.
    soft = math.ceil(_cpu_used_s()) + cpu_s
    resource.setrlimit(resource.RLIMIT_CPU, (soft, resource.RLIM_INFINITY))


def _set_process_limits(memory_mb: int) -> None:
    # The hard limit stays open: the limit is against a reader blowing up on a file, not
    # against our own code, and a slicer started by a worker sets its own, larger limit.
    limit = memory_mb * MB
    resource.setrlimit(resource.RLIMIT_AS, (limit, resource.RLIM_INFINITY))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    os.nice(NICENESS)


def _answer(fn: Any, args: tuple[Any, ...]) -> tuple[str, Any]:
    try:
        return ("ok", fn(*args))
    except MemoryError:
        return ("memory", None)
    except RecursionError:
        return ("error", RecursionError("the file nests too deeply"))
    except Exception as exc:  # the reader's own refusal, or its bug: the caller decides
        return ("error", exc)


def _dump(answer: tuple[str, Any]) -> bytes:
    try:
        return pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL)
    except MemoryError:
        return pickle.dumps(("memory", None))
    except Exception as exc:  # an exception that does not pickle: keep its words
        detail = RuntimeError(f"{type(answer[1]).__name__}: {answer[1]} ({exc})"[:500])
        return pickle.dumps(("error", detail))


def serve(conn: Connection, memory_mb: int, cpu_s: int) -> None:
    """Run tasks until the pool closes the pipe. After a MemoryError the worker answers
    and leaves: its heap may be in pieces, and the pool starts a fresh one."""
    _set_process_limits(memory_mb)
    while True:
        try:
            request = conn.recv_bytes()
        except (EOFError, OSError):
            return
        _arm_cpu_limit(cpu_s)
        try:
            fn, args, task_cpu_s = pickle.loads(request)
        except MemoryError:
            answer: tuple[str, Any] = ("memory", None)
        else:
            _arm_cpu_limit(task_cpu_s)  # the task's own allowance, for the files it reads
            answer = _answer(fn, args)
        del request
        status = answer[0]
        data = _dump(answer)
        del answer
        conn.send_bytes(data)
        del data
        if status == "memory":
            return
