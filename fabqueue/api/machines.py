"""Machines: status, the operator's confirmation, loaded material, service on/off."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from fabqueue.api.deps import CtxDep, CurrentUser, ReadSessionDep, SessionDep, StaffUser
from fabqueue.models import JobPublic, MachineEventPublic, MachinePublic, Outcome
from fabqueue.services import machines as machine_service

router = APIRouter(prefix="/machines", tags=["machines"])


class Confirmation(BaseModel):
    outcome: Outcome | None = None
    """good (billable) or bad (runs again); needed when a job is on the machine."""


class ConfirmResult(BaseModel):
    machine: MachinePublic
    job: JobPublic | None


class OperatorReport(BaseModel):
    next_block: int | None = None
    """The colour block to be stitched next (1 = the first); empty: just "started"."""


class MaterialChoice(BaseModel):
    material: str | None


@router.get("", response_model=list[MachinePublic])
def list_machines(session: ReadSessionDep, user: CurrentUser) -> list[MachinePublic]:
    """Members and clients see machines' states without other people's jobs."""
    return [
        machine_service.to_public(session, r, user) for r in machine_service.list_machines(session)
    ]


@router.get("/{slug}", response_model=MachinePublic)
def get_machine(slug: str, session: ReadSessionDep, user: CurrentUser) -> MachinePublic:
    return machine_service.to_public(session, machine_service.get_record(session, slug), user)


@router.post("/{slug}/confirm", response_model=ConfirmResult)
def confirm(
    slug: str, body: Confirmation, ctx: CtxDep, session: SessionDep, user: StaffUser
) -> ConfirmResult:
    """The operator cleared the machine (bed cleared, vinyl taken off, hoop removed)
    and judged the job on it: good, or bad (it runs again)."""
    job = machine_service.confirm(
        session=session, slug=slug, outcome=body.outcome, actor=user, at=ctx.clock.now()
    )
    record = machine_service.get_record(session, slug)
    return ConfirmResult(
        machine=machine_service.to_public(session, record),
        job=JobPublic.model_validate(job, from_attributes=True) if job else None,
    )


@router.post("/{slug}/report", response_model=JobPublic)
def report(
    slug: str, body: OperatorReport, ctx: CtxDep, session: SessionDep, user: CurrentUser
) -> JobPublic:
    """At a machine that cannot tell its own progress (embroidery from a USB stick): the
    job is started on the machine, and optionally which colour block comes next."""
    job = machine_service.operator_report(
        session=session, slug=slug, next_block=body.next_block, actor=user, at=ctx.clock.now()
    )
    return JobPublic.model_validate(job, from_attributes=True)


@router.post("/{slug}/emergency-stop", response_model=MachinePublic)
def emergency_stop(slug: str, ctx: CtxDep, session: SessionDep, user: StaffUser) -> MachinePublic:
    """Stop the machine now. Its job is interrupted; the machine waits for a person (it
    takes no job until staff confirm it is clear, or resume the interrupted job)."""
    record = machine_service.emergency_stop(
        session=session, user=user, slug=slug, at=ctx.clock.now()
    )
    return machine_service.to_public(session, record)


@router.get("/{slug}/events", response_model=list[MachineEventPublic])
def events(slug: str, session: ReadSessionDep, _user: StaffUser) -> list[MachineEventPublic]:
    """What happened to the machine (emergency stops asked and carried out), oldest first."""
    return [
        MachineEventPublic.model_validate(e, from_attributes=True)
        for e in machine_service.machine_events(session, slug)
    ]


@router.put("/{slug}/material", response_model=MachinePublic)
def set_material(
    slug: str, body: MaterialChoice, ctx: CtxDep, session: SessionDep, _user: StaffUser
) -> MachinePublic:
    """Say which material is now loaded (filament, vinyl roll, thread set)."""
    record = machine_service.set_material(
        session=session,
        profiles=ctx.profiles,
        slug=slug,
        material=body.material,
        at=ctx.clock.now(),
    )
    return machine_service.to_public(session, record)


@router.post("/{slug}/stop", response_model=MachinePublic)
def stop(slug: str, ctx: CtxDep, session: SessionDep, user: StaffUser) -> MachinePublic:
    """Take the machine out of service: it finishes its job and takes no new one."""
    record = machine_service.set_service(
        session=session, slug=slug, in_service=False, at=ctx.clock.now(), actor=user
    )
    return machine_service.to_public(session, record)


@router.post("/{slug}/start", response_model=MachinePublic)
def start(slug: str, ctx: CtxDep, session: SessionDep, user: StaffUser) -> MachinePublic:
    """Put the machine back in service."""
    record = machine_service.set_service(
        session=session, slug=slug, in_service=True, at=ctx.clock.now(), actor=user
    )
    return machine_service.to_public(session, record)
