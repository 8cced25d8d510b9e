"""Auto-pricing of a quote's design lines: the bridge from rows and profiles to the pure
:mod:`fabqueue.pricing` engine."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

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


def price_design(
    *, session: Session, profiles: ProfileSet, line: QuoteLine, org: Organisation
) -> PriceResult:
    """Price a design line from its stored analysis and write the result on it."""
    assert line.kind == LineKind.design and line.machine_kind is not None
    analysis = Analysis.model_validate(line.analysis)
    copies = line.quantity_milli // 1000
    material = profiles.materials.get(line.material) if line.material else None
    pct, label = adjustment(org, profiles)
    try:
        result = price_line(
            PriceInput(
                analysis=analysis,
                copies=copies,
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
    line.unit_price_cents = to_cents(result.unit_price)
    line.price_source = PriceSource.auto
    line.needs_estimate = not result.complete
    line.missing = [m.message for m in result.missing]
    line.price_detail = _detail(result)
    check_line_total(line)
    return result
