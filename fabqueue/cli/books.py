"""``fabqueue invoices …`` (list, from-quote, member-time, member-bookings, issue, pay,
credit, pdf, overdue) and ``fabqueue books …`` (fec YEAR, sales, payments, verify): the
treasurer's and the accountant's commands."""

from __future__ import annotations

import argparse
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from fabqueue.cli.common import fail, store_or_fail


def register(sub: Any) -> None:
    _register_invoices(sub)
    _register_books(sub)


def _register_invoices(sub: Any) -> None:
    p = sub.add_parser("invoices", help="invoices, credit notes, payments")
    isub = p.add_subparsers(dest="invoices_command", required=True, metavar="ACTION")
    ls = isub.add_parser("list", help="the latest invoices and credit notes")
    ls.add_argument("--limit", type=int, default=30)
    ls.set_defaults(func=list_invoices)
    od = isub.add_parser("overdue", help="issued invoices past their due date")
    od.set_defaults(func=overdue)
    fq = isub.add_parser("from-quote", help="draft an invoice of a quote's jobs done")
    fq.add_argument("quote_id", type=int)
    fq.add_argument("--by", required=True, help="staff user name")
    fq.set_defaults(func=from_quote)
    mt = isub.add_parser("member-time", help="draft an invoice of a member's jobs made")
    mt.add_argument("member", help="the member's user name")
    mt.add_argument("--by", required=True, help="staff user name")
    mt.set_defaults(func=member_time)
    mb = isub.add_parser(
        "member-bookings", help="draft an invoice of a member's booked machine time"
    )
    mb.add_argument("member", help="the member's user name")
    mb.add_argument("--booking", type=int, action="append", dest="bookings", help="booking id")
    mb.add_argument("--list", action="store_true", help="only list the bookings to invoice")
    mb.add_argument("--by", required=True, help="staff user name")
    mb.set_defaults(func=member_bookings)
    iss = isub.add_parser("issue", help="number, print and archive a draft")
    iss.add_argument("invoice_id", type=int)
    iss.add_argument("--by", required=True, help="staff user name")
    iss.set_defaults(func=issue)
    pay = isub.add_parser("pay", help="record a payment made (cheque, transfer, till…)")
    pay.add_argument("invoice_id", type=int)
    pay.add_argument("amount", help="euros, e.g. 12.50")
    pay.add_argument("method", choices=["especes", "carte", "cheque", "virement"])
    pay.add_argument("--on", type=date.fromisoformat, help="date paid (default: today)")
    pay.add_argument("--reference", default="", help="cheque number, till ticket…")
    pay.add_argument("--by", required=True, help="staff user name")
    pay.set_defaults(func=record_payment)
    cr = isub.add_parser("credit", help="issue a credit note (whole invoice or --line)")
    cr.add_argument("invoice_id", type=int)
    cr.add_argument("--line", type=int, action="append", dest="lines", help="line id")
    cr.add_argument("--reason", required=True)
    cr.add_argument("--by", required=True, help="staff user name")
    cr.set_defaults(func=credit)
    pdf = isub.add_parser("pdf", help="write the archived PDF of an issued invoice")
    pdf.add_argument("invoice_id", type=int)
    pdf.add_argument("-o", "--output", type=Path)
    pdf.set_defaults(func=write_pdf)


def _register_books(sub: Any) -> None:
    p = sub.add_parser("books", help="exports for the accountant, integrity check")
    bsub = p.add_subparsers(dest="books_command", required=True, metavar="ACTION")
    fec = bsub.add_parser("fec", help="the FEC file of a fiscal (calendar) year")
    fec.add_argument("year", type=int)
    fec.add_argument("-o", "--output", type=Path, help="default: SIRENFECYYYY1231.txt")
    fec.set_defaults(func=write_fec)
    for name, helptext in (
        ("sales", "CSV of invoices and credit notes"),
        ("payments", "CSV of payments"),
    ):
        c = bsub.add_parser(name, help=helptext)
        c.add_argument("start", type=date.fromisoformat)
        c.add_argument("end", type=date.fromisoformat)
        c.add_argument("-o", "--output", type=Path)
        c.set_defaults(func=write_csv, kind=name)
    ver = bsub.add_parser("verify", help="check numbering, chained footprints, archived PDFs")
    ver.set_defaults(func=verify)


def _context() -> Any:
    from fabqueue.db import make_engine, make_session_factory
    from fabqueue.profiles import ProfileErrors, load_profiles
    from fabqueue.settings import Settings

    settings = Settings()
    try:
        profiles = load_profiles(settings.profiles_dir)
    except ProfileErrors as exc:
        fail(str(exc))
    engine = make_engine(settings.db_url)
    # The store the server uses: with the database store, a PDF archived here must
    # reach the database, and one archived at another café is read from it.
    store = store_or_fail(settings, engine)
    return make_session_factory(engine, None), profiles, store


