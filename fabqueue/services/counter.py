"""What the counter shows and does beyond the job's own moves: the board (machines and
queue), a job's price for a walk-in customer, understanding a file before it is queued,
priority nudges and the customer a job is for.

The pages call these; so could the API and the CLI. No template does arithmetic.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

from sqlmodel import Session, col, func, select

from fabqueue.db import SessionFactory
from fabqueue.events import queue_bus_event
from fabqueue.models import Booking, Job, MachineRecord, User
from fabqueue.pricing import PriceInput, price_line
from fabqueue.profiles import ProfileSet
from fabqueue.profiles.site import VatRegime
from fabqueue.services.analysis import analyse_file, job_params, params_for
from fabqueue.services.booking_rules import tz_of
from fabqueue.services.errors import Invalid, NotFound, TooLarge
from fabqueue.services.intake import make_from_source, source_spec
from fabqueue.services.jobs import (
    MAX_COPIES,
    PRIORITY_RANGE,
    SubmitRequest,
    _check_material,
    _refine,
    get_job,
    machines_for,
)
from fabqueue.services.machines import MachineCatalog, all_machines, occupying_job
from fabqueue.states import OCCUPYING_STATES, JobState
from fabqueue.storage import FileStore, Stored, UploadTooLarge
from fabqueue.workers import WorkerPool
from jobs.base import Analysis, MachineKind
from jobs.registry import file_type_of

BOARD_WAITING = (JobState.queued, JobState.held, JobState.draft, JobState.interrupted)
HUNDRED = Decimal(100)


@dataclass(frozen=True)
class Price:
    ht: Decimal
    ttc: Decimal
    vat_rate: Decimal
    complete: bool
    """False when something the price needs is unknown (it is then a lower bound)."""


@dataclass
class MachineCard:
    record: MachineRecord
    job: Job | None
    ends_at: datetime | None
    bookings: list[tuple[Booking, str]] = field(default_factory=list)
    """The rest of today's bookings with the member's name (the board is for staff)."""


@dataclass
class Board:
    machines: list[MachineCard]
    queue: list[Job]
    """The next jobs, in the order they run."""
    waiting: int = 0
    """All waiting jobs (the board shows the first ones: a glance, not a ledger)."""
    owners: dict[int, str] = field(default_factory=dict)
    prices: dict[int, Price] = field(default_factory=dict)


def vat_rate(profiles: ProfileSet) -> Decimal:
    site = profiles.site
    if site is None or site.vat_regime != VatRegime.normal:
        return Decimal(0)
    return site.default_vat_rate


def _rate(profiles: ProfileSet, kind: MachineKind, slug: str | None) -> Decimal:
    """A pinned machine's rate, else the dearest of the kind's (whichever runs it)."""
    if slug and slug in profiles.machines:
        return profiles.machines[slug].hourly_rate
    rates = [m.hourly_rate for m in profiles.of_kind(kind)]
    return max(rates, default=Decimal(0))


def price_of(
    profiles: ProfileSet,
    analysis: Analysis,
    *,
    kind: MachineKind,
    machine: str | None,
    material: str | None,
    copies: int,
) -> Price:
    """The walk-in price of a job (the price rules, no organisation's discount)."""
    profile = profiles.materials.get(material) if material else None
    result = price_line(
        PriceInput(
            analysis=analysis,
            copies=copies,
            hourly_rate=_rate(profiles, kind, machine),
            material=profile,
        ),
        profiles.prices,
    )
    rate = vat_rate(profiles)
    ht = result.total
    ttc = (ht * (HUNDRED + rate) / HUNDRED).quantize(Decimal("0.01"))
    return Price(ht=ht, ttc=ttc, vat_rate=rate, complete=result.complete)


def job_price(profiles: ProfileSet, job: Job) -> Price | None:
    try:
        return price_of(
            profiles,
            Analysis.model_validate(job.analysis),
            kind=job.kind,
            machine=job.machine or job.target_machine,
            material=job.material,
            copies=job.copies,
        )
    except (ValueError, KeyError):
        return None


class PriceCache:
    """Prices of queued jobs, which change only with what they are computed from: the
    board is drawn at every event and must not price 500 jobs each time."""

    def __init__(self, max_entries: int = 5000) -> None:
        self._entries: dict[tuple[object, ...], Price | None] = {}
        self.max_entries = max_entries

    def get(self, profiles: ProfileSet, job: Job) -> Price | None:
        key = (job.id, job.copies, job.material, job.machine or job.target_machine, job.attempt)
        if key not in self._entries:
            if len(self._entries) >= self.max_entries:
                self._entries.clear()
            self._entries[key] = job_price(profiles, job)
        return self._entries[key]


def _ends_at(job: Job | None, now: datetime) -> datetime | None:
    if job is None or job.eta_s is None or job.state not in OCCUPYING_STATES:
        return None
    return now + timedelta(seconds=job.eta_s)


def board(
    session: Session,
    profiles: ProfileSet,
    *,
    now: datetime,
    prices: PriceCache | None = None,
    queue_limit: int = 30,
) -> Board:
    """One card per machine with the job on it, then the waiting jobs in the order the
    scheduler takes them (priority, then age)."""
    records = all_machines(session)
    on_machines = {
        j.machine: j
        for j in session.exec(
            select(Job).where(col(Job.state).in_([s.value for s in OCCUPYING_STATES]))
        )
    }
    booked = todays_bookings(session, profiles, now)
    cards = [
        MachineCard(
            r,
            on_machines.get(r.slug),
            _ends_at(on_machines.get(r.slug), now),
            booked.get(r.slug, []),
        )
        for r in records
    ]
    waiting_states = [s.value for s in BOARD_WAITING]
    queue = list(
        session.exec(
            select(Job)
            .where(col(Job.state).in_(waiting_states))
            .order_by(col(Job.priority).desc(), col(Job.created_at), col(Job.id))
            .limit(queue_limit)
        )
    )
    waiting = len(queue)
    if waiting == queue_limit:
        waiting = session.exec(
            select(func.count()).select_from(Job).where(col(Job.state).in_(waiting_states))
        ).one()
    owner_ids = {j.owner_id for j in queue} | {j.owner_id for j in on_machines.values()}
    owners = {
        u.id: u.name
        for u in session.exec(select(User).where(col(User.id).in_(owner_ids)))
        if u.id is not None
    }
    cache = prices or PriceCache()
    priced = {j.id: cache.get(profiles, j) for j in queue if j.id is not None}
    return Board(
        cards, queue, int(waiting), owners, {k: v for k, v in priced.items() if v is not None}
    )


def machine_jobs_today(
    session: Session, slug: str, *, since: datetime, limit: int = 50
) -> list[Job]:
    return list(
        session.exec(
            select(Job)
            .where((Job.machine == slug) | (Job.target_machine == slug))
            .where(col(Job.updated_at) >= since)
            .order_by(col(Job.id).desc())
            .limit(limit)
        )
    )


def todays_bookings(
    session: Session, profiles: ProfileSet, now: datetime, machine: str | None = None
) -> dict[str, list[tuple[Booking, str]]]:
    """Machine -> the bookings still to come or under way today (café time), with who."""
    tz = tz_of(profiles)
    midnight = datetime.combine(now.astimezone(tz).date() + timedelta(days=1), time(0), tz)
    q = (
        select(Booking, User.name)
        .join(User, col(User.id) == col(Booking.member_id))
        .where(col(Booking.cancelled_at).is_(None))
        .where(Booking.ends_at > now)
        .where(Booking.starts_at < midnight)
    )
    if machine is not None:
        q = q.where(Booking.machine == machine)
    found: dict[str, list[tuple[Booking, str]]] = {}
    for booking, name in session.exec(q.order_by(col(Booking.starts_at))):
        found.setdefault(booking.machine, []).append((booking, name))
    return found


def machine_card(
    session: Session, slug: str, now: datetime, profiles: ProfileSet | None = None
) -> MachineCard:
    record = session.get(MachineRecord, slug)
    if record is None:
        raise NotFound(f"no machine {slug!r}")
    job = occupying_job(session, slug)
    booked = todays_bookings(session, profiles, now, slug) if profiles is not None else {}
    return MachineCard(record, job, _ends_at(job, now), booked.get(slug, []))


@dataclass(frozen=True)
class Understood:
    """What fabqueue made of a file before anything is queued."""

    sha256: str
    filename: str
    file_type: str
    kind: MachineKind
    machines: list[str]
    analysis: Analysis
    price: Price
    mirrored: bool
    resized: float | None = None
    """The factor the design was scaled by to reach the wanted size (None: as drawn)."""
    weeding_border: bool | None = None
    """Whether the cutter cuts a weeding border around each copy (None: not a cutter)."""
    source_type: str | None = None
    """The type of the file as brought when it was made into ``file_type`` (a model
    sliced, a logo converted or traced); None for a ready file."""
    pages: int | None = None
    """Pages of a PDF or AI file (the page to cut is chosen when there are several)."""

    @property
    def made_name(self) -> str:
        stem = self.filename.rsplit(".", 1)[0] if "." in self.filename else self.filename
        return f"{stem}.{self.file_type}" if self.source_type else self.filename


class PageNeeded(Invalid):
    """A PDF of several pages: which one is to be cut."""

    def __init__(self, pages: int) -> None:
        super().__init__(f"this PDF has {pages} pages: choose which one to cut", pages=pages)
        self.pages = pages


@dataclass(frozen=True)
class WantedSize:
    """The design's wanted width or height in mm (the other follows: aspect kept)."""

    width_mm: float | None = None
    height_mm: float | None = None

    def factor(self, analysis: Analysis) -> float | None:
        b = analysis.bounds
        if b is None or (self.width_mm is None and self.height_mm is None):
            return None
        if self.width_mm is not None:
            if not 1 <= self.width_mm <= 10_000:
                raise Invalid("the wanted width must be between 1 mm and 10 m")
            return self.width_mm / max(b.max_x - b.min_x, 1e-9)
        assert self.height_mm is not None
        if not 1 <= self.height_mm <= 10_000:
            raise Invalid("the wanted height must be between 1 mm and 10 m")
        return self.height_mm / max(b.max_y - b.min_y, 1e-9)


def _resize(store: FileStore, path: Path, file_type: str, factor: float, upload_limit: int) -> Path:
    from jobs.base import AnalysisError
    from jobs.vinyl.resize import scaled

    if file_type != "svg":
        raise Invalid("only an SVG drawing can be resized here")
    try:
        data = scaled(path.read_bytes(), factor)
    except AnalysisError as exc:
        raise Invalid(str(exc)) from exc
    return store.save(io.BytesIO(data), limit=upload_limit).path


def intake_status() -> dict[str, bool]:
    """Which ways of taking files in work on this node: models (prusa-slicer), PDF and
    AI logos (poppler-utils), pictures (potrace). A page says what is unavailable."""
    from jobs.registry import SOURCES

    return {
        "models": SOURCES["stl"].available(),
        "pdf": SOURCES["pdf"].available(),
        "pictures": SOURCES["png"].available(),
    }


def _pages(path: Path, file_type: str, page: int | None) -> int | None:
    from jobs.base import AnalysisError
    from jobs.logos.convert import PDF_TYPES
    from jobs.logos.pdf import pdf_available

    if file_type not in PDF_TYPES or not pdf_available():
        return None
    from jobs.logos.pdf import page_count

    try:
        pages = page_count(path)
    except AnalysisError as exc:
        raise Invalid(str(exc)) from exc
    if pages > 1 and page is None:
        raise PageNeeded(pages)
    return pages


@dataclass(frozen=True)
class _Made:
    path: Path
    file_type: str
    source_type: str | None = None
    pages: int | None = None
    details: dict[str, Any] = field(default_factory=dict)


def _made(
    *,
    store: FileStore,
    profiles: ProfileSet,
    workers: WorkerPool,
    stored: Stored,
    brought: str,
    targets: list[MachineRecord],
    request: SubmitRequest,
    upload_limit: int,
) -> _Made:
    """The file to analyse: as brought, or sliced / converted / traced from it."""
    spec = source_spec(brought)
    if spec is None:
        return _Made(stored.path, brought)
    pages = _pages(stored.path, brought, request.intake.page)
    made, details = make_from_source(
        store=store, profiles=profiles, workers=workers, source=stored, file_type=brought,
        targets=targets, material=request.material, options=request.intake,
        upload_limit=upload_limit,
    )  # fmt: skip
    return _Made(made.path, spec.becomes, brought, pages, details)


def _with_made_from(analysis: Analysis, made: _Made) -> Analysis:
    """As the queued job will say it: what the slicer or the tracer warned of, and how."""
    if made.source_type is None:
        return analysis
    details = dict(made.details)
    warnings = [*analysis.warnings, *details.pop("warnings", [])]
    return analysis.model_copy(
        update={"warnings": warnings, "details": {**analysis.details, "made_from": details}}
    )


def _weeding_border(
    profiles: ProfileSet, target: MachineRecord, choices: dict[str, bool]
) -> bool | None:
    from jobs.params import CutterParams

    params = job_params(params_for(profiles, target), choices)
    return params.weeding_border if isinstance(params, CutterParams) else None


def understand(
    *,
    read_sessions: SessionFactory,
    store: FileStore,
    profiles: ProfileSet,
    workers: WorkerPool,
    stream: BinaryIO,
    request: SubmitRequest,
    upload_limit: int,
    catalog: MachineCatalog | None = None,
    size: WantedSize | None = None,
) -> Understood:
    """Store and analyse a file as a submission would (a model sliced, a logo converted
    or traced first), resized if asked, and price it; queue nothing.

    The stored file is kept by its sha256 for the submission that follows; if none
    does, the store's garbage collection removes it at the next start.
    """
    if not 1 <= request.copies <= MAX_COPIES:
        raise Invalid(f"copies must be between 1 and {MAX_COPIES}")
    brought = file_type_of(request.filename)
    spec = source_spec(brought)
    file_type = spec.becomes if spec is not None else brought
    if catalog is not None:
        known = catalog.records()
    else:
        with read_sessions() as session:
            known = all_machines(session)
    targets = machines_for(known, request, file_type)
    if request.material is not None:
        _check_material(profiles, targets, request.material)
    try:
        stored = store.save(stream, limit=upload_limit)
    except UploadTooLarge as exc:
        raise TooLarge(str(exc), limit=exc.limit) from exc
    made = _made(
        store=store, profiles=profiles, workers=workers, stored=stored, brought=brought,
        targets=targets, request=request, upload_limit=upload_limit,
    )  # fmt: skip
    path = made.path
    choices = request.choices
    analysis = analyse_file(path, file_type, profiles, targets, workers=workers, choices=choices)
    factor = size.factor(analysis) if size is not None else None
    if factor is not None and size is not None:
        original = path
        # The drawing program's idea of a px (90 or 96 per inch) may differ from the
        # page size's: one correction from the measured result makes the size exact.
        for _ in range(2):
            path = _resize(store, original, file_type, factor, upload_limit)
            analysis = analyse_file(
                path, file_type, profiles, targets, workers=workers, choices=choices
            )
            correction = size.factor(analysis)
            if correction is None or abs(correction - 1) < 1e-3:
                break
            factor *= correction
    analysis = _with_made_from(_refine(read_sessions, profiles, request, targets, analysis), made)
    material = profiles.materials.get(request.material) if request.material else None
    price = price_of(
        profiles,
        analysis,
        kind=targets[0].kind,
        machine=request.machine,
        material=request.material,
        copies=request.copies,
    )
    mirrored = choices.get("mirror", bool(material is not None and material.cut_mirrored))
    return Understood(
        sha256=path.name,
        filename=request.filename,
        file_type=file_type,
        kind=targets[0].kind,
        machines=[t.slug for t in targets],
        analysis=analysis,
        price=price,
        mirrored=mirrored and targets[0].kind == MachineKind.vinyl_cutter,
        resized=factor,
        weeding_border=_weeding_border(profiles, targets[0], choices),
        source_type=made.source_type,
        pages=made.pages,
    )


def stored_upload(store: FileStore, sha256: str) -> Path:
    """The file a page analysed a moment ago, to submit it without sending it twice."""
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise Invalid("this file reference is not valid; choose the file again")
    path = store.path_for(sha256)
    if not path.exists():
        raise NotFound("this file is no longer here; choose it again")
    return path


def set_customer(
    *, session: Session, job_id: int, user: User, name: str | None, contact: str | None
) -> Job:
    """Who the job is for, so the counter can call them; kept no longer than the job."""
    job = get_job(session, job_id, user)
    job.customer_name = (name or "").strip()[:120] or None
    job.customer_contact = (contact or "").strip()[:200] or None
    session.add(job)
    session.commit()
    return job


def nudge_priority(*, session: Session, job_id: int, user: User, delta: int, at: datetime) -> Job:
    """Move a waiting job up (+1) or down (-1) the queue: staff only."""
    job = get_job(session, job_id, user)
    if not user.is_staff:
        raise Invalid("only staff can change the order of the queue")
    if job.state not in (JobState.queued, JobState.held, JobState.draft):
        raise Invalid("only a waiting job can move in the queue")
    wanted = job.priority + delta
    if wanted not in PRIORITY_RANGE:
        raise Invalid("this job is already at the end of the range")
    job.priority = wanted
    job.updated_at = at
    session.add(job)
    queue_bus_event(
        session, "job:priority", {"job_id": job.id, "priority": wanted, "actor": f"user:{user.id}"}
    )
    session.commit()
    return job


def owners_of(session: Session, jobs: Sequence[Job]) -> dict[int, str]:
    ids = {j.owner_id for j in jobs}
    return {
        u.id: u.name
        for u in session.exec(select(User).where(col(User.id).in_(ids)))
        if u.id is not None
    }


def preview_upload(
    *, store: FileStore, profiles: ProfileSet, understood: Understood
) -> tuple[str, bytes] | None:
    """The picture of an analysed file (media type, bytes), at its real size."""
    from jobs.registry import preview as make_preview

    local = profiles.machines.get(understood.machines[0])
    params = local.params if local is not None else None
    if params is not None:
        # The preview shows the cut as it will be made: mirrored for flex, bordered.
        choices = {"mirror": understood.mirrored}
        if understood.weeding_border is not None:
            choices["weeding_border"] = understood.weeding_border
        params = job_params(params, choices)
    try:
        picture = make_preview(
            store.path_for(understood.sha256), understood.file_type, params, understood.analysis
        )
    except Exception:  # a preview is a nicety: the job is fine without one
        return None
    return None if picture is None else (picture.media_type, picture.data)


def set_service_with_reason(
    *, session: Session, slug: str, in_service: bool, reason: str, at: datetime
) -> MachineRecord:
    """Out of service with the reason shown on its card, or back in service."""
    from fabqueue.services.machines import set_service

    reason = reason.strip()[:300]
    if not in_service and not reason:
        raise Invalid("say why the machine is out of service")
    record = session.get(MachineRecord, slug)
    if record is None:
        raise NotFound(f"no machine {slug!r}")
    record.service_note = None if in_service else reason
    session.add(record)
    return set_service(session=session, slug=slug, in_service=in_service, at=at)
