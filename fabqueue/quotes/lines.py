"""A quote's lines while it is a request or a draft: designs (files, analysed and
priced automatically) and free lines priced by hand."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import BinaryIO

from babel.numbers import format_decimal
from sqlmodel import Session, func, select

from fabqueue.db import SessionFactory, session_scope
from fabqueue.models import Quote, QuoteLine, QuoteState, User
from fabqueue.models.quote_public import LineIn, LinePatch
from fabqueue.models.quotes import LineKind, PriceSource
from fabqueue.profiles import ProfileSet
from fabqueue.profiles.site import FRENCH_VAT_RATES, VatRegime
from fabqueue.quotes import pricing as quote_pricing
from fabqueue.quotes.workflow import (
    KIND_LABELS,
    MILLI,
    actor_of,
    editable,
    get_quote,
    locked_for,
    quote_org,
    record_change,
    sync_discount,
)
from fabqueue.services.analysis import analyse_file
from fabqueue.services.errors import Forbidden, Invalid, NotFound, TooLarge
from fabqueue.services.intake import IntakeOptions, make_from_source, source_spec
from fabqueue.services.jobs import MAX_COPIES, SubmitRequest, index_file, machines_for
from fabqueue.services.machines import all_machines
from fabqueue.storage import FileStore, Stored, UploadTooLarge
from fabqueue.workers import WorkerPool
from jobs.base import Analysis, Bounds, MachineKind, Quantity
from jobs.registry import file_type_of

_WHAT = {
    MachineKind.vinyl_cutter: "Autocollant",
    MachineKind.fdm_printer: "Pièce imprimée en 3D",
    MachineKind.embroidery: "Broderie",
}


def _mm(value: float) -> str:
    return format_decimal(round(value, 1), format="#,##0.#", locale="fr_FR")


def _size(kind: MachineKind, bounds: Bounds | None) -> str:
    if bounds is None:
        return ""
    sides = [bounds.max_x - bounds.min_x, bounds.max_y - bounds.min_y]
    if kind == MachineKind.fdm_printer:
        sides.append(bounds.max_z - bounds.min_z)
    return " × ".join(_mm(side) for side in sides) + " mm"


def designation(
    kind: MachineKind, analysis: Analysis, profiles: ProfileSet, material: str | None
) -> str:
    """What the line makes, in the client's words: « Autocollant 80 × 40 mm, vinyle
    noir », not the name of the file it came in (staff still see the file name)."""
    parts = [
        " ".join(
            p for p in (_WHAT.get(kind, KIND_LABELS[kind.value]), _size(kind, analysis.bounds)) if p
        )
    ]
    colours = analysis.counts.get(Quantity.COLOUR_CHANGES)
    if kind == MachineKind.embroidery and colours is not None:
        parts.append(f"{colours + 1} couleur" + ("s" if colours + 1 >= 2 else ""))
    profile = profiles.materials.get(material) if material else None
    if profile is not None:
        name = profile.name
        # « vinyle noir » inside a sentence, but « PLA noir » keeps its capitals.
        parts.append(name[:1].lower() + name[1:] if name[1:2].islower() else name)
    return ", ".join(parts)


def _next_position(session: Session, quote_id: int) -> int:
    # The discount line is remade after the others at each change: it does not count.
    top = session.exec(
        select(func.max(QuoteLine.position))
        .where(QuoteLine.quote_id == quote_id)
        .where(QuoteLine.kind != LineKind.discount)
    ).one()
    return int(top or 0) + 1


def _vat_bp(profiles: ProfileSet, rate: Decimal | None) -> int:
    site = profiles.site
    if rate is None:
        rate = site.line_vat_rate() if site else Decimal(20)
    if site is not None and site.vat_regime != VatRegime.normal and rate != 0:
        raise Invalid(f"this café is under {site.vat_regime.value}: its quotes carry no VAT")
    allowed = site.vat_rates if site else [Decimal(r) for r in FRENCH_VAT_RATES]
    if rate not in allowed:
        raise Invalid(f"VAT rate {rate} % is not one of {', '.join(str(r) for r in allowed)}")
    return int(rate * 100)


def _chosen_rate(profiles: ProfileSet, rate: Decimal | None) -> bool:
    """Staff chose this rate: it is kept when the quote is sent. Outside the normal regime
    every rate is 0 by law, not by choice, and follows the regime in force at sending."""
    site = profiles.site
    return rate is not None and (site is None or site.vat_regime == VatRegime.normal)


def _get_line(session: Session, quote: Quote, line_id: int) -> QuoteLine:
    line = session.get(QuoteLine, line_id)
    if line is None or line.quote_id != quote.id:
        raise NotFound(f"quote {quote.id} has no line {line_id}")
    if line.kind == LineKind.discount:
        raise Invalid(
            "the discount line follows the client's discount on the designs: change the "
            "client's adjustment (or the designs' prices) instead"
        )
    return line


@dataclass(frozen=True)
class PreparedDesign:
    """A design file stored and understood, before any quote is locked."""

    kind: MachineKind
    material: str | None
    stored: Stored
    file_type: str
    analysis: Analysis
    original: Stored | None = None
    """The model or logo as brought, when the analysed file was made from it."""


def prepare_design(
    *,
    read_sessions: SessionFactory,
    store: FileStore,
    profiles: ProfileSet,
    workers: WorkerPool,
    stream: BinaryIO,
    filename: str,
    material: str | None,
    upload_limit: int,
    intake: IntakeOptions | None = None,
) -> PreparedDesign:
    """Store and analyse a design file like a job submission (outside any write
    transaction): a file the machines cannot make is refused here. A model is sliced and
    a PDF or photo logo traced first, as for jobs (``services/intake.py``)."""
    file_type = file_type_of(filename)
    source = source_spec(file_type)
    with read_sessions() as session:
        request = SubmitRequest(filename=filename, kind=source.kind if source else None)
        ready_type = source.becomes if source else file_type
        targets = machines_for(all_machines(session), request, ready_type)
    kind = targets[0].kind
    material = material or quote_pricing.default_material(profiles, kind)
    if material is not None:
        quote_pricing.check_material(profiles, kind, material)
    try:
        stored = store.save(stream, limit=upload_limit)
    except UploadTooLarge as exc:
        raise TooLarge(str(exc), limit=exc.limit) from exc
    original, made_from = None, None
    if source is not None:
        original = stored
        stored, made_from = make_from_source(
            store=store, profiles=profiles, workers=workers, source=stored,
            file_type=file_type, targets=targets, material=material,
            options=intake or IntakeOptions(),
            upload_limit=upload_limit,
        )  # fmt: skip
    analysis = analyse_file(stored.path, ready_type, profiles, targets, workers=workers)
    if made_from is not None:
        made_from = dict(made_from)
        analysis.warnings.extend(made_from.pop("warnings", []))
        analysis.details["made_from"] = made_from
    return PreparedDesign(kind, material, stored, ready_type, analysis, original)


def design_line(
    session: Session,
    *,
    quote: Quote,
    design: PreparedDesign,
    profiles: ProfileSet,
    filename: str,
    quantity: int,
    description: str | None,
    now: datetime,
) -> QuoteLine:
    """The line of a prepared design, added to ``quote`` (locked by the caller)."""
    assert quote.id is not None
    index_file(session, design.stored.sha256, design.stored.size, now)
    if design.original is not None:
        index_file(session, design.original.sha256, design.original.size, now)
    material = design.material
    line = QuoteLine(
        quote_id=quote.id,
        position=_next_position(session, quote.id),
        kind=LineKind.design,
        description=(description or designation(design.kind, design.analysis, profiles, material))[
            :500
        ],
        quantity_milli=quantity * 1000,
        unit="pièce",
        unit_price_cents=0,
        vat_rate_bp=_vat_bp(profiles, None),
        price_source=PriceSource.auto,
        machine_kind=design.kind,
        material=material,
        file_sha256=design.stored.sha256,
        file_name=filename[:255],
        file_type=design.file_type,
        file_size=design.stored.size,
        analysis=design.analysis.model_dump(mode="json"),
    )
    if quote.state == QuoteState.draft:
        quote_pricing.price_design(
            session=session, profiles=profiles, line=line, org=quote_org(session, quote)
        )
    session.add(line)
    session.flush()  # the line's id, for the event
    return line


def add_design(
    *,
    sessions: SessionFactory,
    read_sessions: SessionFactory,
    store: FileStore,
    profiles: ProfileSet,
    workers: WorkerPool,
    user: User,
    quote_id: int,
    stream: BinaryIO,
    filename: str,
    quantity: int,
    material: str | None,
    description: str | None,
    upload_limit: int,
    now: datetime,
    intake: IntakeOptions | None = None,
) -> QuoteLine:
    """Store and analyse a design file (outside any write transaction, like a job
    submission: a file the machines cannot make is refused here), then add its line.

    A model is sliced and a logo converted or traced first (``intake``: preset, page,
    threshold): the line holds the made file, which the quote's jobs then run."""
    if not 1 <= quantity <= MAX_COPIES:
        raise Invalid(f"the quantity of a design must be between 1 and {MAX_COPIES}")
    brought = file_type_of(filename)
    spec = source_spec(brought)
    file_type = spec.becomes if spec is not None else brought
    with read_sessions() as session:
        quote = get_quote(session, quote_id, user)
        editable(quote, user, "add designs to")
    design = prepare_design(
        read_sessions=read_sessions, store=store, profiles=profiles, workers=workers,
        stream=stream, filename=filename, material=material, upload_limit=upload_limit,
        intake=intake,
    )  # fmt: skip
    if spec is not None:  # the line names the file it holds: ``logo.pdf`` made ``logo.svg``
        filename = f"{filename.rsplit('.', 1)[0]}.{file_type}"

    with session_scope(sessions) as session:
        quote = locked_for(session, quote_id, user)
        editable(quote, user, "add designs to")
        line = design_line(
            session, quote=quote, design=design, profiles=profiles, filename=filename,
            quantity=quantity, description=description, now=now,
        )  # fmt: skip
        sync_discount(session, quote)
        record_change(
            session,
            quote,
            actor=actor_of(user),
            action="design_added",
            at=now,
            line_id=line.id,
            file=filename,
            quantity=quantity,
        )
    return line


