"""Opening hours and closures as UTC ranges. Pure: no database, no clock.

Local times are turned into instants with the café's time zone day by day, so the
Sunday clocks change keeps every range its real length.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from fabqueue.profiles.booking import BookingPolicy, Closure, WeeklyHours

Range = tuple[datetime, datetime]
DEFAULT_TZ = "Europe/Paris"


@dataclass(frozen=True)
class Calendar:
    """The café's hours for one machine: site hours narrowed by the machine's own."""

    policy: BookingPolicy
    tz: ZoneInfo
    machine_hours: WeeklyHours | None = None

    def local(self, d: date, t: time | int) -> datetime:
        """The instant of local date ``d`` at ``t`` (a time, or minutes after midnight;
        1440 is the next midnight). Wall-clock arithmetic, then UTC: the local day of a
        clock change is 23 or 25 hours long."""
        if isinstance(t, int):
            d, minutes = d + timedelta(days=t // 1440), t % 1440
            t = time(minutes // 60, minutes % 60)
        return datetime.combine(d, t, tzinfo=self.tz).astimezone(UTC)

    def _day_ranges(self, d: date) -> list[Range]:
        site = self._ranges_of(self.policy.hours, d)
        if self.machine_hours is None:
            return site
        return intersect(site, self._ranges_of(self.machine_hours, d))

    def _ranges_of(self, hours: WeeklyHours, d: date) -> list[Range]:
        return [(self.local(d, a), self.local(d, b)) for a, b in hours.ranges(d.weekday())]

    def open_ranges(self, start: datetime, end: datetime, *, closures: bool = True) -> list[Range]:
        """Opening hours between ``start`` and ``end``, closures taken out (unless asked)."""
        first = start.astimezone(self.tz).date() - timedelta(days=1)
        last = end.astimezone(self.tz).date() + timedelta(days=1)
        ranges: list[Range] = []
        d = first
        while d <= last:
            ranges.extend(self._day_ranges(d))
            d += timedelta(days=1)
        clipped = clip(ranges, start, end)
        if not closures:
            return clipped
        return subtract(clipped, [r for r, _ in self.closures(start, end)])

    def closures(self, start: datetime, end: datetime) -> list[tuple[Range, str]]:
        found = []
        for c in self.policy.closures:
            r = self.closure_range(c)
            if r[0] < end and r[1] > start:
                found.append((r, c.reason))
        return found

    def closure_range(self, c: Closure) -> Range:
        if isinstance(c.start, datetime) and isinstance(c.end, datetime):
            return (
                c.start.replace(tzinfo=self.tz).astimezone(UTC),
                c.end.replace(tzinfo=self.tz).astimezone(UTC),
            )
        assert not isinstance(c.start, datetime) and not isinstance(c.end, datetime)
        return self.local(c.start, time(0)), self.local(c.end + timedelta(days=1), time(0))

    def minutes_into_day(self, at: datetime) -> int:
        local = at.astimezone(self.tz)
        return local.hour * 60 + local.minute

    def week_of(self, at: datetime) -> Range:
        """The local Monday-to-Sunday week holding ``at``, as UTC instants."""
        d = at.astimezone(self.tz).date()
        monday = d - timedelta(days=d.weekday())
        return self.local(monday, time(0)), self.local(monday + timedelta(days=7), time(0))


def merge(ranges: Iterable[Range]) -> list[Range]:
    out: list[Range] = []
    for s, e in sorted(ranges):
        if out and s <= out[-1][1]:
            if e > out[-1][1]:
                out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


def clip(ranges: Iterable[Range], start: datetime, end: datetime) -> list[Range]:
    return [(max(s, start), min(e, end)) for s, e in merge(ranges) if s < end and e > start]


def intersect(a: Sequence[Range], b: Sequence[Range]) -> list[Range]:
    out = []
    for s1, e1 in merge(a):
        for s2, e2 in merge(b):
            s, e = max(s1, s2), min(e1, e2)
            if s < e:
                out.append((s, e))
    return merge(out)


def subtract(ranges: Sequence[Range], holes: Sequence[Range]) -> list[Range]:
    out: list[Range] = []
    holes = merge(holes)
    for s, e in merge(ranges):
        cur = s
        for hs, he in holes:
            if he <= cur or hs >= e:
                continue
            if hs > cur:
                out.append((cur, hs))
            cur = max(cur, he)
        if cur < e:
            out.append((cur, e))
    return out


def covers(ranges: Sequence[Range], start: datetime, end: datetime) -> bool:
    """Is [start, end) inside one of ``ranges`` (merged)?"""
    return any(s <= start and end <= e for s, e in merge(ranges))
