"""The price of booked machine time (a pure function) and the rules deciding which
booked time the café bills, as SQL (see :mod:`fabqueue.invoices.bookings`).

Kept apart from the drafting: the members' machine-time draft (``drafts``) leaves out
the jobs a billed booking covers, and the bookings' drafting imports ``drafts``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from sqlalchemy import ColumnElement, exists, false, not_
from sqlmodel import col, select

from fabqueue.models import Booking, Job
from fabqueue.profiles.prices import MemberPrices

# --- the price of booked time (pure) ----------------------------------------------------


@dataclass(frozen=True)
class BookedPrice:
    """Booked minutes as billed: whole started increments, each at a price in cents."""

    billed_minutes: int
    steps: int
    unit_cents: int
    """€ HT of one increment, in cents (hourly rate × increment, to the cent)."""

    @property
    def amount_ht(self) -> Decimal:
        return Decimal(self.steps * self.unit_cents) / 100


def price_booked_time(minutes: int, hourly_rate: Decimal, increment_min: int) -> BookedPrice:
    """``minutes`` booked, billed per started ``increment_min`` at ``hourly_rate`` € HT.

    Billed per increment (« 4 × 30 min ») so the quantity is whole and the unit price
    is whole cents where hours would need thirds.
    """
    if minutes < 0:
        raise ValueError("booked minutes are never negative")
    if increment_min < 1:
        raise ValueError("the increment is at least one minute")
    steps = math.ceil(minutes / increment_min)
    unit = (hourly_rate * 100 * increment_min / 60).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    return BookedPrice(steps * increment_min, steps, int(unit))


def charges(rules: MemberPrices) -> bool:
    """Does the café bill any booking (booked time, or a missed booking's fee)?"""
    return rules.charges_bookings or rules.no_show == "fee"


def machine_charged(rules: MemberPrices, machine: Any) -> ColumnElement[bool]:
    """SQL: the booked time on ``machine`` (a column) costs something."""
    free = [m for m, r in rules.booking_machine_rates.items() if r <= 0]
    paid = [m for m, r in rules.booking_machine_rates.items() if r > 0]
    if rules.booking_hourly_rate > 0:
        return not_(col(machine).in_(free)) if free else col(machine).is_not(None)
    return col(machine).in_(paid) if paid else false()


def in_charged_booking(rules: MemberPrices) -> ColumnElement[bool]:
    """SQL on :class:`Job`: the job started inside a live booking of its owner, on that
    machine, whose time the café bills (the booking bills that machine time)."""
    if not rules.charges_bookings:
        return false()
    return exists(
        select(Booking.id)
        .where(col(Booking.member_id) == col(Job.owner_id))
        .where(col(Booking.machine) == col(Job.machine))
        .where(col(Booking.cancelled_at).is_(None))
        .where(col(Booking.starts_at) <= col(Job.started_at))
        .where(col(Booking.ends_at) > col(Job.started_at))
        .where(machine_charged(rules, Booking.machine))
    )
