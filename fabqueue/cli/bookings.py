"""``fabqueue bookings``, ``fabqueue train grant|revoke``, ``fabqueue user export|erase``,
``fabqueue purge``: the same services the API calls, run on this node's database.

Acting on someone's record needs a member of staff as the actor: ``--by NAME``, or the
first admin when it is left out.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from typing import Any

from fabqueue.cli.common import fail, store_or_fail


def register(sub: Any) -> None:
    b = sub.add_parser("bookings", help="list machine bookings (café time)")
    b.add_argument("--machine")
    b.add_argument("--from", dest="start", help="ISO date or date-time (default: now)")
    b.add_argument("--to", dest="end", help="ISO date or date-time (default: a week later)")
    b.add_argument("--cancelled", action="store_true", help="show cancelled bookings too")
    b.set_defaults(func=list_bookings)

    t = sub.add_parser("train", help="grant or revoke a member's authorisation on a machine")
    tsub = t.add_subparsers(dest="train_command", required=True, metavar="ACTION")
    g = tsub.add_parser("grant", help="authorise NAME on MACHINE (a slug or a machine kind)")
    g.add_argument("name")
    g.add_argument("machine")
    g.add_argument("--expires", help="ISO date the authorisation ends")
    g.add_argument("--reason")
    g.add_argument("--by", help="staff member granting it (default: the first admin)")
    g.set_defaults(func=grant)
    r = tsub.add_parser("revoke", help="revoke NAME's live authorisations on MACHINE")
    r.add_argument("name")
    r.add_argument("machine")
    r.add_argument("--reason", required=True)
    r.add_argument("--by")
    r.set_defaults(func=revoke)

    p = sub.add_parser("purge", help="remove uploaded files older than the retention period")
    p.add_argument("--dry-run", action="store_true")
    p.set_defaults(func=purge)


def register_user_actions(usub: Any) -> None:
    """``fabqueue user export|erase NAME``, beside ``user add|token|list``."""
    e = usub.add_parser("export", help="print everything held about a user, as JSON")
    e.add_argument("name")
    e.set_defaults(func=export_user)
    x = usub.add_parser("erase", help="erase a user's name and contact; keep anonymous counts")
    x.add_argument("name")
    x.add_argument("--by")
    x.set_defaults(func=erase_user)


def _settings() -> Any:
    from fabqueue.settings import Settings

    return Settings()


def _sessions() -> Any:
    from fabqueue.db import make_engine, make_session_factory

    return make_session_factory(make_engine(_settings().db_url), None)


def _profiles() -> Any:
    from fabqueue.profiles import ProfileErrors, load_profiles

    try:
        return load_profiles(_settings().profiles_dir)
    except ProfileErrors as exc:
        fail(str(exc))


def _user(session: Any, name: str) -> Any:
    from sqlmodel import select

    from fabqueue.models import User

    user = session.exec(select(User).where(User.name == name)).first()
    if user is None:
        fail(f"no user {name!r}")
    return user


def _staff(session: Any, name: str | None) -> Any:
    from sqlmodel import col, select

    from fabqueue.models import Role, User

    if name is not None:
        user = _user(session, name)
        if not user.is_staff:
            fail(f"{name!r} is not staff")
        return user
    admin = session.exec(
        select(User).where(User.role == Role.admin, col(User.active)).order_by(col(User.id))
    ).first()
    if admin is None:
        fail("no admin to act as: pass --by NAME (a facilitator or admin)")
    return admin


def _when(text: str | None, tz: Any, default: datetime) -> datetime:
    if text is None:
        return default
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        fail(f"{text!r} is not an ISO date or date-time (2026-03-03 or 2026-03-03T14:00)")
    return value if value.tzinfo is not None else value.replace(tzinfo=tz)


def list_bookings(args: argparse.Namespace) -> int:
    from datetime import timedelta

    from fabqueue.clock import utcnow
    from fabqueue.services import bookings

    tz = bookings.tz_of(_profiles())
    start = _when(args.start, tz, utcnow())
    end = _when(args.end, tz, start + timedelta(days=7))
    with _sessions()() as session:
        staff = _staff(session, None)
        rows = bookings.listing(
            session, staff, machine=args.machine, starts=start, ends=end, cancelled=args.cancelled
        )
        names = _names(session, {b.member_id for b in rows})
        for b in rows:
            s, e = b.starts_at.astimezone(tz), b.ends_at.astimezone(tz)
            flags = " (annulée)" if b.cancelled_at else " (absent)" if b.no_show_at else ""
            print(
                f"{b.id:>5}  {s:%a %d/%m %H:%M}–{e:%H:%M}  {b.machine:<16} "
                f"{names.get(b.member_id, '?')}{flags}"
            )
    return 0


def _names(session: Any, ids: set[int]) -> dict[int, str]:
    from sqlmodel import col, select

    from fabqueue.models import User

    return {u.id: u.name for u in session.exec(select(User).where(col(User.id).in_(ids)))}


def grant(args: argparse.Namespace) -> int:
    from fabqueue.clock import utcnow
    from fabqueue.services import trainings
    from fabqueue.services.bookings import tz_of
    from fabqueue.services.errors import ServiceError

    tz = tz_of(_profiles())
    with _sessions()() as session:
        member, by = _user(session, args.name), _staff(session, args.by)
        expires = _when(args.expires, tz, utcnow()) if args.expires else None
        try:
            auth = trainings.grant(
                session,
                member_id=member.id,
                machine=args.machine,
                by=by,
                at=utcnow(),
                expires_at=expires,
                reason=args.reason,
            )
        except ServiceError as exc:
            fail(exc.message)
        until = f" until {auth.expires_at.astimezone(tz):%Y-%m-%d}" if auth.expires_at else ""
        print(f"{args.name} may use {args.machine}{until} (authorisation {auth.id})")
    return 0


def revoke(args: argparse.Namespace) -> int:
    from fabqueue.clock import utcnow
    from fabqueue.services import trainings

    with _sessions()() as session:
        member, by = _user(session, args.name), _staff(session, args.by)
        live = [
            a
            for a in trainings.authorisations(session, member.id)
            if a.revoked_at is None and args.machine in (a.machine, a.kind)
        ]
        if not live:
            fail(f"{args.name} holds no live authorisation on {args.machine}")
        for a in live:
            assert a.id is not None
            trainings.revoke(session, a.id, args.reason, by, utcnow())
            print(f"revoked authorisation {a.id} ({a.label})")
    return 0


def export_user(args: argparse.Namespace) -> int:
    from fabqueue.services import privacy

    with _sessions()() as session:
        user = _user(session, args.name)
        print(json.dumps(privacy.export(session, user.id, _staff(session, None)), indent=2))
    return 0


def erase_user(args: argparse.Namespace) -> int:
    from fabqueue.clock import utcnow
    from fabqueue.services import privacy
    from fabqueue.services.errors import ServiceError

    with _sessions()() as session:
        user, by = _user(session, args.name), _staff(session, args.by)
        try:
            kept = privacy.erase(session, user.id, by, utcnow())
        except ServiceError as exc:
            fail(exc.message)
    counts = f"{kept['bookings']} booking(s), {kept['jobs']} job(s)"
    print(f"{args.name} erased; kept anonymously: {counts}")
    return 0


def purge(args: argparse.Namespace) -> int:
    from fabqueue.clock import utcnow
    from fabqueue.db import make_engine, make_session_factory
    from fabqueue.services import privacy

    profiles = _profiles()
    days = profiles.site.privacy.file_retention_days if profiles.site else 180
    settings = _settings()
    engine = make_engine(settings.db_url)
    # With the database store a purged file must leave the database, not only this
    # node's cache: any café could fetch it from there.
    store = store_or_fail(settings, engine)
    with make_session_factory(engine, None)() as session:
        if args.dry_run:
            found = privacy.purgeable(session, days=days, now=utcnow())
            print(f"{len(found)} file(s) older than {days} days would be removed")
            return 0
        removed = privacy.purge_files(session, store, days=days, now=utcnow())
    print(f"removed {len(removed)} uploaded file(s) older than {days} days")
    return 0
