"""The nodes of a network: which are alive, and taking a dead node's work back.

A node's liveness is its lease's heartbeat (``node_lease.heartbeat_at``): a node whose
last beat is older than the timeout is offline, since that beat. Nothing happens to an
offline node's machines by itself — one of them may still be moving. A member of staff
decides to take its work back: its active jobs are interrupted (their checkpoints kept)
and its machines wait for a person.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlmodel import Session, col, select

from fabqueue.clock import Clock
from fabqueue.events import EventBus, queue_bus_event
from fabqueue.models import Job, MachineEvent, MachineRecord, NodeLeaseRecord, RunnerState, User
from fabqueue.services.errors import Conflict, Forbidden, NotFound
from fabqueue.services.machines import set_runner_state
from fabqueue.states import ACTIVE_STATES, InvalidTransition, JobState, transition

log = logging.getLogger(__name__)


def is_online(heartbeat_at: datetime | None, now: datetime, offline_after_s: float) -> bool:
    """Alive if it beat within the timeout. A beat "in the future" (another node's clock
    runs ahead) counts as alive: never declare a node dead on a clock's word alone."""
    if heartbeat_at is None:
        return False
    return now - heartbeat_at <= timedelta(seconds=offline_after_s)


@dataclass(frozen=True)
class NodeState:
    name: str
    online: bool
    heartbeat_at: datetime | None
    """Its last sign of life; None when it stopped cleanly (its lease row is gone)."""
    pid: int | None = None
    host: str | None = None
    machines: list[str] = field(default_factory=list)

    @property
    def offline_since(self) -> datetime | None:
        return None if self.online else self.heartbeat_at


def node_states(
    session: Session, *, now: datetime, offline_after_s: float, here: str | None = None
) -> list[NodeState]:
    """Every node that holds a lease or owns a machine, by name. ``here``: the node of
    the process asking, when it holds its lease: alive, whatever its last beat says (a
    slow database must not make a node show its own machines offline)."""
    leases = {r.node: r for r in session.exec(select(NodeLeaseRecord))}
    machines: dict[str, list[str]] = {}
    for slug, node in session.exec(
        select(MachineRecord.slug, MachineRecord.node).order_by(col(MachineRecord.slug))
    ):
        machines.setdefault(node, []).append(slug)
    states = []
    for name in sorted(set(leases) | set(machines)):
        lease = leases.get(name)
        beat = lease.heartbeat_at if lease is not None else None
        states.append(
            NodeState(
                name=name,
                online=name == here or is_online(beat, now, offline_after_s),
                heartbeat_at=beat,
                pid=lease.pid if lease is not None else None,
                host=lease.host if lease is not None else None,
                machines=machines.get(name, []),
            )
        )
    return states


def node_state(
    session: Session, name: str, *, now: datetime, offline_after_s: float, here: str | None = None
) -> NodeState:
    for state in node_states(session, now=now, offline_after_s=offline_after_s, here=here):
        if state.name == name:
            return state
    raise NotFound(f"no node {name!r}")


def offline_nodes(
    session: Session, *, now: datetime, offline_after_s: float, here: str | None = None
) -> dict[str, NodeState]:
    """The offline nodes that own machines, by name: what the board marks."""
    return {
        s.name: s
        for s in node_states(session, now=now, offline_after_s=offline_after_s, here=here)
        if not s.online and s.machines
    }


@dataclass(frozen=True)
class TakenBack:
    node: str
    interrupted: list[int]
    waiting: list[str]
    """Machines now waiting for a person."""
    left_stopped: list[str]
    """Machines out of service with nothing on them: they stay stopped."""


