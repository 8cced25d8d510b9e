"""Turning a claimed job into what its machine takes: the machine's own file."""

from __future__ import annotations

from collections.abc import Mapping

from drivers.base import JobRejected, JobTicket
from fabqueue.profiles import MachineProfile, MaterialProfile
from fabqueue.storage import FileStore
from jobs.base import AnalysisError, FileRejected
from jobs.registry import convert


def prepare_ticket(
    ticket: JobTicket,
    *,
    machine: MachineProfile,
    materials: Mapping[str, MaterialProfile],
    store: FileStore,
) -> JobTicket:
    """Make the machine's own file (HP-GL, the machine's embroidery format…) when the
    job's kind converts; a file that cannot be made on this machine is rejected.
    The job's file is fetched first (from the database, with the database store); one
    that cannot be found raises ``FileMissing``."""
    # Claims name the file by its content address (store.path_for), read back here.
    ticket = ticket.model_copy(update={"file_path": store.fetch(ticket.file_path.name)})
    params = machine.params
    material = materials.get(ticket.material or "")
    if material is not None and material.cut_mirrored and hasattr(params, "mirror"):
        params = params.model_copy(update={"mirror": True})
    try:
        artifact = convert(
            ticket.file_path,
            ticket.file_type,
            params,
            store.artifact_dir(ticket.job_id, machine.slug),
            copies=ticket.copies,
        )
    except (AnalysisError, FileRejected) as exc:
        raise JobRejected(str(exc)) from exc
    if artifact is None:
        return ticket
    return ticket.model_copy(
        update={
            "file_path": artifact.path,
            "file_type": artifact.file_type,
            "params": {**ticket.params, "source_type": ticket.file_type, **artifact.details},
        }
    )
