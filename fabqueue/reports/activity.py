"""Activity: machine hours, jobs by kind and outcome, people served, trainings,
bookings and quotes for one period. Pure: rows in, figures out.

Definitions (also in docs/reports.md):

- A job counts in the period it closed in (succeeded, failed or cancelled).
- A *run* is one go on a machine: each succeeded or failed job is one, and each « bad »
  judgement by the operator is one more (the spoilt part, the job ran again).
  Success rate = succeeded / runs; redo rate = bad runs / runs.
- Machine hours used: the run's measured time (operator's entry, else the runner's),
  else its estimate (× progress for a failed run); bad runs count their estimate.
- People: distinct member and client accounts who had a job closed, a booking or a
  training validated; erased accounts keep their id, so they stay counted, anonymously.
  Walk-ins: bookings made by staff for someone else once the slot had begun.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel

from fabqueue.reports.groups import of_rows, run_seconds
from fabqueue.reports.period import Period
from fabqueue.reports.rows import JobRow, RedoRow, Rows, RunGroup, Sums

RESULTS = ("succeeded", "failed", "redone", "cancelled")


class MachineActivity(BaseModel):
    machine: str
    used_h: float
    available_h: float
    succeeded: int
    failed: int
    redone: int
    cancelled: int
    runs: int
    success_rate: float | None
    redo_rate: float | None


class Outcomes(BaseModel):
    key: str
    """A machine kind, or a month ``YYYY-MM``."""
    succeeded: int = 0
    failed: int = 0
    redone: int = 0
    cancelled: int = 0
    used_h: float = 0.0


class People(BaseModel):
    members: int
    clients: int
    organisations: int
    walk_ins: int


class Trainings(BaseModel):
    sessions: int
    people_trained: int
    authorisations: int


class Bookings(BaseModel):
    made: int
    """Created during the period (whenever their slot)."""
    in_period: int
    """Slots starting in the period, cancelled ones included."""
    honoured: int
    no_shows: int
    cancelled: int


class Quotes(BaseModel):
    sent: int
    sent_ht: Decimal
    accepted: int
    accepted_ht: Decimal
    converted: int
    converted_ht: Decimal


class Activity(BaseModel):
    period: str
    machines: list[MachineActivity]
    kinds: list[Outcomes]
    months: list[Outcomes]
    people: People
    trainings: Trainings
    bookings: Bookings
    quotes: Quotes
    invoices: None = None
    """Invoices are not in this database yet: reported as absent, never guessed."""


__all__ = ["run_seconds"]


def _tally(groups: list[RunGroup], key: str) -> dict[str, Counter[str]]:
    """Counts of results and machine seconds, keyed by a group attribute
    (``machine``, ``kind`` or ``month``)."""
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for g in groups:
        c = out[getattr(g, key) or "?"]
        c[g.result] += g.runs
        c["seconds"] += g.seconds
    return out


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def machines(
    jobs: list[JobRow], redos: list[RedoRow], available_h: Mapping[str, float]
) -> list[MachineActivity]:
    return machines_of(of_rows(jobs, redos), available_h)


def machines_of(groups: list[RunGroup], available_h: Mapping[str, float]) -> list[MachineActivity]:
    # A job cancelled before any machine took it was no machine's.
    tally = _tally([g for g in groups if g.machine or g.result != "cancelled"], "machine")
    out = []
    for slug in sorted(set(tally) | set(available_h)):
        c = tally.get(slug, Counter())
        runs = c["succeeded"] + c["failed"] + c["redone"]
        out.append(
            MachineActivity(
                machine=slug,
                used_h=round(c["seconds"] / 3600, 2),
                available_h=round(available_h.get(slug, 0.0), 2),
                succeeded=c["succeeded"],
                failed=c["failed"],
                redone=c["redone"],
                cancelled=c["cancelled"],
                runs=runs,
                success_rate=_rate(c["succeeded"], runs),
                redo_rate=_rate(c["redone"], runs),
            )
        )
    return out


def _outcomes(key: str, c: Counter[str]) -> Outcomes:
    return Outcomes(
        key=key,
        succeeded=c["succeeded"],
        failed=c["failed"],
        redone=c["redone"],
        cancelled=c["cancelled"],
        used_h=round(c["seconds"] / 3600, 2),
    )


def kinds(jobs: list[JobRow], redos: list[RedoRow]) -> list[Outcomes]:
    return kinds_of(of_rows(jobs, redos))


def kinds_of(groups: list[RunGroup]) -> list[Outcomes]:
    tally = _tally(groups, "kind")
    return [_outcomes(k, tally[k]) for k in sorted(tally)]


def months(jobs: list[JobRow], redos: list[RedoRow], period: Period) -> list[Outcomes]:
    return months_of(of_rows(jobs, redos, period), period)


def months_of(groups: list[RunGroup], period: Period) -> list[Outcomes]:
    tally = _tally(groups, "month")
    return [_outcomes(m.label, tally.get(m.label, Counter())) for m in period.months()]


def people(rows: Rows | Sums, period: Period, roles: Mapping[int, str]) -> People:
    """``roles``: account id → role of everyone who booked or was trained."""
    owners = (
        rows.owners if isinstance(rows, Sums) else [(j.owner_id, j.owner_role) for j in rows.jobs]
    )
    ids: set[int] = {uid for uid, _ in owners}
    role_of = dict(roles)
    role_of.update(owners)
    live = [b for b in rows.bookings if period.contains(b.starts_at) and not b.cancelled]
    ids |= {b.member_id for b in live}
    ids |= {m for m, _ in rows.trainings.validated}
    orgs = {q.organisation_id for q in rows.quotes}
    walk_ins = sum(1 for b in live if b.created_by != b.member_id and b.created_at >= b.starts_at)
    return People(
        members=sum(1 for i in ids if role_of.get(i) == "member"),
        clients=sum(1 for i in ids if role_of.get(i) == "client"),
        organisations=len(orgs),
        walk_ins=walk_ins,
    )


def trainings(rows: Rows | Sums) -> Trainings:
    t = rows.trainings
    return Trainings(
        sessions=len(t.sessions),
        people_trained=len({m for m, _ in t.validated}),
        authorisations=len(t.granted),
    )


def bookings(rows: Rows | Sums, period: Period, now: datetime) -> Bookings:
    starting = [b for b in rows.bookings if period.contains(b.starts_at)]
    return Bookings(
        made=sum(1 for b in rows.bookings if period.contains(b.created_at)),
        in_period=len(starting),
        honoured=sum(1 for b in starting if not b.cancelled and not b.no_show and b.ends_at <= now),
        no_shows=sum(1 for b in starting if b.no_show and not b.cancelled),
        cancelled=sum(1 for b in starting if b.cancelled),
    )


def _euros(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(Decimal("0.01"))


def quotes(rows: Rows | Sums, period: Period) -> Quotes:
    sent = [q for q in rows.quotes if period.contains(q.sent_at)]
    accepted = [q for q in rows.quotes if period.contains(q.accepted_at)]
    converted = [q for q in rows.quotes if period.contains(q.converted_at)]
    return Quotes(
        sent=len(sent),
        sent_ht=_euros(sum(q.total_ht_cents for q in sent)),
        accepted=len(accepted),
        accepted_ht=_euros(sum(q.total_ht_cents for q in accepted)),
        converted=len(converted),
        converted_ht=_euros(sum(q.total_ht_cents for q in converted)),
    )


def activity(
    rows: Sums,
    period: Period,
    *,
    now: datetime,
    available_h: Mapping[str, float],
    roles: Mapping[int, str],
) -> Activity:
    return Activity(
        period=period.label,
        machines=machines_of(rows.groups, available_h),
        kinds=kinds_of(rows.groups),
        months=months_of(rows.groups, period),
        people=people(rows, period, roles),
        trainings=trainings(rows),
        bookings=bookings(rows, period, now),
        quotes=quotes(rows, period),
    )