def _staff(session: Any, name: str) -> Any:
    from sqlmodel import select

    from fabqueue.models import User

    user = session.exec(select(User).where(User.name == name)).first()
    if user is None or not user.is_staff:
        fail(f"no staff user named {name!r}")
    return user


def _run(func: Any, **kwargs: Any) -> Any:
    """Call a service; print its refusal as a clear error (exit 2), nothing changed."""
    from fabqueue.services.errors import ServiceError

    try:
        return func(**kwargs)
    except ServiceError as exc:
        fail(exc.message)


def _row(session: Any, inv: Any) -> str:
    from fabqueue.invoices.payments import balance_cents

    due = balance_cents(session, inv) / 100 if inv.number else 0
    total = (inv.total_ttc_cents or 0) / 100
    return (
        f"{inv.id:>5}  {inv.number or '(brouillon)':<16} {inv.kind.value:<12} "
        f"{inv.state.value:<15} {total:>10.2f} €  reste {due:>9.2f} €  {inv.title}"
    )


def list_invoices(args: argparse.Namespace) -> int:
    from fabqueue.invoices.views import list_invoices as rows

    sessions, _profiles, _store = _context()
    with sessions() as session:
        for inv in rows(session, limit=args.limit):
            print(_row(session, inv))
    return 0


def overdue(_args: argparse.Namespace) -> int:
    from fabqueue.clock import utcnow
    from fabqueue.invoices.payments import overdue as due

    sessions, profiles, _store = _context()
    today = utcnow().astimezone(profiles.site.tz).date() if profiles.site else utcnow().date()
    with sessions() as session:
        found = due(session, today)
        for inv, _left in found:
            print(f"{_row(session, inv)}  (échéance {inv.due_date:%d/%m/%Y})")
    print(f"{len(found)} invoice(s) overdue")
    return 0


def from_quote(args: argparse.Namespace) -> int:
    from fabqueue.clock import utcnow
    from fabqueue.db import session_scope
    from fabqueue.invoices.drafts import draft_from_quote

    sessions, _profiles, _store = _context()
    with session_scope(sessions) as session:
        user = _staff(session, args.by)
        inv = _run(
            draft_from_quote, session=session, user=user, quote_id=args.quote_id, at=utcnow()
        )
        print(f"draft invoice {inv.id} for quote {args.quote_id}")
    return 0


def _member(session: Any, name: str) -> Any:
    from sqlmodel import select

    from fabqueue.models import Role, User

    user = session.exec(select(User).where(User.name == name)).first()
    if user is None or user.role != Role.member:
        fail(f"no member named {name!r}")
    return user


def member_time(args: argparse.Namespace) -> int:
    from fabqueue.clock import utcnow
    from fabqueue.db import session_scope
    from fabqueue.invoices.drafts import draft_member_time

    sessions, profiles, _store = _context()
    with session_scope(sessions) as session:
        user = _staff(session, args.by)
        member = _member(session, args.member)
        inv = _run(
            draft_member_time,
            session=session,
            user=user,
            member_id=member.id,
            profiles=profiles,
            at=utcnow(),
        )
        print(f"draft invoice {inv.id}: machine time of {member.name}")
    return 0


def member_bookings(args: argparse.Namespace) -> int:
    from fabqueue.clock import utcnow
    from fabqueue.db import session_scope
    from fabqueue.invoices import bookings

    sessions, profiles, _store = _context()
    with session_scope(sessions) as session:
        user = _staff(session, args.by)
        member = _member(session, args.member)
        if args.list:
            rows = bookings.bookings_to_invoice(
                session, member.id, profiles.prices.members, utcnow()
            )
            for b in rows:
                absent = "  (absent)" if b.no_show_at else ""
                print(
                    f"{b.id}  {b.machine}  {b.starts_at:%Y-%m-%d %H:%M}–{b.ends_at:%H:%M}Z{absent}"
                )
            print(f"{len(rows)} booking(s) to invoice")
            return 0
        inv = _run(
            bookings.draft_member_bookings,
            session=session,
            user=user,
            member_id=member.id,
            profiles=profiles,
            at=utcnow(),
            booking_ids=args.bookings,
        )
        print(f"draft invoice {inv.id}: bookings of {member.name}")
    return 0


