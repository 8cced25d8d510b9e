"""Report periods in the café's time zone, as half-open UTC ranges."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from fabqueue.services.errors import Invalid


@dataclass(frozen=True)
class Period:
    label: str
    first_day: date
    last_day: date
    """Inclusive, café's calendar."""
    tz: ZoneInfo

    # Worked out once: a year's report asks them of every booking and quote.
    @cached_property
    def start(self) -> datetime:
        return _midnight(self.first_day, self.tz)

    @cached_property
    def end(self) -> datetime:
        return _midnight(self.last_day + timedelta(days=1), self.tz)

    def contains(self, at: datetime | None) -> bool:
        return at is not None and self.start <= at < self.end

    def months(self) -> list[Period]:
        """The calendar months the period touches, each clipped to the period."""
        out: list[Period] = []
        d = self.first_day
        while d <= self.last_day:
            nxt = date(d.year + d.month // 12, d.month % 12 + 1, 1)
            last = min(nxt - timedelta(days=1), self.last_day)
            out.append(Period(f"{d.year}-{d.month:02d}", d, last, self.tz))
            d = nxt
        return out

    def month_of(self, at: datetime) -> str:
        local = at.astimezone(self.tz)
        return f"{local.year}-{local.month:02d}"


def _midnight(d: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(d, time(0), tzinfo=tz).astimezone(UTC)


def year(y: int, tz: ZoneInfo) -> Period:
    return Period(str(y), date(y, 1, 1), date(y, 12, 31), tz)


def quarter(y: int, q: int, tz: ZoneInfo) -> Period:
    if not 1 <= q <= 4:
        raise Invalid(f"quarter {q}: give 1 to 4")
    first = date(y, 3 * q - 2, 1)
    nxt = date(y + 1, 1, 1) if q == 4 else date(y, 3 * q + 1, 1)
    return Period(f"{y}-T{q}", first, nxt - timedelta(days=1), tz)


def month(y: int, m: int, tz: ZoneInfo) -> Period:
    if not 1 <= m <= 12:
        raise Invalid(f"month {m}: give 1 to 12")
    nxt = date(y + m // 12, m % 12 + 1, 1)
    return Period(f"{y}-{m:02d}", date(y, m, 1), nxt - timedelta(days=1), tz)


def custom(first: date, last: date, tz: ZoneInfo) -> Period:
    if last < first:
        raise Invalid(f"the period ends ({last}) before it starts ({first})")
    if (last - first).days > 3 * 366:
        raise Invalid("a report covers at most three years")
    return Period(f"{first.isoformat()}/{last.isoformat()}", first, last, tz)


def parse(
    tz: ZoneInfo,
    *,
    year_: int | None = None,
    quarter_: int | None = None,
    month_: int | None = None,
    start: date | None = None,
    end: date | None = None,
) -> Period:
    """One of: a year, a quarter or a month of a year, or a custom range of days."""
    if start is not None or end is not None:
        if start is None or end is None or year_ is not None:
            raise Invalid("a custom period needs both start and end, and no year")
        return custom(start, end, tz)
    if year_ is None:
        raise Invalid("give a year (with an optional quarter or month) or start and end")
    if quarter_ is not None and month_ is not None:
        raise Invalid("give a quarter or a month, not both")
    if quarter_ is not None:
        return quarter(year_, quarter_, tz)
    if month_ is not None:
        return month(year_, month_, tz)
    return year(year_, tz)
