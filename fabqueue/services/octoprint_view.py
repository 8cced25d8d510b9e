"""What a slicer's OctoPrint monitor reads (``/api/printer``, ``/api/job``): a machine's
state, temperatures and job, in OctoPrint 1.x's shapes, from what the database holds.

Cura's OctoPrint plugin polls these every few seconds once connected; PrusaSlicer does
not. The answers describe the queue's machines honestly: a machine out of service, not
taking jobs or offline is "not operational" (OctoPrint's 409), and someone else's job
is shown without its name, as on the event stream.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session, col, select

from fabqueue.models import Job, MachineRecord, User
from fabqueue.models.jobs import ACTIVE_STATES
from fabqueue.models.machines import RunnerState
from fabqueue.services.machines import active_job, get_record
from jobs.base import MachineKind

NOT_OPERATIONAL = "Printer is not operational"
"""OctoPrint's words when no printer is connected (answered with 409)."""

_FLAGS = (
    "operational", "paused", "printing", "pausing", "cancelling", "sdReady", "error",
    "ready", "closedOrError", "finishing",
)  # fmt: skip
_TEXT = {"idle": "Operational", "busy": "Printing", "paused": "Paused", "error": "Error"}


class NotOperational(Exception):
    """The machine cannot take a print now: OctoPrint says so with a 409."""


def _usable(record: MachineRecord) -> bool:
    state = str(record.status.get("state", "offline"))
    taking = record.runner_state == RunnerState.accepting and not record.out_of_service
    return taking and state in _TEXT


def sensor_name(name: str) -> str:
    """fabqueue's sensor names (``hotend``, ``hotend1``, ``bed``) as OctoPrint's."""
    if name == "hotend":
        return "tool0"
    if name.startswith("hotend") and name[6:].isdigit():
        return f"tool{name[6:]}"
    return name


def temperatures(status: dict[str, Any]) -> dict[str, dict[str, float | None]]:
    out: dict[str, dict[str, float | None]] = {}
    for name, reading in (status.get("temperatures") or {}).items():
        if isinstance(reading, dict) and "actual" in reading:
            out[sensor_name(name)] = {
                "actual": reading["actual"],
                "target": reading.get("target"),
                "offset": 0,
            }
    return out


def state_of(state: str, message: str | None = None) -> dict[str, Any]:
    """OctoPrint's ``state`` object (text and flags) for a machine state."""
    flags = dict.fromkeys(_FLAGS, False)
    flags["operational"] = state in ("idle", "busy", "paused")
    flags["ready"] = state == "idle"
    flags["printing"] = state == "busy"
    flags["paused"] = state == "paused"
    flags["error"] = flags["closedOrError"] = state == "error"
    text = _TEXT.get(state, "Offline")
    if state == "error" and message:
        text = f"Error: {message}"
    return {"text": text, "flags": flags}


def printer(session: Session, slug: str | None) -> dict[str, Any]:
    """``GET /api/printer`` for one machine, or for the queue (``slug`` None: the
    queue takes a print when any printer does)."""
    if slug is None:
        usable = [r for r in _printers(session) if _usable(r)]
        if not usable:
            raise NotOperational(NOT_OPERATIONAL)
        return {"state": state_of("idle"), "temperature": {}, "sd": {"ready": False}}
    record = get_record(session, slug)
    if not _usable(record):
        raise NotOperational(NOT_OPERATIONAL)
    status = record.status
    return {
        "state": state_of(str(status["state"]), status.get("message")),
        "temperature": temperatures(status),
        "sd": {"ready": False},
    }


def _printers(session: Session) -> list[MachineRecord]:
    return list(
        session.exec(select(MachineRecord).where(MachineRecord.kind == MachineKind.fdm_printer))
    )


def _latest_active(session: Session, user: User) -> Job | None:
    return session.exec(
        select(Job)
        .where(Job.owner_id == user.id)
        .where(col(Job.state).in_([s.value for s in ACTIVE_STATES]))
        .order_by(col(Job.id).desc())
    ).first()


def job(session: Session, slug: str | None, user: User, now: datetime) -> dict[str, Any]:
    """``GET /api/job``: the job on the machine (``slug`` None: the asker's own job on
    any printer), or "Operational" with no file when there is none."""
    current = active_job(session, slug) if slug is not None else _latest_active(session, user)
    if slug is not None:
        get_record(session, slug)  # 404 for a machine that is not there
    if current is None:
        return _job_answer("Operational", None, None, {})
    mine = user.is_staff or current.owner_id == user.id
    return _job_answer(_job_text(current), current if mine else None, now, _progress(current, now))


def _job_text(current: Job) -> str:
    if current.state.value == "starting":
        return "Starting"
    return "Paused" if current.state.value == "paused" else "Printing"


def _progress(current: Job, now: datetime) -> dict[str, Any]:
    elapsed = (now - current.started_at).total_seconds() if current.started_at else None
    return {
        "completion": None if current.progress is None else round(current.progress * 100, 2),
        "printTime": None if elapsed is None else int(elapsed),
        "printTimeLeft": None if current.eta_s is None else int(current.eta_s),
        "printTimeLeftOrigin": None if current.eta_s is None else "estimate",
    }


def _job_answer(
    text: str, shown: Job | None, now: datetime | None, progress: dict[str, Any]
) -> dict[str, Any]:
    duration = (shown.analysis or {}).get("duration_s") if shown is not None else None
    return {
        "state": text,
        "job": {
            "file": {
                "name": shown.file_name if shown else None,
                "origin": "local" if shown else None,
                "size": shown.file_size if shown else None,
            },
            "estimatedPrintTime": duration,
            "user": None,
        },
        "progress": progress or {"completion": None, "printTime": None, "printTimeLeft": None},
    }