def take_back(
    *,
    session: Session,
    name: str,
    user: User,
    now: datetime,
    offline_after_s: float,
    here: str | None = None,
) -> TakenBack:
    """Take an offline node's work back: its active jobs become ``interrupted`` (their
    checkpoints kept, so they can be resumed or requeued), its machines wait for a
    person. Refused while the node's lease is alive. Commits."""
    if not user.is_staff:
        raise Forbidden("only staff can take a node's work back")
    # Hold the node's lease row until this commits: a heartbeat landing meanwhile waits,
    # so "offline" stays true for the whole decision (SQLite has one writer anyway).
    session.exec(
        select(NodeLeaseRecord).where(NodeLeaseRecord.node == name).with_for_update()
    ).first()
    state = node_state(session, name, now=now, offline_after_s=offline_after_s, here=here)
    if state.online:
        beat = state.heartbeat_at.isoformat(timespec="seconds") if state.heartbeat_at else "?"
        raise Conflict(
            f"Le nœud « {name} » est en ligne (dernier signe de vie à {beat}) : on ne "
            "reprend pas le travail d'un nœud vivant.",
            state="online",
            heartbeat_at=state.heartbeat_at.isoformat() if state.heartbeat_at else None,
        )
    who = f"user:{user.id}"
    since = state.heartbeat_at.isoformat(timespec="seconds") if state.heartbeat_at else "unknown"
    reason = f"work taken back from node {name} (offline since {since}) by {user.name}"
    interrupted: list[int] = []
    waiting: list[str] = []
    left_stopped: list[str] = []
    for slug in state.machines:
        record = session.get(MachineRecord, slug)
        assert record is not None
        jobs = _active_jobs(session, slug)
        for job in jobs:
            assert job.id is not None
            try:
                transition(
                    session,
                    job.id,
                    JobState.interrupted,
                    expected=[JobState(job.state)],
                    actor=who,
                    reason=reason,
                    at=now,
                    # The checkpoint stays: the job can be resumed where it stopped.
                    values={"message": reason[:500], "eta_s": None},
                )
            except InvalidTransition:
                continue  # it moved meanwhile (staff, or the node itself): theirs stands
            interrupted.append(job.id)
        if not jobs and record.runner_state == RunnerState.stopped:
            left_stopped.append(slug)
            continue
        # Something may be on the machine, or it may still be moving: a person looks.
        set_runner_state(session, record, RunnerState.awaiting_operator, now)
        waiting.append(slug)
        session.add(
            MachineEvent(
                machine=slug,
                at=now,
                actor=who,
                action="take_back",
                detail=(
                    f"node {name} offline since {since}; "
                    f"{len(jobs)} job(s) interrupted; waits for a person"
                ),
            )
        )
    queue_bus_event(
        session,
        "machine:taken_back",
        {"node": name, "actor": who, "jobs": interrupted, "machines": waiting},
    )
    session.commit()
    return TakenBack(name, interrupted, waiting, left_stopped)


def _active_jobs(session: Session, slug: str) -> list[Job]:
    return list(
        session.exec(
            select(Job)
            .where(Job.machine == slug)
            .where(col(Job.state).in_([s.value for s in ACTIVE_STATES]))
            .order_by(col(Job.id))
        )
    )


class NodeWatcher:
    """Remembers what it last saw of each node, to say when one goes on or off line."""

    def __init__(self) -> None:
        self._seen: dict[str, bool] = {}

    def changes(self, states: list[NodeState]) -> list[NodeState]:
        changed = [s for s in states if self._seen.get(s.name) != s.online]
        self._seen = {s.name: s.online for s in states}
        return changed


async def watch(
    *,
    read_sessions: Callable[[], Session],
    bus: EventBus,
    clock: Clock,
    offline_after_s: float,
    every_s: float,
    here: str | None = None,
) -> None:
    """Say on the event bus (``machine:node``) when a node goes off or on line, so the
    board and the event stream's readers see it without asking."""
    watcher = NodeWatcher()

    def look() -> list[NodeState]:
        with read_sessions() as session:
            states = node_states(
                session, now=clock.now(), offline_after_s=offline_after_s, here=here
            )
        return watcher.changes(states)

    while True:
        try:
            changed = await asyncio.to_thread(look)
        except Exception:  # the database may be away for a while: look again later
            log.warning("could not read the nodes' heartbeats", exc_info=True)
            changed = []
        for state in changed:
            bus.publish("machine:node", node_payload(state))
        await asyncio.sleep(every_s)


def node_payload(state: NodeState) -> dict[str, Any]:
    return {
        "node": state.name,
        "online": state.online,
        "offline_since": state.offline_since.isoformat() if state.offline_since else None,
        "machines": state.machines,
    }
