"""``fabqueue report activity``: the activity report of a period, from this node's
database, as JSON (default), CSV, ODS or the printable PDF."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from fabqueue.cli.common import fail


def register(sub: Any) -> None:
    r = sub.add_parser("report", help="activity and impact reports")
    rsub = r.add_subparsers(dest="report_command", required=True, metavar="REPORT")
    a = rsub.add_parser("activity", help="activity, material and waste, energy, estimates")
    a.add_argument("--year", type=int)
    a.add_argument("--quarter", type=int, choices=[1, 2, 3, 4])
    a.add_argument("--month", type=int, choices=range(1, 13), metavar="1-12")
    a.add_argument("--from", dest="start", type=date.fromisoformat, help="first day (ISO)")
    a.add_argument("--to", dest="end", type=date.fromisoformat, help="last day, included")
    a.add_argument("--machine", action="append", help="only this machine (repeatable)")
    a.add_argument("--format", choices=["json", "csv", "ods", "pdf"], default="json")
    a.add_argument("-o", "--output", type=Path, help="file to write (default: standard output)")
    a.set_defaults(func=activity)


def activity(args: argparse.Namespace) -> int:
    from fabqueue.cli.bookings import _profiles, _sessions
    from fabqueue.clock import utcnow
    from fabqueue.db import session_scope
    from fabqueue.reports import exports, period, service
    from fabqueue.services.booking_rules import tz_of
    from fabqueue.services.errors import ServiceError

    profiles = _profiles()
    try:
        p = period.parse(
            tz_of(profiles),
            year_=args.year,
            quarter_=args.quarter,
            month_=args.month,
            start=args.start,
            end=args.end,
        )
        with session_scope(_sessions()) as session:
            report = service.build(session, profiles, p, now=utcnow(), machines=args.machine)
    except ServiceError as exc:
        fail(str(exc))
    body = exports.render(report, args.format, service.site_identity(profiles))
    if args.output is not None:
        args.output.write_bytes(body)
        print(f"{args.output}: {len(body)} bytes", file=sys.stderr)
    elif args.format in ("ods", "pdf") and sys.stdout.isatty():
        fail(f"{args.format} is binary: give --output FILE or redirect the output")
    else:
        sys.stdout.buffer.write(body)
    return 0
