"""Reading the money forms: amounts as people type them (« 12,50 », « 1 234 »), days,
ticked boxes. A bad value is a :class:`FormError` the page shows next to the form."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from fabqueue.models.invoices import PaymentMethod
from fabqueue.web.errors import FormError

__all__ = ["FormError", "amount", "day", "ids", "method", "percent"]

MAX_AMOUNT = Decimal("9999999999.99")


def amount(text: str, message: str) -> Decimal:
    """A positive amount in euros, at most two decimals; comma or point, spaces allowed."""
    cleaned = re.sub(r"[\s\u00a0\u202f€]", "", text or "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise FormError(message) from None
    if (
        not value.is_finite()
        or value <= 0
        or value > MAX_AMOUNT
        or value != value.quantize(Decimal("0.01"))
    ):
        raise FormError(message)
    return value


def percent(text: str, message: str) -> Decimal:
    cleaned = re.sub(r"[\s%]", "", text or "").replace(",", ".")
    try:
        value = Decimal(cleaned)
    except InvalidOperation:
        raise FormError(message) from None
    if not value.is_finite() or not Decimal(0) <= value <= Decimal(100):
        raise FormError(message)
    return value


def day(text: str, message: str) -> date:
    try:
        return date.fromisoformat((text or "").strip())
    except ValueError:
        raise FormError(message) from None


def method(text: str, message: str) -> PaymentMethod:
    try:
        return PaymentMethod(text)
    except ValueError:
        raise FormError(message) from None


def ids(values: list[str]) -> list[int]:
    """Ticked boxes' ids (anything else is ignored: a box's value is ours)."""
    return [int(v) for v in values if v.isdigit() and len(v) <= 12]
