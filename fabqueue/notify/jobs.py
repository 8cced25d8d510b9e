"""Messages caused by a job's state: ready to collect, failed, interrupted.

Called by :func:`fabqueue.states.transition` in the transaction of the move."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from fabqueue.models.clients import Organisation
from fabqueue.models.jobs import Job, JobState
from fabqueue.models.notifications import NoticeKind
from fabqueue.models.quotes import Quote, QuoteJob
from fabqueue.models.users import User
from fabqueue.notify.outbox import (
    Recipient,
    enqueue,
    looks_like_email,
    organisation_recipients,
    user_recipient,
)

KIND_OF_STATE = {
    JobState.succeeded: NoticeKind.job_ready,
    JobState.failed: NoticeKind.job_failed,
    JobState.interrupted: NoticeKind.job_interrupted,
}


def _recipients(session: Session, job: Job, kind: NoticeKind) -> list[Recipient]:
    found: list[Recipient] = []
    owner = session.get(User, job.owner_id)
    if owner is not None and not owner.is_staff:
        found.append(user_recipient(session, owner))
    # Shops and walk-ins hear only that it is ready: a failure or an interruption is
    # the café's business to fix (it runs again), not the customer's.
    if kind != NoticeKind.job_ready:
        return found
    link = session.get(QuoteJob, job.id)
    if link is not None:
        quote = session.get(Quote, link.quote_id)
        org = session.get(Organisation, quote.organisation_id) if quote else None
        if org is not None:
            found.extend(organisation_recipients(session, org))
    elif looks_like_email(job.customer_contact):
        assert job.customer_contact is not None
        found.append(Recipient(None, job.customer_contact.strip()))
    return found


def job_moved(session: Session, job_id: int, to: JobState, at: datetime) -> None:
    kind = KIND_OF_STATE.get(to)
    if kind is None:
        return
    job = session.get(Job, job_id)
    if job is None:
        return
    recipients = _recipients(session, job, kind)
    if not recipients:
        return
    params = {
        "job_id": job_id,
        "title": job.title,
        "machine": job.machine,
        "message": job.message,
        "customer_name": job.customer_name,
    }
    for r in recipients:
        # A person signed in follows the job on its page; a walk-in has no page.
        enqueue(
            session,
            [r],
            kind,
            params=params,
            link=f"/jobs/{job_id}" if r.user_id is not None else "",
            at=at,
        )
