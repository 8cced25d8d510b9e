"""Quote totals: HT per line, VAT per rate on the sum of that rate's lines, TTC.

VAT is computed once per rate on the rate's total HT (not line by line), as French
invoices show it: "TVA 20 % sur 123,40 € : 24,68 €".
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from fabqueue.pricing.money import line_total_cents


@dataclass(frozen=True)
class LineAmount:
    unit_price_cents: int
    quantity: Decimal
    vat_rate: Decimal
    """Percent: 20, 5.5, 0."""

    @property
    def total_ht_cents(self) -> int:
        return line_total_cents(self.unit_price_cents, self.quantity)


@dataclass(frozen=True)
class VatAmount:
    rate: Decimal
    base_ht_cents: int
    vat_cents: int


@dataclass(frozen=True)
class Totals:
    ht_cents: int
    vat: tuple[VatAmount, ...]
    """One entry per non-zero rate, highest rate first."""
    ttc_cents: int

    @property
    def vat_cents(self) -> int:
        return sum(v.vat_cents for v in self.vat)


def totals(lines: Iterable[LineAmount], *, charge_vat: bool) -> Totals:
    """``charge_vat`` False (franchise, exempt association): TTC = HT, no VAT lines."""
    by_rate: dict[Decimal, int] = {}
    ht = 0
    for line in lines:
        if line.quantity < 0 or line.unit_price_cents < 0 or line.vat_rate < 0:
            raise ValueError("quote lines cannot be negative")
        cents = line.total_ht_cents
        ht += cents
        by_rate[line.vat_rate] = by_rate.get(line.vat_rate, 0) + cents
    vat: list[VatAmount] = []
    if charge_vat:
        for rate in sorted(by_rate, reverse=True):
            if rate == 0:
                continue
            amount = (Decimal(by_rate[rate]) * rate / Decimal(100)).quantize(
                Decimal(1), rounding=ROUND_HALF_UP
            )
            vat.append(VatAmount(rate=rate, base_ht_cents=by_rate[rate], vat_cents=int(amount)))
    return Totals(ht_cents=ht, vat=tuple(vat), ttc_cents=ht + sum(v.vat_cents for v in vat))
