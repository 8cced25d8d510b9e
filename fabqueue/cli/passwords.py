"""``fabqueue user passwd NAME`` and ``fabqueue user pin NAME``: signing in to the pages.

Asked twice at the terminal (never on the command line, where ``ps`` and the shell's
history would keep it); ``--stdin`` reads one line, for scripts.
"""

from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any

from fabqueue.cli.common import fail


def register(usub: Any) -> None:
    pw = usub.add_parser("passwd", help="set a user's password for the pages")
    pw.add_argument("name")
    pw.add_argument("--stdin", action="store_true", help="read the password from stdin")
    pw.set_defaults(func=set_password, secret="password")
    pin = usub.add_parser("pin", help="set the PIN that unlocks a locked counter tablet")
    pin.add_argument("name")
    pin.add_argument("--stdin", action="store_true", help="read the PIN from stdin")
    pin.set_defaults(func=set_password, secret="pin")


def _ask(what: str, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    first = getpass.getpass(f"New {what}: ")
    if getpass.getpass(f"The same {what} again: ") != first:
        fail(f"the two {what}s differ; nothing changed")
    return first


def set_password(args: argparse.Namespace) -> int:
    from fabqueue.db import make_engine, make_session_factory, session_scope
    from fabqueue.services import accounts
    from fabqueue.services.errors import ServiceError
    from fabqueue.settings import Settings

    secret = _ask(args.secret.upper() if args.secret == "pin" else args.secret, args.stdin)
    engine = make_engine(Settings().db_url)
    try:
        with session_scope(make_session_factory(engine, None)) as session:
            if args.secret == "pin":
                accounts.set_pin(session=session, name=args.name, pin=secret)
            else:
                accounts.set_password(session=session, name=args.name, password=secret)
    except ServiceError as exc:
        fail(exc.message)
    finally:
        engine.dispose()
    print(f"{args.secret} of {args.name!r} set")
    return 0
