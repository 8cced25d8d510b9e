"""The nodes of a network: who is alive, and taking an offline node's work back."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from pydantic import BaseModel

from fabqueue.api.deps import CtxDep, CurrentUser, ReadSessionDep, SessionDep, StaffUser
from fabqueue.context import AppContext
from fabqueue.services import nodes as node_service

router = APIRouter(prefix="/nodes", tags=["nodes"])


class NodePublic(BaseModel):
    name: str
    online: bool
    heartbeat_at: datetime | None
    """Its last sign of life; empty when it stopped cleanly."""
    offline_since: datetime | None
    machines: list[str]
    pid: int | None = None
    """Staff only: the process holding the node's lease, and its computer."""
    host: str | None = None


class TakeBackResult(BaseModel):
    node: str
    interrupted: list[int]
    """Jobs now ``interrupted`` (checkpoints kept): resume or requeue them."""
    waiting: list[str]
    """Machines now waiting for a person."""
    left_stopped: list[str]


def this_node(ctx: AppContext) -> str | None:
    """The node this process runs, when it does (it holds the lease): alive."""
    return ctx.settings.node if ctx.dispatcher is not None else None


def _public(state: node_service.NodeState, staff: bool) -> NodePublic:
    return NodePublic(
        name=state.name,
        online=state.online,
        heartbeat_at=state.heartbeat_at,
        offline_since=state.offline_since,
        machines=state.machines,
        pid=state.pid if staff else None,
        host=state.host if staff else None,
    )


@router.get("", response_model=list[NodePublic])
def list_nodes(session: ReadSessionDep, ctx: CtxDep, user: CurrentUser) -> list[NodePublic]:
    """Every node, online or offline since its last heartbeat
    (``FABQUEUE_NODE_OFFLINE_AFTER_S``, default three heartbeats)."""
    states = node_service.node_states(
        session,
        now=ctx.clock.now(),
        offline_after_s=ctx.settings.offline_after_s,
        here=this_node(ctx),
    )
    return [_public(s, user.is_staff) for s in states]


@router.post("/{name}/take-back", response_model=TakeBackResult)
def take_back(name: str, ctx: CtxDep, session: SessionDep, user: StaffUser) -> TakeBackResult:
    """Take an offline node's work back: its active jobs are interrupted (checkpoints
    kept) and its machines wait for a person. 409 while the node is alive."""
    done = node_service.take_back(
        session=session,
        name=name,
        user=user,
        now=ctx.clock.now(),
        offline_after_s=ctx.settings.offline_after_s,
        here=this_node(ctx),
    )
    return TakeBackResult(
        node=done.node,
        interrupted=done.interrupted,
        waiting=done.waiting,
        left_stopped=done.left_stopped,
    )
