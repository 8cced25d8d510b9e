"""The yearly (or any period's) report for the API, the CLI and the staff pages: rows
from the database, figures from the pure modules, charts, and flat tables for exports."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from pydantic import BaseModel
from sqlmodel import Session, col, select

from fabqueue.models import User
from fabqueue.profiles import ProfileSet
from fabqueue.reports import accuracy, activity, energy, material, money
from fabqueue.reports.period import Period
from fabqueue.reports.rows import Sums, load_sums
from fabqueue.services.booking_rules import calendar_for
from fabqueue.services.errors import NotFound


class Report(BaseModel):
    period: str
    first_day: date
    last_day: date
    """Inclusive, in the café's calendar."""
    start: datetime
    end: datetime
    scope: str
    """``réseau`` (every machine in the database) or the machines of one café."""
    generated_at: datetime
    activity: activity.Activity
    material: material.MaterialReport
    energy: energy.EnergyReport
    accuracy: list[accuracy.MachineAccuracy]
    money: money.MoneyReport
    """Invoiced and paid amounts (the café's own series when narrowed to its machines)."""


def available_hours(profiles: ProfileSet, period: Period, slugs: Sequence[str]) -> dict[str, float]:
    """Opening hours of each machine over the period, closures taken out."""
    out = {}
    for slug in slugs:
        ranges = calendar_for(profiles, slug).open_ranges(period.start, period.end)
        out[slug] = sum((b - a).total_seconds() for a, b in ranges) / 3600
    return out


def powers(profiles: ProfileSet) -> dict[str, energy.Power]:
    return {
        slug: energy.Power(p.power_heatup_w or 0.0, p.power_running_w)
        for slug, p in profiles.machines.items()
        if p.power_running_w is not None
    }


def _roles(session: Session, rows: Sums) -> dict[int, str]:
    ids = {b.member_id for b in rows.bookings} | {m for m, _ in rows.trainings.validated}
    out: dict[int, str] = {}
    ordered = sorted(ids)
    for i in range(0, len(ordered), 5000):
        for uid, role in session.exec(
            select(User.id, User.role).where(col(User.id).in_(ordered[i : i + 5000]))
        ):
            if uid is not None:
                out[uid] = str(role)
    return out


def build(
    session: Session,
    profiles: ProfileSet,
    period: Period,
    *,
    now: datetime,
    machines: Sequence[str] | None = None,
) -> Report:
    if machines is not None:
        unknown = sorted(set(machines) - set(profiles.machines))
        if unknown:
            raise NotFound(f"no machine profile for {', '.join(unknown)}")
    rows = load_sums(session, period, machines)
    slugs = sorted(profiles.machines) if machines is None else sorted(machines)
    return Report(
        period=period.label,
        first_day=period.first_day,
        last_day=period.last_day,
        start=period.start,
        end=period.end,
        scope="réseau" if machines is None else ", ".join(slugs),
        generated_at=now,
        activity=activity.activity(
            rows,
            period,
            now=now,
            available_h=available_hours(profiles, period, slugs),
            roles=_roles(session, rows),
        ),
        material=material.report_of(rows.groups),
        energy=energy.report_of(rows.groups, period, powers(profiles)),
        accuracy=accuracy.report_of(rows.ratios),
        money=money.report(session, period, None if machines is None else cafe_series(profiles)),
    )


def cafe_series(profiles: ProfileSet) -> list[str] | None:
    """The invoice series of this café (cafés sharing a database each have theirs)."""
    site = profiles.site
    return None if site is None else [site.invoice_prefix, site.credit_note_prefix]


def site_identity(profiles: ProfileSet) -> dict[str, Any]:
    site = profiles.site
    if site is None:
        return {"name": "fabqueue", "address": []}
    return {"name": site.name, "address": list(site.address), "siret": site.siret}
