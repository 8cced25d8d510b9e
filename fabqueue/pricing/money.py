"""Money as ``Decimal`` in code and integer cents in the database; rounding rules."""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def to_cents(amount: Decimal) -> int:
    """Euros to integer cents, half-up (the usual commercial rounding)."""
    return int((amount / CENT).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) * CENT).quantize(CENT)


def round_to_step(amount: Decimal, step: Decimal, mode: str = "up") -> Decimal:
    """``amount`` to a multiple of ``step``: up (never under the computed price) or nearest."""
    if step <= 0:
        raise ValueError("the rounding step must be positive")
    units = (amount / step).quantize(
        Decimal(1), rounding=ROUND_CEILING if mode == "up" else ROUND_HALF_UP
    )
    return (units * step).quantize(CENT)


def ceil_div(value: Decimal, step: Decimal) -> Decimal:
    """How many (started) ``step``s there are in ``value``."""
    return (value / step).quantize(Decimal(1), rounding=ROUND_CEILING)


def percent_of(amount: Decimal, percent: Decimal) -> Decimal:
    return amount * percent / Decimal(100)


def line_total_cents(unit_price_cents: int, quantity: Decimal) -> int:
    """A quote line's total HT: unit price × quantity, to the cent (half-up)."""
    return int((Decimal(unit_price_cents) * quantity).quantize(Decimal(1), rounding=ROUND_HALF_UP))