def issue(args: argparse.Namespace) -> int:
    from fabqueue.clock import utcnow
    from fabqueue.db import session_scope
    from fabqueue.invoices.issuing import issue as do_issue

    sessions, profiles, store = _context()
    with session_scope(sessions) as session:
        user = _staff(session, args.by)
        inv = _run(
            do_issue,
            session=session,
            user=user,
            invoice_id=args.invoice_id,
            profiles=profiles,
            store=store,
            at=utcnow(),
        )
        print(f"{inv.number}: {(inv.total_ttc_cents or 0) / 100:.2f} € TTC, PDF {inv.pdf_sha256}")
    return 0


def record_payment(args: argparse.Namespace) -> int:
    from fabqueue.clock import utcnow
    from fabqueue.db import session_scope
    from fabqueue.invoices.payments import PaymentIn
    from fabqueue.invoices.payments import record_payment as record
    from fabqueue.models.invoices import PaymentMethod

    try:
        amount = Decimal(args.amount.replace(",", "."))
    except InvalidOperation:
        fail(f"{args.amount!r} is not an amount in euros (e.g. 12.50)")
    sessions, _profiles, _store = _context()
    now = utcnow()
    with session_scope(sessions) as session:
        user = _staff(session, args.by)
        data = PaymentIn(amount, PaymentMethod(args.method), args.on or now.date(), args.reference)
        _run(record, session=session, user=user, invoice_id=args.invoice_id, data=data, at=now)
        print(f"{amount} € recorded on invoice {args.invoice_id}")
    return 0


def credit(args: argparse.Namespace) -> int:
    from fabqueue.clock import utcnow
    from fabqueue.db import session_scope
    from fabqueue.invoices.credit_notes import credit as do_credit

    sessions, profiles, store = _context()
    with session_scope(sessions) as session:
        user = _staff(session, args.by)
        note = _run(
            do_credit,
            session=session,
            user=user,
            invoice_id=args.invoice_id,
            line_ids=args.lines,
            reason=args.reason,
            profiles=profiles,
            store=store,
            at=utcnow(),
        )
        print(f"{note.number}: {(note.total_ttc_cents or 0) / 100:.2f} € TTC credited")
    return 0


def write_pdf(args: argparse.Namespace) -> int:
    """Write the archived PDF; archive it first if issuing stopped before it did."""
    from fabqueue.clock import utcnow
    from fabqueue.invoices.issuing import archive_pdf, default_renderer
    from fabqueue.models.invoices import Invoice
    from fabqueue.storage import FileMissing

    sessions, profiles, store = _context()
    with sessions() as session:
        inv = session.get(Invoice, args.invoice_id)
        if inv is None or inv.number is None:
            fail(f"no issued invoice {args.invoice_id}")
        sha = inv.pdf_sha256 or archive_pdf(
            session=session,
            invoice_id=args.invoice_id,
            store=store,
            render=default_renderer(profiles),
            actor="cli",
            at=utcnow(),
        )
        try:
            path = store.fetch(sha)
        except FileMissing:
            fail(f"the archived PDF of {inv.number} is missing: run `fabqueue books verify`")
        out = args.output or Path(f"{inv.number}.pdf")
    out.write_bytes(path.read_bytes())
    print(f"{out}: {out.stat().st_size} bytes")
    return 0


def write_fec(args: argparse.Namespace) -> int:
    from fabqueue.invoices.books import fec_bytes, fec_filename

    sessions, profiles, _store = _context()
    if profiles.site is None:
        fail("the café's identity is not set up: write profiles/site.toml first")
    with sessions() as session:
        data = fec_bytes(session, args.year, profiles.site.accounts)
    out = args.output or Path(fec_filename(profiles.site.siret, args.year))
    out.write_bytes(data)
    lines = data.count(b"\n") - 1
    print(f"{out}: {lines} line(s)")
    return 0


def write_csv(args: argparse.Namespace) -> int:
    from fabqueue.invoices.books import payments_csv, sales_csv

    make = sales_csv if args.kind == "sales" else payments_csv
    sessions, _profiles, _store = _context()
    with sessions() as session:
        text = make(session, args.start, args.end)
    out = args.output or Path(f"{args.kind}-{args.start}-{args.end}.csv")
    out.write_text(text, encoding="utf-8", newline="")
    print(f"{out}: {text.count(chr(10)) - 1} row(s)")
    return 0


def verify(_args: argparse.Namespace) -> int:
    from fabqueue.invoices.books import verify as check

    sessions, _profiles, store = _context()
    with sessions() as session:
        problems = check(session, store)
    for problem in problems:
        print(problem)
    print("books: OK" if not problems else f"books: {len(problems)} problem(s)")
    return 1 if problems else 0
