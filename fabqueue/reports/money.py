"""Invoiced and paid amounts of a period, per month, from the invoices: what the café
billed (invoices and deposits, less credit notes) and what it received (payments, less
refunds), HT and TTC.

Issue and payment dates are days of the café's calendar, so a month is a month of those
dates. A payment is in TTC; its HT share follows the ratio of the record it settles
(a payment of half an invoice is half of its HT).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from pydantic import BaseModel
from sqlmodel import Session, col, select

from fabqueue.invoices.states import ISSUED_STATES
from fabqueue.models.invoices import Invoice, InvoiceKind, Payment
from fabqueue.pricing import from_cents
from fabqueue.reports.period import Period


class MoneyFigures(BaseModel):
    key: str
    """``YYYY-MM``, or ``total``."""
    invoiced_ht: Decimal
    invoiced_ttc: Decimal
    credited_ht: Decimal
    credited_ttc: Decimal
    net_ht: Decimal
    net_ttc: Decimal
    paid_ht: Decimal
    paid_ttc: Decimal
    refunded_ttc: Decimal


class MoneyReport(BaseModel):
    months: list[MoneyFigures]
    total: MoneyFigures


@dataclass
class _Sums:
    invoiced_ht: int = 0
    invoiced_ttc: int = 0
    credited_ht: int = 0
    credited_ttc: int = 0
    paid_ht: int = 0
    paid_ttc: int = 0
    refunded_ttc: int = 0

    def add(self, other: _Sums) -> None:
        for name in self.__dataclass_fields__:
            setattr(self, name, getattr(self, name) + getattr(other, name))

    def figures(self, key: str) -> MoneyFigures:
        return MoneyFigures(
            key=key,
            invoiced_ht=from_cents(self.invoiced_ht),
            invoiced_ttc=from_cents(self.invoiced_ttc),
            credited_ht=from_cents(self.credited_ht),
            credited_ttc=from_cents(self.credited_ttc),
            net_ht=from_cents(self.invoiced_ht - self.credited_ht),
            net_ttc=from_cents(self.invoiced_ttc - self.credited_ttc),
            paid_ht=from_cents(self.paid_ht),
            paid_ttc=from_cents(self.paid_ttc),
            refunded_ttc=from_cents(self.refunded_ttc),
        )


@dataclass
class _Months:
    by_key: dict[str, _Sums] = field(default_factory=dict)

    def at(self, year: int, month: int) -> _Sums:
        return self.by_key.setdefault(f"{year}-{month:02d}", _Sums())


def _ht_share(cents: int, ht: int | None, ttc: int | None) -> int:
    """The HT part of ``cents`` paid on a record of totals ``ht``/``ttc``, half up."""
    if not ttc:
        return cents
    num = abs(cents) * (ht or 0)
    share = (2 * num + ttc) // (2 * ttc)
    return share if cents >= 0 else -share


def report(session: Session, period: Period, series: Sequence[str] | None = None) -> MoneyReport:
    """The period's amounts; ``series`` (invoice number prefixes) narrows to one café's
    records when several share a database."""
    months = _Months()
    for p in period.months():
        months.at(p.first_day.year, p.first_day.month)
    issued = (
        select(
            col(Invoice.kind),
            col(Invoice.issue_date),
            col(Invoice.total_ht_cents),
            col(Invoice.total_ttc_cents),
        )
        .where(col(Invoice.state).in_(list(ISSUED_STATES)))
        .where(col(Invoice.issue_date) >= period.first_day)
        .where(col(Invoice.issue_date) <= period.last_day)
    )
    if series is not None:
        issued = issued.where(col(Invoice.series).in_(list(series)))
    for kind, day, ht, ttc in session.exec(issued):
        assert day is not None  # issued records have their date
        sums = months.at(day.year, day.month)
        if kind == InvoiceKind.credit_note:
            sums.credited_ht += ht or 0
            sums.credited_ttc += ttc or 0
        else:
            sums.invoiced_ht += ht or 0
            sums.invoiced_ttc += ttc or 0
    paid = (
        select(  # type: ignore[call-overload]
            Payment.paid_on, Payment.amount_cents, Invoice.total_ht_cents, Invoice.total_ttc_cents
        )
        .join(Invoice, col(Invoice.id) == col(Payment.invoice_id))
        .where(col(Payment.paid_on) >= period.first_day)
        .where(col(Payment.paid_on) <= period.last_day)
    )
    if series is not None:
        paid = paid.where(col(Invoice.series).in_(list(series)))
    for day, cents, ht, ttc in session.exec(paid):
        sums = months.at(day.year, day.month)
        if cents < 0:
            sums.refunded_ttc -= cents
        else:
            sums.paid_ttc += cents
            sums.paid_ht += _ht_share(cents, ht, ttc)
    total = _Sums()
    for s in months.by_key.values():
        total.add(s)
    return MoneyReport(
        months=[months.by_key[k].figures(k) for k in sorted(months.by_key)],
        total=total.figures("total"),
    )
