"""``fabqueue user add NAME --role ROLE``: prints the new API token on its last line."""

from __future__ import annotations

import argparse
from typing import Any

from fabqueue.cli import passwords
from fabqueue.cli.common import fail


def register(sub: Any) -> None:
    p = sub.add_parser("user", help="users and their API tokens")
    usub = p.add_subparsers(dest="user_command", required=True, metavar="ACTION")
    add = usub.add_parser("add", help="create a user and print an API token")
    add.add_argument("name")
    add.add_argument("--role", required=True, choices=["admin", "facilitator", "member", "client"])
    add.set_defaults(func=add_user)
    tok = usub.add_parser("token", help="issue another API token for a user")
    tok.add_argument("name")
    tok.add_argument("--label", default="")
    tok.set_defaults(func=new_token)
    ls = usub.add_parser("list", help="list users")
    ls.set_defaults(func=list_users)
    passwords.register(usub)


def _session() -> Any:
    from fabqueue.db import make_engine, make_session_factory
    from fabqueue.settings import Settings

    return make_session_factory(make_engine(Settings().db_url), None)


def add_user(args: argparse.Namespace) -> int:
    from fabqueue.auth import create_user, issue_token
    from fabqueue.clock import utcnow
    from fabqueue.db import session_scope
    from fabqueue.models import Role
    from fabqueue.services.errors import ServiceError

    try:
        with session_scope(_session()) as session:
            user = create_user(session=session, name=args.name, role=Role(args.role), at=utcnow())
            token = issue_token(session=session, user=user, label="created", at=utcnow())
    except ServiceError as exc:
        fail(exc.message)
    print(f"user {args.name!r} ({args.role}) created; API token (shown once):")
    print(token)
    return 0


def new_token(args: argparse.Namespace) -> int:
    from sqlmodel import select

    from fabqueue.auth import issue_token
    from fabqueue.clock import utcnow
    from fabqueue.db import session_scope
    from fabqueue.models import User

    with session_scope(_session()) as session:
        user = session.exec(select(User).where(User.name == args.name)).first()
        if user is None:
            fail(f"no user {args.name!r}")
        token = issue_token(session=session, user=user, label=args.label, at=utcnow())
    print(token)
    return 0


def list_users(_args: argparse.Namespace) -> int:
    from sqlmodel import select

    from fabqueue.models import User

    with _session()() as session:
        for user in session.exec(select(User).order_by(User.name)):
            inactive = "" if user.active else " (inactive)"
            print(f"{user.id:>4}  {user.role.value:<12} {user.name}{inactive}")
    return 0
