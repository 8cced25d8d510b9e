"""What a test must not leave behind: a machine driver still running after its test.

A driver left running keeps reopening its port; when the port's name is given to a
later test's pseudo-terminal, it writes into that test's line (a Marlin greeting in
the middle of a cutter's HPGL). A server that lost track of a driver would do the same
to a real port."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
import time
import uuid
from pathlib import Path

from drivers.hosted.child import COMM_PREFIX

SESSION = f"FABQUEUE_TEST_SESSION={uuid.uuid4().hex}"
"""Put in this test session's environment, so inherited by every process it starts
(servers, and their driver processes): another session's drivers are not ours."""
os.environ["FABQUEUE_TEST_SESSION"] = SESSION.partition("=")[2]

ORPHAN_GRACE_S = 20.0
"""A driver whose server was killed notices within a second and lets go of its port
within ten: allowed before it counts as left behind."""


def driver_processes() -> set[int]:
    """The driver processes this test session started, directly or through a server
    (named by drivers/hosted/child.py, and with this session in their environment)."""
    found = set()
    mark = SESSION.encode() + b"\0"
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if (proc / "comm").read_text().startswith(COMM_PREFIX) and mark in (
                proc / "environ"
            ).read_bytes():
                found.add(int(proc.name))
    return found


def line_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("marlin-")]


def left_behind(before: set[int]) -> list[str]:
    """Driver processes started since ``before`` that are still running after the grace
    time (killed, and named), and the printer line threads still running here."""
    deadline = time.monotonic() + ORPHAN_GRACE_S
    while (new := driver_processes() - before) and time.monotonic() < deadline:
        time.sleep(0.2)
    names = []
    for pid in new:
        with contextlib.suppress(OSError):
            names.append(Path(f"/proc/{pid}/comm").read_text().strip())
            os.kill(pid, signal.SIGKILL)
    return names + line_threads()
