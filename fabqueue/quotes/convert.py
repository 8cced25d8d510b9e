"""An accepted quote becomes jobs: one job per copy of each design line.

Why one job per copy and not one job with ``copies``: each copy is one run at the
machine with its own "bed cleared / vinyl weeded / hoop removed" confirmation, its own
good/bad outcome (a spoilt shirt runs again alone) and its own actual time for the
estimate-vs-actual report.

The first copy of each design goes through the ordinary submission path
(:func:`fabqueue.services.jobs.submit_job`: stored, analysed, fitted to a machine,
held); the other copies are made from it in the transaction that marks the quote
converted, and all are released to the queue there unless staff asked to hold them.
If anything fails, the jobs already made are cancelled and the quote stays accepted.
"""

from __future__ import annotations

import logging
from datetime import datetime

from sqlmodel import Session

from fabqueue.db import SessionFactory, session_scope
from fabqueue.models import Job, Quote, QuoteJob, QuoteLine, QuoteState, User
from fabqueue.models.quotes import LineKind
from fabqueue.profiles import ProfileSet
from fabqueue.quotes.views import effective_state
from fabqueue.quotes.workflow import actor_of, get_quote, lines_of, locked_for, move
from fabqueue.services.errors import Conflict, Forbidden, ServiceError
from fabqueue.services.jobs import SubmitRequest, submit_job
from fabqueue.states import InvalidTransition, JobState, record_creation, transition
from fabqueue.storage import FileStore
from fabqueue.workers import WorkerPool

log = logging.getLogger(__name__)

_MEDIA = {"svg": "image/svg+xml", "png": "image/png", "jpg": "image/jpeg"}


def _title(quote: Quote, line: QuoteLine, index: int, copies: int) -> str:
    suffix = f" ({index}/{copies})" if copies > 1 else ""
    head = f"{quote.number} · "
    room = 200 - len(head) - len(suffix)
    return head + line.description[:room] + suffix


def _owner(session: Session, quote: Quote, staff: User) -> User:
    """Jobs belong to the client who asked, so they see them; else to staff."""
    if quote.requested_by_id is not None:
        client = session.get(User, quote.requested_by_id)
        if client is not None and client.active:
            session.expunge(client)
            return client
    return staff


def _cancel(sessions: SessionFactory, jobs: list[Job], actor: str, at: datetime) -> None:
    with session_scope(sessions) as session:
        for job in jobs:
            assert job.id is not None
            try:
                transition(
                    session,
                    job.id,
                    JobState.cancelled,
                    expected=[JobState.held],
                    actor=actor,
                    reason="quote conversion failed",
                    at=at,
                )
            except InvalidTransition:
                log.warning("job %s of a failed conversion was already moved", job.id)


def _clone(
    session: Session, store: FileStore, first: Job, title: str, actor: str, at: datetime
) -> Job:
    data = first.model_dump(exclude={"id", "title", "created_at", "updated_at"})
    job = Job.model_validate(
        {**data, "title": title, "state": JobState.held, "created_at": at, "updated_at": at}
    )
    session.add(job)
    session.flush()
    assert first.id is not None and job.id is not None
    preview = store.preview_path(first.id)
    if preview is not None:
        media = _MEDIA.get(preview.suffix.lstrip("."), "application/octet-stream")
        store.save_preview(job.id, media, preview.read_bytes())
    record_creation(session, job, actor=actor, at=at)
    return job


def convert(
    *,
    sessions: SessionFactory,
    read_sessions: SessionFactory,
    store: FileStore,
    profiles: ProfileSet,
    workers: WorkerPool,
    user: User,
    quote_id: int,
    hold: bool,
    upload_limit: int,
    now: datetime,
) -> Quote:
    if not user.is_staff:
        raise Forbidden("staff turn an accepted quote into jobs")
    actor = actor_of(user)
    with read_sessions() as session:
        quote = get_quote(session, quote_id, user)
        state = effective_state(quote, profiles, now)
        if state != QuoteState.accepted:
            raise Conflict(
                f"only an accepted quote becomes jobs; quote "
                f"{quote.number or quote.id} is {state.value}",
                state=state.value,
            )
        assert quote.id is not None
        designs = [ln for ln in lines_of(session, quote.id) if ln.kind == LineKind.design]
        owner = _owner(session, quote, user)
        session.expunge_all()

    firsts: list[tuple[QuoteLine, Job]] = []
    try:
        for line in designs:
            assert line.file_sha256 and line.file_name
            copies = line.quantity_milli // 1000
            with store.path_for(line.file_sha256).open("rb") as fh:
                job = submit_job(
                    sessions=sessions,
                    read_sessions=read_sessions,
                    store=store,
                    profiles=profiles,
                    workers=workers,
                    owner=owner,
                    stream=fh,
                    request=SubmitRequest(
                        filename=line.file_name,
                        kind=line.machine_kind,
                        material=line.material,
                        hold=True,
                        title=_title(quote, line, 1, copies),
                    ),
                    upload_limit=upload_limit,
                    now=now,
                )
            firsts.append((line, job))
    except (ServiceError, OSError) as exc:
        _cancel(sessions, [j for _, j in firsts], actor, now)
        message = exc.message if isinstance(exc, ServiceError) else str(exc)
        raise Conflict(f"cannot make the jobs of this quote: {message}; it stays accepted") from exc

    try:
        with session_scope(sessions) as session:
            locked = locked_for(session, quote_id, user)
            if locked.state != QuoteState.accepted:
                raise Conflict(
                    f"quote {locked.number} is {locked.state.value} now", state=locked.state.value
                )
            made: list[int] = []
            for line, first in firsts:
                assert line.id is not None and first.id is not None and locked.id is not None
                copies = line.quantity_milli // 1000
                jobs = [first] + [
                    _clone(session, store, first, _title(locked, line, i, copies), actor, now)
                    for i in range(2, copies + 1)
                ]
                for index, job in enumerate(jobs, start=1):
                    assert job.id is not None
                    session.add(
                        QuoteJob(
                            job_id=job.id,
                            quote_id=locked.id,
                            quote_line_id=line.id,
                            copy_index=index,
                        )
                    )
                    if not hold:
                        transition(
                            session,
                            job.id,
                            JobState.queued,
                            expected=[JobState.held],
                            actor=actor,
                            reason=f"quote {locked.number} accepted",
                            at=now,
                        )
                    made.append(job.id)
            locked.converted_at = now
            move(
                session,
                locked,
                QuoteState.converted,
                actor=actor,
                action="converted",
                at=now,
                jobs=made,
                held=hold,
            )
            session.flush()
            session.expunge(locked)
    except BaseException:
        _cancel(sessions, [j for _, j in firsts], actor, now)
        raise
    return locked
