"""``fabqueue quotes expire`` (mark sent quotes past their validity; cron-able) and
``fabqueue quotes pdf ID`` (write a quote's devis PDF)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from fabqueue.cli.common import fail


def register(sub: Any) -> None:
    p = sub.add_parser("quotes", help="quotes (devis)")
    qsub = p.add_subparsers(dest="quotes_command", required=True, metavar="ACTION")
    exp = qsub.add_parser("expire", help="mark expired the sent quotes past their validity")
    exp.set_defaults(func=expire)
    pdf = qsub.add_parser("pdf", help="write a quote's PDF")
    pdf.add_argument("quote_id", type=int)
    pdf.add_argument("-o", "--output", type=Path, help="file to write (default: NUMBER.pdf)")
    pdf.set_defaults(func=write_pdf)


def _context() -> Any:
    from fabqueue.db import make_engine, make_session_factory
    from fabqueue.profiles import ProfileErrors, load_profiles
    from fabqueue.settings import Settings

    settings = Settings()
    try:
        profiles = load_profiles(settings.profiles_dir)
    except ProfileErrors as exc:
        fail(str(exc))
    return make_session_factory(make_engine(settings.db_url), None), profiles


def expire(_args: argparse.Namespace) -> int:
    from fabqueue.clock import utcnow
    from fabqueue.db import session_scope
    from fabqueue.quotes.answers import expire_due

    sessions, profiles = _context()
    with session_scope(sessions) as session:
        done = expire_due(session=session, profiles=profiles, at=utcnow())
        numbers = [q.number or str(q.id) for q in done]
    print(f"{len(numbers)} quote(s) expired" + (f": {', '.join(numbers)}" if numbers else ""))
    return 0


def write_pdf(args: argparse.Namespace) -> int:
    from fabqueue.clock import utcnow
    from fabqueue.models import Quote
    from fabqueue.quotes.pdf import render_pdf
    from fabqueue.services.errors import ServiceError

    sessions, profiles = _context()
    with sessions() as session:
        quote = session.get(Quote, args.quote_id)
        if quote is None:
            fail(f"no quote {args.quote_id}")
        try:
            data = render_pdf(session, quote, profiles, utcnow())
        except ServiceError as exc:
            fail(exc.message)
        out = args.output or Path(f"{quote.number or f'projet-devis-{quote.id}'}.pdf")
    out.write_bytes(data)
    print(f"{out}: {len(data)} bytes")
    return 0