def add_line(
    *, session: Session, user: User, quote_id: int, data: LineIn, profiles: ProfileSet, at: datetime
) -> QuoteLine:
    quote = locked_for(session, quote_id, user)
    if not user.is_staff:
        raise Forbidden("only staff add priced lines")
    editable(quote, user, "add lines to")
    assert quote.id is not None
    line = QuoteLine(
        quote_id=quote.id,
        position=_next_position(session, quote.id),
        kind=LineKind.free,
        description=data.description,
        quantity_milli=int(data.quantity * MILLI),
        unit=data.unit,
        unit_price_cents=int(data.unit_price_ht * 100),
        vat_rate_bp=_vat_bp(profiles, data.vat_rate),
        vat_rate_manual=_chosen_rate(profiles, data.vat_rate),
        price_source=PriceSource.manual,
    )
    quote_pricing.check_line_total(line)
    session.add(line)
    session.flush()  # the line's id, for the event
    sync_discount(session, quote)
    record_change(
        session,
        quote,
        actor=actor_of(user),
        action="line_added",
        at=at,
        line_id=line.id,
        description=data.description,
    )
    session.commit()
    return line


def _apply_fields(line: QuoteLine, data: LinePatch, profiles: ProfileSet) -> None:
    """Everything a patch changes on a line except its price."""
    if data.description is not None:
        line.description = data.description
    if data.unit is not None:
        line.unit = data.unit
    if data.vat_rate is not None:
        line.vat_rate_bp = _vat_bp(profiles, data.vat_rate)
        line.vat_rate_manual = _chosen_rate(profiles, data.vat_rate)
    if data.quantity is not None:
        if line.kind == LineKind.design and (
            data.quantity != data.quantity.to_integral_value() or data.quantity > MAX_COPIES
        ):
            raise Invalid(f"a design's quantity is a whole number of copies (1 to {MAX_COPIES})")
        line.quantity_milli = int(data.quantity * MILLI)
    if data.material is not None or data.design_minutes is not None:
        if line.kind != LineKind.design:
            raise Invalid("material and design time belong to design lines")
        if data.material is not None:
            assert line.machine_kind is not None
            quote_pricing.check_material(profiles, line.machine_kind, data.material)
            line.material = data.material
        if data.design_minutes is not None:
            line.design_minutes = data.design_minutes


