"""File work for jobs and quotes: analyses and previews, run in the worker pool, and
the words a submitter reads when a file is refused."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio.to_thread
from sqlmodel import Session

from fabqueue.models import Job, MachineRecord
from fabqueue.profiles import ProfileSet
from fabqueue.services.errors import Busy, Invalid, ServiceError
from fabqueue.services.machines import params_of
from fabqueue.storage import FileMissing, FileStore
from fabqueue.workers import PoolBusy, WorkerPool, WorkFailed, tasks
from jobs.base import Analysis, AnalysisError, FileRejected, Preview
from jobs.params import CutterParams, MachineParams
from jobs.params.cutter import with_job_choices

log = logging.getLogger(__name__)


CHOICES_KEY = "job_choices"
"""Where a job's own choices (mirror, weeding border) live in its analysis' details:
with the figures they changed, read again for its preview and at dispatch."""


def job_choices(analysis: Mapping[str, Any] | None) -> dict[str, bool]:
    details = (analysis or {}).get("details") or {}
    found = details.get(CHOICES_KEY) or {}
    return {str(k): bool(v) for k, v in found.items()}


def params_for(profiles: ProfileSet, record: MachineRecord) -> MachineParams:
    local = profiles.machines.get(record.slug)
    return local.params if local is not None else params_of(record)


def refusal(file_type: str, exc: Exception) -> ServiceError:
    """What the submitter reads when the workers could not, or would not, read a file."""
    if isinstance(exc, PoolBusy):
        return Busy(str(exc), retry_after_s=30)
    if isinstance(exc, WorkFailed):
        return Invalid(f"this {file_type} file is refused: reading it {exc.reason}")
    if isinstance(exc, AnalysisError):
        return Invalid(f"cannot read this {file_type} file: {exc}")
    return Invalid(str(exc))


REFUSED = (PoolBusy, WorkFailed, AnalysisError, FileRejected)


def worker_owner(user_id: int | None) -> str:
    """Whose turn a file takes in the worker pool: its owner's, so one person's uploads
    cannot hold every worker while somebody else's file waits."""
    return f"user:{user_id}"


def job_params(params: MachineParams, choices: Mapping[str, object] | None) -> MachineParams:
    """A machine's parameters with what one job chose for itself (a cutter's mirror and
    weeding border); other kinds take no choice."""
    if choices and isinstance(params, CutterParams):
        return with_job_choices(params, choices)
    return params


def analysis_task(
    path: Path,
    file_type: str,
    profiles: ProfileSet,
    targets: list[MachineRecord],
    choices: Mapping[str, object] | None = None,
) -> tuple[Any, ...]:
    """The worker task (function and arguments) that analyses ``path``."""
    return (tasks.analyze, path, file_type, job_params(params_for(profiles, targets[0]), choices))


def check_fit(
    analysis: Analysis,
    profiles: ProfileSet,
    targets: list[MachineRecord],
    choices: Mapping[str, object] | None = None,
) -> None:
    problems = {
        r.slug: job_params(params_for(profiles, r), choices).fit_problems(analysis) for r in targets
    }
    if all(problems.values()):
        if len(targets) == 1:
            raise Invalid(f"does not fit {targets[0].slug}: {'; '.join(problems[targets[0].slug])}")
        detail = "; ".join(f"{slug}: {', '.join(p)}" for slug, p in problems.items())
        raise Invalid(f"does not fit any machine: {detail}")


def analyse_file(
    path: Path,
    file_type: str,
    profiles: ProfileSet,
    targets: list[MachineRecord],
    *,
    workers: WorkerPool,
    choices: Mapping[str, object] | None = None,
) -> Analysis:
    """Analyse in a worker (blocking this thread; the API's own upload awaits instead)."""
    try:
        analysis: Analysis = workers.run(
            *analysis_task(path, file_type, profiles, targets, choices)
        )
    except REFUSED as exc:
        raise refusal(file_type, exc) from exc
    check_fit(analysis, profiles, targets, choices)
    return analysis


@dataclass(frozen=True)
class _PreviewWork:
    job_id: int
    existing: Path | None
    task: tuple[Any, ...] = ()


def _preview_work(
    session: Session, store: FileStore, profiles: ProfileSet, job: Job
) -> _PreviewWork:
    assert job.id is not None
    existing = store.preview_path(job.id)
    if existing is not None:
        return _PreviewWork(job.id, existing)
    slug = job.machine or job.target_machine
    record = session.get(MachineRecord, slug) if slug else None
    if record is None:
        local = profiles.of_kind(job.kind)
        params: MachineParams | None = local[0].params if local else None
    else:
        params = params_for(profiles, record)
    if params is not None:
        params = job_params(params, job_choices(job.analysis))
    task = (
        tasks.preview,
        store.fetch(job.file_sha256),
        job.file_type,
        params,
        Analysis.model_validate(job.analysis),
    )
    return _PreviewWork(job.id, None, task)


async def job_preview(
    *, session: Session, store: FileStore, profiles: ProfileSet, workers: WorkerPool, job: Job
) -> Path | None:
    """The job's picture, made in the worker pool the first time someone asks for it (a
    submission need not pay for a picture nobody may look at), then kept."""
    try:
        work = await anyio.to_thread.run_sync(_preview_work, session, store, profiles, job)
    except FileMissing as exc:
        # No file here (purged, or left on a node that never shared it): no picture,
        # like any job without one, rather than an error on every board that shows it.
        log.warning("no preview for job %s: %s", job.id, exc)
        return None
    if work.existing is not None:
        return work.existing
    try:
        picture: Preview | None = await workers.arun(*work.task, owner=worker_owner(job.owner_id))
    except PoolBusy as exc:
        raise Busy(str(exc), retry_after_s=30) from exc
    except Exception as exc:  # a preview is a nicety: the job is fine without one
        log.warning("no preview for job %s (%s): %s", job.id, job.file_type, exc)
        return None
    if picture is None:
        return None
    return await anyio.to_thread.run_sync(
        store.save_preview, work.job_id, picture.media_type, picture.data
    )
