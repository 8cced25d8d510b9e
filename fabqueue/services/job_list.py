"""All the jobs, for staff looking for one: by state (« en file », « en cours »…), by
machine, by a word typed (``job_search``), a page at a time.

Pages are keyset-paged, never offset: waiting jobs in the order the queue runs them
(priority, then age, then id — as on the board), every other view newest first by id
(as ``GET /api/v1/jobs``). A page link carries the last row's key, so a page is as
quick to read at the end of a long history as at its start, and rows arriving or
leaving meanwhile neither repeat a row on the next page nor skip one. A search has to
read every job anyway (a word may be anywhere in a name): it reads the matches' keys in
one pass, counts them and cuts the page from them with the same order and keys.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import and_, or_
from sqlalchemy.orm import defer
from sqlmodel import Session, col, func, select

from fabqueue.models import Job, User
from fabqueue.models.types import MAX_ID
from fabqueue.profiles import ProfileSet
from fabqueue.services.counter import BOARD_WAITING, Price, PriceCache
from fabqueue.services.job_search import matches
from fabqueue.states import JobState

PAGE_SIZE = 50


class View(StrEnum):
    """The page's filters by state."""

    waiting = "waiting"
    running = "running"
    to_check = "to_check"
    done = "done"
    failed = "failed"
    all = "all"


VIEW_STATES: dict[View, tuple[JobState, ...]] = {
    View.waiting: BOARD_WAITING,
    View.running: (JobState.starting, JobState.running, JobState.paused),
    View.to_check: (JobState.awaiting_operator,),
    View.done: (JobState.succeeded,),
    View.failed: (JobState.failed, JobState.interrupted),
    View.all: tuple(JobState),
}
"""« En file » is the board's queue, interrupted jobs included (they wait for staff to
resume or requeue them), so that the board's « and N more » lists N more here; they are
also under « Échoués / interrompus ». Cancelled jobs are under « Tous » only."""

PRICED = frozenset(BOARD_WAITING)
"""The states the board prices (its queue): the rows that show a price here too."""


def view_of(value: str | None) -> View:
    """An unknown filter shows every job rather than an error: a link edited by hand."""
    try:
        return View(value or View.all)
    except ValueError:
        return View.all


@dataclass(frozen=True)
class JobFilter:
    view: View = View.all
    machine: str | None = None
    """A machine slug: the jobs that ran there or were sent to it."""
    q: str = ""
    """Words typed: file name, owner, customer's name, phone or e-mail."""


@dataclass
class JobListing:
    jobs: list[Job]
    counts: dict[View, int]
    """Jobs in each view, with the machine and the words typed applied."""
    owners: dict[int, str] = field(default_factory=dict)
    estimates: dict[int, float] = field(default_factory=dict)
    """Job id -> the estimated machine time in seconds, where the analysis has one."""
    prices: dict[int, Price] = field(default_factory=dict)
    next_key: str | None = None
    """Give it back as ``after`` for the next page; None on the last page."""


def _filtered(query: Any, user: User, f: JobFilter, dialect: str) -> Any:
    if not user.is_staff:
        query = query.where(col(Job.owner_id) == user.id)
    if f.machine:
        query = query.where(
            (col(Job.machine) == f.machine) | (col(Job.target_machine) == f.machine)
        )
    found = matches(f.q, dialect)
    if found is not None:
        query = query.where(found)
    return query


def _by_view(by_state: Counter[JobState]) -> dict[View, int]:
    return {view: sum(by_state[s] for s in states) for view, states in VIEW_STATES.items()}


def _counts(session: Session, user: User, f: JobFilter, dialect: str) -> dict[View, int]:
    by_state: Counter[JobState] = Counter()
    query = _filtered(select(col(Job.state), func.count(col(Job.id))), user, f, dialect)
    for state, count in session.exec(query.group_by(col(Job.state))):
        by_state[JobState(state)] = int(count)
    return _by_view(by_state)


# Keys: "<id>" newest first; "<priority>.<created, µs since the epoch>.<id>" in queue order.


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MICROSECOND = timedelta(microseconds=1)


def _number(text: str) -> int:
    value = int(text)
    if abs(value) > MAX_ID:
        raise ValueError("out of the database's range")
    return value


def _queue_key(job: Job) -> str:
    micros = (job.created_at - EPOCH) // MICROSECOND
    return f"{job.priority}.{micros}.{job.id}"


def _read_queue_key(key: str) -> tuple[int, datetime, int]:
    priority, micros, job_id = (_number(p) for p in key.split("."))
    return priority, EPOCH + micros * MICROSECOND, job_id


