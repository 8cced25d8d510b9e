"""``fabqueue user add NAME --role ROLE`` (prints the new API token on its last line),
``user token new|list|revoke``, ``user deactivate``, ``user list``.

These work on the database directly: they are for whoever administers the node. A token
revoked here stops working within the servers' token cache time (10 s)."""

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
    _register_tokens(usub)
    off = usub.add_parser("deactivate", help="deactivate a user: every token stops working")
    off.add_argument("name")
    off.set_defaults(func=deactivate)
    ls = usub.add_parser("list", help="list users")
    ls.set_defaults(func=list_users)
    from fabqueue.cli.bookings import register_user_actions

    register_user_actions(usub)
    passwords.register(usub)


def _register_tokens(usub: Any) -> None:
    tok = usub.add_parser("token", help="a user's API tokens: new, list, revoke")
    tsub = tok.add_subparsers(dest="token_command", required=True, metavar="ACTION")
    new = tsub.add_parser("new", help="issue another API token for a user")
    new.add_argument("name")
    new.add_argument("--label", default="")
    new.set_defaults(func=new_token)
    ls = tsub.add_parser("list", help="a user's tokens (prefix, label, dates; never secrets)")
    ls.add_argument("name")
    ls.set_defaults(func=list_tokens)
    rv = tsub.add_parser("revoke", help="revoke a user's token(s) by id, prefix or label")
    rv.add_argument("name")
    rv.add_argument("--id", type=int, dest="token_id")
    rv.add_argument("--prefix", help="the token's first characters (fq_…), or the token")
    rv.add_argument("--label", help="every token with this label")
    rv.set_defaults(func=revoke)


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


def list_tokens(args: argparse.Namespace) -> int:
    from fabqueue.auth import find_user, tokens_of
    from fabqueue.services.errors import ServiceError

    with _session()() as session:
        try:
            user = find_user(session, args.name)
        except ServiceError as exc:
            fail(exc.message)
        for t in tokens_of(session, user):
            state = f"revoked {t.revoked_at:%Y-%m-%d %H:%M}" if t.revoked_at else "active"
            print(f"{t.id:>4}  {t.prefix or '(old)':<12} {state:<23} {t.label}")
    return 0


def revoke(args: argparse.Namespace) -> int:
    from fabqueue.auth import find_user, matching_tokens, revoke_tokens
    from fabqueue.clock import utcnow
    from fabqueue.db import session_scope
    from fabqueue.services.errors import ServiceError

    try:
        with session_scope(_session()) as session:
            user = find_user(session, args.name)
            found = matching_tokens(
                session, user, token_id=args.token_id, prefix=args.prefix, label=args.label
            )
            revoke_tokens(found, utcnow())
            ids = [t.id for t in found]
    except ServiceError as exc:
        fail(exc.message)
    print(f"revoked {len(ids)} token(s) of {args.name}: {', '.join(map(str, ids))}")
    return 0


def deactivate(args: argparse.Namespace) -> int:
    from fabqueue.auth import deactivate_user, find_user
    from fabqueue.clock import utcnow
    from fabqueue.db import session_scope
    from fabqueue.services.errors import ServiceError

    try:
        with session_scope(_session()) as session:
            deactivate_user(session, find_user(session, args.name), utcnow())
    except ServiceError as exc:
        fail(exc.message)
    print(f"{args.name} deactivated; their tokens are revoked")
    return 0


def list_users(_args: argparse.Namespace) -> int:
    from sqlmodel import select

    from fabqueue.models import User

    with _session()() as session:
        for user in session.exec(select(User).order_by(User.name)):
            inactive = "" if user.active else " (inactive)"
            print(f"{user.id:>4}  {user.role.value:<12} {user.name}{inactive}")
    return 0
