"""Auto-pricing of a quote's design lines: the bridge from rows and profiles to the pure
:mod:`fabqueue.pricing` engine."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal
from sqlmodel import Session, select

from fabqueue.models import MachineRecord, Organisation
from fabqueue.models.quotes import LineKind, PriceSource, QuoteLine
from fabqueue.pricing import (
    PriceInput,
    PriceResult,
    from_cents,
    line_total_cents,
    price_line,
    to_cents,
)
from fabqueue.profiles import ProfileSet
from fabqueue.services.clients import adjustment
from fabqueue.services.errors import Invalid
from jobs.base import Analysis, MachineKind

MILLI = Decimal(1000)
MAX_LINE_TOTAL_HT = Decimal(1_000_000)
"""A line above this is a typo, not an order a café takes (and the totals of a quote
must stay far from what a database column holds)."""


def check_line_total(line: QuoteLine) -> None:
    """Refuse, with the figure, a line whose total HT is above :data:`MAX_LINE_TOTAL_HT`."""
    total = from_cents(
        line_total_cents(line.unit_price_cents, Decimal(line.quantity_milli) / MILLI)
    )
    if total > MAX_LINE_TOTAL_HT:
        raise Invalid(
            f"line {line.position} comes to {total:,.2f} € HT; a line may not exceed "
            f"{MAX_LINE_TOTAL_HT:,.0f} € HT (check the quantity and the unit price)",
            limit=str(MAX_LINE_TOTAL_HT),
        )


def hourly_rate(
    session: Session, profiles: ProfileSet, kind: MachineKind, file_type: str
) -> Decimal:
    """The rate of the dearest machine that could take the file: a quote must hold
    whichever machine ends up running the job."""
    rates = []
    for record in session.exec(select(MachineRecord).where(MachineRecord.kind == kind)):
        if file_type not in record.spec.get("file_types", []):
            continue
        local = profiles.machines.get(record.slug)
        rate = local.hourly_rate if local else Decimal(str(record.spec.get("hourly_rate", "0")))
        rates.append(rate)
    if not rates:
        raise Invalid(f"no {kind.value} here takes {file_type} files")
    return max(rates)


def default_material(profiles: ProfileSet, kind: MachineKind) -> str | None:
    return profiles.prices.for_kind(kind).default_material


def check_material(profiles: ProfileSet, kind: MachineKind, slug: str) -> None:
    material = profiles.materials.get(slug)
    if material is None:
        raise Invalid(f"no material {slug!r}; known: {', '.join(sorted(profiles.materials))}")
    if material.kind != kind:
        raise Invalid(f"{slug!r} is not a material for a {kind.value}")


def _detail(result: PriceResult) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = [
        {
            "code": c.code,
            "label": c.label,
            "amount": str(c.amount.quantize(Decimal("0.0001"))),
            "basis": c.basis,
        }
        for c in result.components
    ]
    return rows


DISCOUNT_CODE = "client_discount"
"""The row of a design line's price detail holding its share of the client's discount."""


def price_design(
    *, session: Session, profiles: ProfileSet, line: QuoteLine, org: Organisation
) -> PriceResult:
    """Price a design line from its stored analysis and write the result on it.

    A client's discount is not hidden in the unit price: the line is priced at the list
    price, and its share of the discount (what the engine's discounted price saves) is
    kept in its price detail for :func:`sync_discount` to print as a line of its own.
    A surcharge stays in the unit price.
    """
    assert line.kind == LineKind.design and line.machine_kind is not None
    copies = line.quantity_milli // 1000
    pct, label = adjustment(org, profiles)
    result = _price(session, profiles, line, pct, label)
    listed = _price(session, profiles, line, Decimal(0), "") if pct < 0 else result
    line.unit_price_cents = to_cents(listed.unit_price)
    line.price_source = PriceSource.auto
    line.needs_estimate = not result.complete
    line.missing = [m.message for m in result.missing]
    line.price_detail = _detail(result)
    saved = (to_cents(result.unit_price) - to_cents(listed.unit_price)) * copies
    if saved:
        line.price_detail.append(
            {
                "code": DISCOUNT_CODE,
                "label": label,
                "amount": str(from_cents(saved)),
                "basis": f"{pct} %, sur une ligne à part",
                "percent": str(pct),
            }
        )
    check_line_total(line)
    return result


def _price(
    session: Session, profiles: ProfileSet, line: QuoteLine, pct: Decimal, label: str
) -> PriceResult:
    assert line.machine_kind is not None
    material = profiles.materials.get(line.material) if line.material else None
    try:
        return price_line(
            PriceInput(
                analysis=Analysis.model_validate(line.analysis),
                copies=line.quantity_milli // 1000,
                hourly_rate=hourly_rate(session, profiles, line.machine_kind, line.file_type or ""),
                material=material,
                design_minutes=Decimal(line.design_minutes),
                adjustment_percent=pct,
                adjustment_label=label,
            ),
            profiles.prices,
        )
    except ValueError as exc:
        raise Invalid(f"cannot price line {line.position}: {exc}") from exc


def _discount_of(line: QuoteLine) -> tuple[int, str]:
    """The line's share of the discount (cents) and the discount's wording."""
    if line.kind != LineKind.design or line.price_source != PriceSource.auto:
        return 0, ""
    for row in line.price_detail:
        if row.get("code") == DISCOUNT_CODE:
            percent = format_decimal(Decimal(row["percent"]).copy_abs(), locale="fr_FR")
            label = row.get("label") or "Remise client"
            wording = (
                f"{label} de {percent} %"
                if label.startswith("Remise")
                else f"{label} : remise de {percent} %"
            )
            return to_cents(Decimal(row["amount"])), wording
    return 0, ""


def sync_discount(session: Session, quote_id: int) -> None:
    """Make the quote's discount line(s) say what the client's discount saves on the
    automatically priced designs: one line per VAT rate, after the other lines."""
    lines = list(session.exec(select(QuoteLine).where(QuoteLine.quote_id == quote_id)))
    for old in [ln for ln in lines if ln.kind == LineKind.discount]:
        session.delete(old)
    kept = [ln for ln in lines if ln.kind != LineKind.discount]
    saved: dict[tuple[int, bool, str], int] = {}
    for line in kept:
        cents, wording = _discount_of(line)
        if cents:
            key = (line.vat_rate_bp, line.vat_rate_manual, wording)
            saved[key] = saved.get(key, 0) + cents
    position = max((ln.position for ln in kept), default=0)
    for (rate_bp, manual, wording), cents in sorted(saved.items()):
        position += 1
        session.add(
            QuoteLine(
                quote_id=quote_id,
                position=position,
                kind=LineKind.discount,
                description=wording,
                quantity_milli=1000,
                unit="u",
                unit_price_cents=cents,
                vat_rate_bp=rate_bp,
                vat_rate_manual=manual,
                price_source=PriceSource.auto,
            )
        )
    session.flush()
