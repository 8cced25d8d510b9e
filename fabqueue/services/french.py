"""Dates and times as members read them (« 3 mars 2026 », « 14:30 »), in the café's zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from babel.dates import format_date


def day(at: datetime, tz: ZoneInfo) -> str:
    return format_date(at.astimezone(tz).date(), "d MMMM y", locale="fr_FR")


def hour(at: datetime, tz: ZoneInfo) -> str:
    return at.astimezone(tz).strftime("%H:%M")


def span(start: datetime, end: datetime, tz: ZoneInfo) -> str:
    """« le 3 mars 2026 de 14:00 à 15:30 »"""
    return f"le {day(start, tz)} de {hour(start, tz)} à {hour(end, tz)}"


def hours(minutes: float) -> str:
    """90 -> « 1 h 30 », 120 -> « 2 h », 30 -> « 30 min »"""
    h, m = divmod(round(minutes), 60)
    if not h:
        return f"{m} min"
    return f"{h} h {m:02d}" if m else f"{h} h"
