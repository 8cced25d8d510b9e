"""An accepted quote becomes jobs: one job per copy of each design line.

Why one job per copy and not one job with ``copies``: each copy is one run at the
machine with its own "bed cleared / vinyl weeded / hoop removed" confirmation, its own
good/bad outcome (a spoilt shirt runs again alone) and its own actual time for the
estimate-vs-actual report.

Everything happens in one write transaction, guard first: the quote moves from accepted
to converted (a guarded UPDATE), then its jobs are made. A second convert of the same
quote (a double click, two tabs) waits for the first and is refused before it makes
anything, so no job is ever made and then cancelled. The jobs are made from the file and
the analysis each design line got when it was added (the machines could make it then);
nothing is analysed again, which keeps the transaction short.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session, select

from fabqueue.db import SessionFactory, session_scope
from fabqueue.models import (
    Job,
    MachineRecord,
    Quote,
    QuoteEvent,
    QuoteJob,
    QuoteLine,
    QuoteState,
    User,
)
from fabqueue.models.quotes import LineKind
from fabqueue.profiles import ProfileSet
from fabqueue.quotes.states import move
from fabqueue.quotes.views import effective_state
from fabqueue.quotes.workflow import actor_of, get_quote, lines_of, locked_for
from fabqueue.services.errors import Conflict, Forbidden, ServiceError
from fabqueue.services.estimates import UNLEARNABLE_DRIVERS, apply_correction, correction_factor
from fabqueue.services.jobs import SubmitRequest, machines_for
from fabqueue.services.machines import all_machines, params_of
from fabqueue.states import JobState, record_creation, transition
from fabqueue.storage import FileStore
from jobs.base import Analysis
from jobs.gcode.analysis import with_material


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
            return client
    return staff


def _check_accepted(quote: Quote, profiles: ProfileSet, now: datetime) -> None:
    state = effective_state(quote, profiles, now)
    if state != QuoteState.accepted:
        raise Conflict(
            f"only an accepted quote becomes jobs; quote "
            f"{quote.number or quote.id} is {state.value}",
            state=state.value,
        )


def _takers(
    profiles: ProfileSet,
    line: QuoteLine,
    targets: list[MachineRecord],
    analysis: Analysis,
) -> list[MachineRecord]:
    """The machines that can still make the line as it was analysed (the machines may
    have changed since the quote was sent): its size fits, its material is taken."""

    def fits(record: MachineRecord) -> bool:
        local = profiles.machines.get(record.slug)
        params = local.params if local is not None else params_of(record)
        return not params.fit_problems(analysis)

    def takes(record: MachineRecord) -> bool:
        allowed = record.spec.get("materials")
        return not line.material or not allowed or line.material in allowed

    takers = [r for r in targets if fits(r) and takes(r)]
    if not takers:
        raise Conflict(
            f"no machine here can make line {line.position} any more "
            f"({line.file_name}, {line.material or 'no material'}): change the machines "
            "or make a new version of the quote"
        )
    return takers


def _job_template(
    session: Session, store: FileStore, profiles: ProfileSet, line: QuoteLine
) -> dict[str, object]:
    """The columns shared by every copy of a design line's job."""
    assert line.file_sha256 and line.file_name and line.file_type
    if not store.has(line.file_sha256):
        raise Conflict(f"the file of line {line.position} ({line.file_name}) is missing")
    request = SubmitRequest(filename=line.file_name, kind=line.machine_kind)
    try:
        targets = machines_for(all_machines(session), request, line.file_type)
    except ServiceError as exc:
        raise Conflict(f"line {line.position} cannot be made now: {exc.message}") from exc
    analysis = Analysis.model_validate(line.analysis)
    targets = _takers(profiles, line, targets, analysis)
    material = profiles.materials.get(line.material) if line.material else None
    if material is not None:
        analysis = with_material(
            analysis, density_g_cm3=material.density_g_cm3, diameter_mm=material.diameter_mm
        )
    if len(targets) == 1 and targets[0].driver not in UNLEARNABLE_DRIVERS:
        analysis = apply_correction(analysis, correction_factor(session, targets[0].slug))
    return {
        "kind": targets[0].kind,
        "material": line.material,
        "file_sha256": line.file_sha256,
        "file_name": line.file_name,
        "file_type": line.file_type,
        "file_size": line.file_size or 0,
        "analysis": analysis.model_dump(mode="json"),
    }


def _make_jobs(
    session: Session,
    store: FileStore,
    profiles: ProfileSet,
    quote: Quote,
    line: QuoteLine,
    *,
    owner: User,
    actor: str,
    hold: bool,
    now: datetime,
) -> list[int]:
    """One held job per copy of ``line``, linked to the quote, queued unless ``hold``."""
    assert quote.id is not None and line.id is not None and owner.id is not None
    template = _job_template(session, store, profiles, line)
    copies = line.quantity_milli // 1000
    made = []
    for index in range(1, copies + 1):
        job = Job.model_validate(
            {
                **template,
                "owner_id": owner.id,
                "title": _title(quote, line, index, copies),
                "state": JobState.held,
                "created_at": now,
                "updated_at": now,
            }
        )
        session.add(job)
        session.flush()
        assert job.id is not None
        record_creation(session, job, actor=actor, at=now)
        session.add(
            QuoteJob(job_id=job.id, quote_id=quote.id, quote_line_id=line.id, copy_index=index)
        )
        if not hold:
            transition(
                session,
                job.id,
                JobState.queued,
                expected=[JobState.held],
                actor=actor,
                reason=f"quote {quote.number} accepted",
                at=now,
            )
        made.append(job.id)
    return made


def _note_jobs(session: Session, quote: Quote, made: list[int]) -> None:
    """Write the jobs made on the conversion's event (written first, by the guard)."""
    event = session.exec(
        select(QuoteEvent)
        .where(QuoteEvent.quote_id == quote.id)
        .where(QuoteEvent.to_state == QuoteState.converted)
    ).one()
    event.detail = {**event.detail, "jobs": made}
    session.add(event)


def convert(
    *,
    sessions: SessionFactory,
    read_sessions: SessionFactory,
    store: FileStore,
    profiles: ProfileSet,
    user: User,
    quote_id: int,
    hold: bool,
    now: datetime,
) -> Quote:
    """Make the jobs of an accepted quote, in one transaction that takes the guard first."""
    if not user.is_staff:
        raise Forbidden("staff turn an accepted quote into jobs")
    with read_sessions() as session:
        # A cheap early answer for a quote that is plainly not accepted (no write lock).
        _check_accepted(get_quote(session, quote_id, user), profiles, now)
    actor = actor_of(user)
    with session_scope(sessions) as session:
        quote = locked_for(session, quote_id, user)
        _check_accepted(quote, profiles, now)
        move(
            session,
            quote,
            QuoteState.converted,
            expected=[QuoteState.accepted],
            actor=actor,
            at=now,
            values={"converted_at": now},
            held=hold,
        )
        assert quote.id is not None
        owner = _owner(session, quote, user)
        made: list[int] = []
        for line in lines_of(session, quote.id):
            if line.kind == LineKind.design:
                made += _make_jobs(
                    session,
                    store,
                    profiles,
                    quote,
                    line,
                    owner=owner,
                    actor=actor,
                    hold=hold,
                    now=now,
                )
        _note_jobs(session, quote, made)
        session.flush()
        session.expunge(quote)
    return quote
