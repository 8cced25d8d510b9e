"""Opening hours, closures and the booking policy: the ``[booking]`` and ``[privacy]`` tables
of ``site.toml`` and the ``[booking]`` table of a machine profile.

Times of day are the café's local time; the service turns them into UTC ranges with the
site's time zone, so a day that changes to or from summer time has its real length.
"""

from __future__ import annotations

import functools
import itertools
import re
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_RANGE = re.compile(r"^(\d{1,2}):(\d{2})-(\d{1,2}):(\d{2})$")


@functools.lru_cache(maxsize=512)  # a month of availability asks for the same few ranges
def parse_range(text: str) -> tuple[int, int]:
    """ "14:00-19:00" -> (840, 1140), minutes after local midnight; a range may end at
    "24:00", the next midnight, so a machine can be open day and night."""
    m = _RANGE.match(text.strip())
    if not m:
        raise ValueError(f"{text!r} is not a range like 14:00-19:00")
    h1, m1, h2, m2 = (int(g) for g in m.groups())
    start, end = h1 * 60 + m1, h2 * 60 + m2
    if h1 > 23 or m1 > 59 or m2 > 59 or end > 24 * 60:
        raise ValueError(f"{text!r}: times go from 00:00 to 24:00")
    if end <= start:
        raise ValueError(f"{text!r}: the range ends before it starts")
    return start, end


class WeeklyHours(BaseModel):
    """Several ranges per day, e.g. ``wednesday = ["10:00-12:30", "14:00-19:00"]``."""

    model_config = ConfigDict(extra="forbid")

    monday: list[str] = Field(default_factory=list)
    tuesday: list[str] = Field(default_factory=list)
    wednesday: list[str] = Field(default_factory=list)
    thursday: list[str] = Field(default_factory=list)
    friday: list[str] = Field(default_factory=list)
    saturday: list[str] = Field(default_factory=list)
    sunday: list[str] = Field(default_factory=list)

    @field_validator(*DAYS)
    @classmethod
    def _ranges(cls, v: list[str]) -> list[str]:
        parsed = sorted(parse_range(r) for r in v)
        for (_, end), (start, _) in itertools.pairwise(parsed):
            if start < end:
                raise ValueError(f"ranges overlap: {v}")
        return v

    def ranges(self, weekday: int) -> list[tuple[int, int]]:
        """Minutes after midnight; Monday is 0, as ``date.weekday()``."""
        return sorted(parse_range(r) for r in getattr(self, DAYS[weekday]))


def _default_hours() -> WeeklyHours:
    return WeeklyHours(
        tuesday=["14:00-19:00"],
        wednesday=["10:00-12:30", "14:00-19:00"],
        thursday=["14:00-19:00"],
        friday=["14:00-19:00"],
        saturday=["10:00-17:00"],
    )


class Closure(BaseModel):
    """Whole days (``start``/``end`` are dates, both included) or a range of local times."""

    model_config = ConfigDict(extra="forbid")

    start: date | datetime
    end: date | datetime
    reason: str = Field("fermeture exceptionnelle", max_length=200)

    @model_validator(mode="after")
    def _order(self) -> Closure:
        if isinstance(self.start, datetime) != isinstance(self.end, datetime):
            raise ValueError("start and end must both be dates or both be date-times")
        if self.end < self.start:
            raise ValueError("a closure ends before it starts")
        if isinstance(self.start, datetime) and self.start == self.end:
            raise ValueError("a closure of no time")
        return self


MemberJobs = Literal["during_booking", "queue"]


class BookingPolicy(BaseModel):
    """``[booking]`` in site.toml. Members are held to every limit; staff to none of the
    deadlines (they book for members, move and cancel late, mark no-shows)."""

    model_config = ConfigDict(extra="forbid")

    hours: WeeklyHours = Field(default_factory=_default_hours)
    closures: list[Closure] = Field(default_factory=list)
    slot_minutes: int = Field(30, ge=5, le=240)
    min_minutes: int = Field(30, ge=5)
    max_minutes: int = Field(240, ge=5)
    days_ahead: int = Field(28, ge=1, le=366)
    """How far ahead a member may book."""
    max_hours_per_week: float = Field(6, gt=0)
    """Per member, over a week from Monday to Sunday (local time)."""
    last_minute_minutes: int = Field(0, ge=0)
    """No booking by a member less than this before its start."""
    change_hours: float = Field(24, ge=0)
    """A member may move or cancel a booking until this many hours before it starts."""
    member_jobs: MemberJobs = "queue"
    """``during_booking``: a member's own jobs run only during a booking of theirs;
    ``queue`` (the default, so a site without a ``[booking]`` table keeps its old
    behaviour): they wait in the queue like anyone's."""

    @model_validator(mode="after")
    def _lengths(self) -> BookingPolicy:
        if self.max_minutes < self.min_minutes:
            raise ValueError("max_minutes is below min_minutes")
        for name in ("min_minutes", "max_minutes"):
            if getattr(self, name) % self.slot_minutes:
                raise ValueError(f"{name} must be a multiple of slot_minutes")
        return self


class PrivacyPolicy(BaseModel):
    """``[privacy]`` in site.toml."""

    model_config = ConfigDict(extra="forbid")

    file_retention_days: int = Field(180, ge=1)
    """``fabqueue purge`` removes uploaded job files older than this (never an active
    job's)."""


class MachineBooking(BaseModel):
    """``[booking]`` in a machine profile."""

    model_config = ConfigDict(extra="forbid")

    bookable: bool = True
    hours: WeeklyHours | None = None
    """Narrower hours than the café's (the machine is available inside both)."""
    default_job_minutes: float = Field(60, gt=0)
    """How long the scheduler assumes a job with no estimate takes."""