def _apply_price(
    session: Session, quote: Quote, line: QuoteLine, data: LinePatch, profiles: ProfileSet
) -> None:
    """A hand-set price, or the automatic one again for a design line."""
    if data.unit_price_ht is not None:
        if data.auto_price:
            raise Invalid("give a unit price or ask for the automatic one, not both")
        line.unit_price_cents = int(data.unit_price_ht * 100)
        line.price_source = PriceSource.manual
        line.needs_estimate = False
    elif line.kind == LineKind.design and (
        data.auto_price or line.price_source == PriceSource.auto
    ):
        if quote.state == QuoteState.draft:
            quote_pricing.price_design(
                session=session, profiles=profiles, line=line, org=quote_org(session, quote)
            )
    elif data.auto_price:
        raise Invalid("a free line has no automatic price")


def update_line(
    *,
    session: Session,
    user: User,
    quote_id: int,
    line_id: int,
    data: LinePatch,
    profiles: ProfileSet,
    at: datetime,
) -> QuoteLine:
    quote = locked_for(session, quote_id, user)
    if not user.is_staff:
        raise Forbidden("only staff change a quote's lines")
    editable(quote, user, "change lines of")
    line = _get_line(session, quote, line_id)
    changes = data.model_dump(exclude_none=True, mode="json")
    _apply_fields(line, data, profiles)
    _apply_price(session, quote, line, data, profiles)
    quote_pricing.check_line_total(line)
    session.add(line)
    sync_discount(session, quote)
    record_change(
        session,
        quote,
        actor=actor_of(user),
        action="line_changed",
        at=at,
        line_id=line.id,
        changes=changes,
    )
    session.commit()
    return line


def remove_line(*, session: Session, user: User, quote_id: int, line_id: int, at: datetime) -> None:
    quote = locked_for(session, quote_id, user)
    editable(quote, user, "remove lines from")
    line = _get_line(session, quote, line_id)
    if not user.is_staff and line.kind != LineKind.design:
        raise Forbidden("only staff remove priced lines")
    session.delete(line)
    sync_discount(session, quote)
    record_change(
        session,
        quote,
        actor=actor_of(user),
        action="line_removed",
        at=at,
        line_id=line_id,
        description=line.description,
    )
    session.commit()
