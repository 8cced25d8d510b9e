"""``fabqueue mail list | retry``: the e-mails not sent yet, and sending failed ones again."""

from __future__ import annotations

import argparse
from typing import Any

from fabqueue.cli.common import fail


def register(sub: Any) -> None:
    p = sub.add_parser("mail", help="e-mails to people: what is waiting or failed")
    msub = p.add_subparsers(dest="mail_command", required=True, metavar="ACTION")
    ls = msub.add_parser("list", help="failed and waiting e-mails (failed first)")
    ls.add_argument("--all", action="store_true", help="also those sent or skipped")
    ls.set_defaults(func=list_mail)
    rt = msub.add_parser("retry", help="send failed e-mails again")
    rt.add_argument("ids", nargs="*", type=int, help="which (default: every failed one)")
    rt.set_defaults(func=retry_mail)


def _sessions() -> Any:
    from fabqueue.db import make_engine, make_session_factory
    from fabqueue.settings import Settings

    return make_session_factory(make_engine(Settings().db_url), None)


def list_mail(args: argparse.Namespace) -> int:
    from fabqueue.models.notifications import MailState
    from fabqueue.notify import inbox

    states = tuple(MailState) if args.all else inbox.STAFF_STATES
    with _sessions()() as session:
        rows = inbox.outbox(session, states=states, limit=1000)
        for n in rows:
            error = f"  ({n.last_error})" if n.last_error else ""
            print(
                f"{n.id}\t{n.state}\t{n.tries} tries\t{n.created_at:%Y-%m-%d %H:%M}\t"
                f"{n.email or '-'}\t{n.subject}{error}"
            )
    if not rows:
        print("no e-mail waiting or failed")
    return 0


def retry_mail(args: argparse.Namespace) -> int:
    from fabqueue.clock import utcnow
    from fabqueue.notify import inbox
    from fabqueue.services.errors import ServiceError

    with _sessions()() as session:
        try:
            if args.ids:
                for note_id in args.ids:
                    inbox.retry(session, None, note_id, at=utcnow())
                count = len(args.ids)
            else:
                count = inbox.retry_failed(session, at=utcnow())
        except ServiceError as exc:
            fail(exc.message)
    print(f"{count} e-mail(s) queued again; the running service sends them")
    return 0
