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

from fabqueue.reports.period import Period
from fabqueue.reports.rows import JobRow, RedoRow, Rows

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


def run_seconds(job: JobRow) -> float:
    if job.actual_s is not None and job.actual_s > 0:
        return job.actual_s
    estimate = job.q.duration_s or 0.0
    if job.state == "failed" and job.progress is not None:
        return estimate * min(max(job.progress, 0.0), 1.0)
    return estimate if job.state in ("succeeded", "failed") else 0.0


def _tally(jobs: list[JobRow], redos: list[RedoRow], key_job: str) -> dict[str, Counter[str]]:
    """Counts of results and seconds, keyed by a JobRow attribute (``machine``/``kind``)."""
    out: dict[str, Counter[str]] = defaultdict(Counter)
    for j in jobs:
        key = getattr(j, key_job) or "?"
        out[key][j.state] += 1
        out[key]["seconds"] += round(run_seconds(j))
    for r in redos:
        key = getattr(r, key_job) or "?"
        out[key]["redone"] += 1
        out[key]["seconds"] += round(r.q.duration_s or 0.0)
    return out


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def machines(
    jobs: list[JobRow], redos: list[RedoRow], available_h: Mapping[str, float]
) -> list[MachineActivity]:
    tally = _tally([j for j in jobs if j.machine or j.state != "cancelled"], redos, "machine")
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
    tally = _tally(jobs, redos, "kind")
    return [_outcomes(k, tally[k]) for k in sorted(tally)]


def months(jobs: list[JobRow], redos: list[RedoRow], period: Period) -> list[Outcomes]:
    tally: dict[str, Counter[str]] = defaultdict(Counter)
    for j in jobs:
        c = tally[period.month_of(j.closed_at)]
        c[j.state] += 1
        c["seconds"] += round(run_seconds(j))
    for r in redos:
        c = tally[period.month_of(r.at)]
        c["redone"] += 1
        c["seconds"] += round(r.q.duration_s or 0.0)
    return [_outcomes(m.label, tally.get(m.label, Counter())) for m in period.months()]


def people(rows: Rows, period: Period, roles: Mapping[int, str]) -> People:
    """``roles``: account id → role of everyone who booked or was trained."""
    ids: set[int] = {j.owner_id for j in rows.jobs}
    role_of = dict(roles)
    role_of.update({j.owner_id: j.owner_role for j in rows.jobs})
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


def trainings(rows: Rows) -> Trainings:
    t = rows.trainings
    return Trainings(
        sessions=len(t.sessions),
        people_trained=len({m for m, _ in t.validated}),
        authorisations=len(t.granted),
    )


def bookings(rows: Rows, period: Period, now: datetime) -> Bookings:
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


def quotes(rows: Rows, period: Period) -> Quotes:
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
    rows: Rows,
    period: Period,
    *,
    now: datetime,
    available_h: Mapping[str, float],
    roles: Mapping[int, str],
) -> Activity:
    return Activity(
        period=period.label,
        machines=machines(rows.jobs, rows.redos, available_h),
        kinds=kinds(rows.jobs, rows.redos),
        months=months(rows.jobs, rows.redos, period),
        people=people(rows, period, roles),
        trainings=trainings(rows),
        bookings=bookings(rows, period, now),
        quotes=quotes(rows, period),
    )
