"""Dates, times and money as a French reader writes them (Babel, the café's time zone)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime, format_time
from babel.numbers import format_currency


def day(d: date) -> str:
    return format_date(d, "d MMMM y", locale="fr_FR")


def time_of_day(at: datetime, tz: ZoneInfo) -> str:
    return format_time(at.astimezone(tz), "HH:mm", locale="fr_FR")


def moment(at: datetime, tz: ZoneInfo) -> str:
    return format_datetime(at.astimezone(tz), "EEEE d MMMM y 'à' HH:mm", locale="fr_FR")


def euros(cents: int) -> str:
    return format_currency(Decimal(cents) / 100, "EUR", locale="fr_FR")
