"""Turning a claimed job into what its machine takes: the machine's own file."""

from __future__ import annotations

from collections.abc import Mapping

from drivers.base import JobRejected, JobTicket
from fabqueue.profiles import MachineProfile, MaterialProfile
from fabqueue.services.analysis import CHOICES_KEY, job_params
from fabqueue.storage import FileStore
from fabqueue.workers import WorkerPool, WorkFailed, tasks
from jobs.base import AnalysisError, FileRejected


def prepare_ticket(
    ticket: JobTicket,
    *,
    machine: MachineProfile,
    materials: Mapping[str, MaterialProfile],
    store: FileStore,
    workers: WorkerPool,
) -> JobTicket:
    """Make the machine's own file (HP-GL, the machine's embroidery format…) when the
    job's kind converts; a file that cannot be made on this machine is rejected.

    The job's file is fetched first (from the database, with the database store); one
    that cannot be found raises ``FileMissing``. The conversion runs in the worker pool,
    waiting for room in its queue rather than failing: the job is claimed already, and
    uploads are what the queue's bound is for.
    """
    # Claims name the file by its content address (store.path_for), read back here.
    ticket = ticket.model_copy(update={"file_path": store.fetch(ticket.file_path.name)})
    params = machine.params
    material = materials.get(ticket.material or "")
    if material is not None and material.cut_mirrored and hasattr(params, "mirror"):
        params = params.model_copy(update={"mirror": True})
    # What the job chose at the counter (mirror off for this flex, a weeding border)
    # goes over the material's and the machine's defaults.
    params = job_params(params, ticket.params.get(CHOICES_KEY))
    try:
        artifact = workers.run(
            tasks.convert,
            ticket.file_path,
            ticket.file_type,
            params,
            store.artifact_dir(ticket.job_id, machine.slug),
            ticket.copies,
            wait=True,
        )
    except (AnalysisError, FileRejected) as exc:
        raise JobRejected(str(exc)) from exc
    except WorkFailed as exc:
        raise JobRejected(f"making the machine's file {exc.reason}") from exc
    if artifact is None:
        return ticket
    return ticket.model_copy(
        update={
            "file_path": artifact.path,
            "file_type": artifact.file_type,
            "params": {**ticket.params, "source_type": ticket.file_type, **artifact.details},
        }
    )
