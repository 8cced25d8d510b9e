"""Price rules -> money. Pure: no database, no I/O; ``Decimal`` in, ``Decimal`` out."""

from fabqueue.pricing.engine import (
    Component,
    Missing,
    PriceInput,
    PriceResult,
    price_line,
)
from fabqueue.pricing.money import from_cents, line_total_cents, round_to_step, to_cents
from fabqueue.pricing.vat import LineAmount, Totals, VatAmount, totals

__all__ = [
    "Component",
    "LineAmount",
    "Missing",
    "PriceInput",
    "PriceResult",
    "Totals",
    "VatAmount",
    "from_cents",
    "line_total_cents",
    "price_line",
    "round_to_step",
    "to_cents",
    "totals",
]
