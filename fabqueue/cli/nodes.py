"""``fabqueue nodes``: which nodes of the network are alive; ``fabqueue nodes take-back
NAME``: take an offline node's work back (the same service the API and the board call)."""

from __future__ import annotations

import argparse
from typing import Any

from fabqueue.cli.common import fail


def register(sub: Any) -> None:
    p = sub.add_parser("nodes", help="the network's nodes: online, or offline since when")
    p.set_defaults(func=list_nodes)
    nsub = p.add_subparsers(dest="nodes_command", metavar="ACTION")
    t = nsub.add_parser(
        "take-back",
        help="interrupt an offline node's active jobs and make its machines wait for a person",
    )
    t.add_argument("name")
    t.add_argument("--by", help="staff member taking it back (default: the first admin)")
    t.set_defaults(func=take_back)


def list_nodes(_args: argparse.Namespace) -> int:
    from fabqueue.cli.bookings import _sessions, _settings
    from fabqueue.clock import utcnow
    from fabqueue.services import nodes

    settings = _settings()
    with _sessions()() as session:
        states = nodes.node_states(session, now=utcnow(), offline_after_s=settings.offline_after_s)
    for s in states:
        if s.online:
            seen = "online"
        elif s.heartbeat_at is not None:
            seen = f"offline since {s.heartbeat_at.isoformat(timespec='seconds')}"
        else:
            seen = "offline (stopped)"
        where = f" pid {s.pid} on {s.host}" if s.pid is not None else ""
        print(f"{s.name}\t{seen}\t{','.join(s.machines) or '-'}\t{where.strip()}")
    return 0


def take_back(args: argparse.Namespace) -> int:
    from fabqueue.cli.bookings import _sessions, _settings, _staff
    from fabqueue.clock import utcnow
    from fabqueue.services import nodes
    from fabqueue.services.errors import ServiceError

    settings = _settings()
    with _sessions()() as session:
        user = _staff(session, args.by)
        try:
            done = nodes.take_back(
                session=session,
                name=args.name,
                user=user,
                now=utcnow(),
                offline_after_s=settings.offline_after_s,
            )
        except ServiceError as exc:
            fail(exc.message)
    jobs = ", ".join(str(i) for i in done.interrupted) or "none"
    print(f"node {done.node}: job(s) interrupted: {jobs}")
    if done.waiting:
        print(f"waiting for a person: {', '.join(done.waiting)}")
    if done.left_stopped:
        print(f"left stopped: {', '.join(done.left_stopped)}")
    return 0