def _after_in_queue(key: str) -> Any:
    priority, created, job_id = _read_queue_key(key)
    return or_(
        col(Job.priority) < priority,
        and_(
            col(Job.priority) == priority,
            or_(
                col(Job.created_at) > created,
                and_(col(Job.created_at) == created, col(Job.id) > job_id),
            ),
        ),
    )


def _ordered(query: Any, view: View, after: str | None) -> Any:
    """The view's order, from just after the key of the previous page's last row. A key
    that cannot be read (a link edited by hand) starts from the first page."""
    queue_order = view == View.waiting
    try:
        if after and queue_order:
            query = query.where(_after_in_queue(after))
        elif after:
            query = query.where(col(Job.id) < _number(after))
    except (ValueError, OverflowError):
        pass
    if queue_order:
        return query.order_by(col(Job.priority).desc(), col(Job.created_at), col(Job.id))
    return query.order_by(col(Job.id).desc())


Place = tuple[int, JobState, int, datetime]
"""A matching job's id, state, priority and creation time: where it goes in its view."""


def _after(places: list[Place], view: View, after: str | None) -> list[Place]:
    """:func:`_ordered`'s order and keys, for rows already read."""
    if view == View.waiting:
        places.sort(key=lambda p: (-p[2], p[3], p[0]))
    else:
        places.sort(key=lambda p: -p[0])
    try:
        if after and view == View.waiting:
            priority, created, job_id = _read_queue_key(after)
            start = (-priority, created, job_id)
            return [p for p in places if (-p[2], p[3], p[0]) > start]
        if after:
            before = _number(after)
            return [p for p in places if p[0] < before]
    except ValueError:
        pass
    return places


def _searched_page(
    session: Session, user: User, f: JobFilter, dialect: str, after: str | None, limit: int
) -> tuple[dict[View, int], list[int]]:
    """The counts and the page's ids from one pass over the jobs: folding every row's
    words (a Python call per row in SQLite) is the cost of a search, paid once, not
    once for the counts and again for the page."""
    query = _filtered(
        select(col(Job.id), col(Job.state), col(Job.priority), col(Job.created_at)),
        user,
        f,
        dialect,
    )
    places: list[Place] = [(i, JobState(s), p, c) for i, s, p, c in session.exec(query)]
    counts = _by_view(Counter(p[1] for p in places))
    wanted = set(VIEW_STATES[f.view])
    in_view = _after([p for p in places if p[1] in wanted], f.view, after)
    return counts, [p[0] for p in in_view[: limit + 1]]


def job_listing(
    session: Session,
    profiles: ProfileSet,
    user: User,
    f: JobFilter,
    *,
    after: str | None = None,
    limit: int = PAGE_SIZE,
    prices: PriceCache | None = None,
) -> JobListing:
    """One page of jobs for ``f``, after the row whose key is ``after``; with the count
    of every view, the owners' names, estimates and (waiting jobs) walk-in prices."""
    dialect = session.get_bind().dialect.name
    estimate = col(Job.analysis)["duration_s"].as_float()
    read = select(Job, estimate).options(defer(Job.analysis), defer(Job.checkpoint))  # type: ignore[arg-type]
    if matches(f.q, dialect) is not None:
        counts, ids = _searched_page(session, user, f, dialect, after, limit)
        found = {job.id: (job, s) for job, s in session.exec(read.where(col(Job.id).in_(ids)))}
        rows = [found[i] for i in ids if i in found]
    else:
        in_view = read.where(col(Job.state).in_([s.value for s in VIEW_STATES[f.view]]))
        query = _ordered(_filtered(in_view, user, f, dialect), f.view, after)
        rows = list(session.exec(query.limit(limit + 1)))
        counts = _counts(session, user, f, dialect)
    more = len(rows) > limit
    rows = rows[:limit]
    jobs = [job for job, _ in rows]
    listing = JobListing(
        jobs=jobs,
        counts=counts,
        estimates={j.id: float(s) for j, s in rows if j.id is not None and s is not None},
    )
    owner_ids = {j.owner_id for j in jobs}
    listing.owners = {
        u.id: u.name
        for u in session.exec(select(User).where(col(User.id).in_(owner_ids)))
        if u.id is not None
    }
    cache = prices or PriceCache()
    for job in jobs:
        price = cache.get(profiles, job) if job.state in PRICED else None
        if price is not None and job.id is not None:
            listing.prices[job.id] = price
    if more and jobs:
        last = jobs[-1]
        listing.next_key = _queue_key(last) if f.view == View.waiting else str(last.id)
    return listing
