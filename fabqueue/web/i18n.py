"""Languages of the pages: catalogues compiled at start-up, the person's choice, and
numbers, money, dates and durations written the way the café reads them."""

from __future__ import annotations

import gettext
import io
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal

LOCALES = ("fr", "en")
DEFAULT_LOCALE = "fr"


@lru_cache(maxsize=4096)
def _money(amount: Decimal, lang: str) -> str:
    # Babel looks its currency data up on every call: a board prices tens of jobs.
    return format_currency(amount, "EUR", locale="fr_FR" if lang == "fr" else "en_GB")


def load_translations(folder: Path) -> dict[str, gettext.NullTranslations]:
    """Each ``<lang>/LC_MESSAGES/messages.po`` compiled in memory: nothing to build
    before running, and the .po file is the one source."""
    found: dict[str, gettext.NullTranslations] = {}
    for lang in LOCALES:
        po = folder / lang / "LC_MESSAGES" / "messages.po"
        if not po.exists():
            found[lang] = gettext.NullTranslations()
            continue
        with po.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        buf = io.BytesIO()
        write_mo(buf, catalog)
        buf.seek(0)
        found[lang] = gettext.GNUTranslations(buf)
    return found


def negotiate(chosen: str | None, accept_language: str | None) -> str:
    """The person's setting, else the browser's first language we have, else French."""
    if chosen in LOCALES:
        return chosen
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        lang = tag.split("-")[0]
        if lang in LOCALES:
            return lang
    return DEFAULT_LOCALE


class Formats:
    """Formatting for one language in the café's time zone (templates call these)."""

    def __init__(self, lang: str, tz: ZoneInfo) -> None:
        self.lang = lang
        self.locale = Locale.parse("fr_FR" if lang == "fr" else "en_GB")
        self.tz = tz

    def money(self, amount: Decimal | None) -> str:
        if amount is None:
            return "—"
        return _money(amount, self.lang)

    def number(self, value: float | Decimal | None, places: int = 1) -> str:
        if value is None:
            return "—"
        fmt = "#,##0." + "0" * places if places else "#,##0"
        return format_decimal(value, format=fmt, locale=self.locale)

    def when(self, moment: datetime | None) -> str:
        """``lun. 7 déc. 2026, 14:05``."""
        if moment is None:
            return "—"
        return format_datetime(moment, "EEE d MMM y, HH:mm", tzinfo=self.tz, locale=self.locale)

    def day(self, day: date | None) -> str:
        """``6 janvier 2027``."""
        if day is None:
            return "—"
        return format_date(day, "d MMMM y", locale=self.locale)

    def weekday(self, day: date) -> str:
        """``jeudi 5 mars``: a day of the booking calendar."""
        return format_date(day, "EEEE d MMMM", locale=self.locale)

    def clock(self, moment: datetime | None) -> str:
        """``14:05``, for today's ends and starts."""
        if moment is None:
            return "—"
        return format_time(moment, "HH:mm", tzinfo=self.tz, locale=self.locale)

    def duration(self, seconds: float | None) -> str:
        """``1 h 05``, ``6 min``, ``45 s``: never ``3900 s``."""
        if seconds is None:
            return "—"
        total = round(seconds)
        if total < 60:
            return f"{total} s"
        minutes = round(total / 60)
        if minutes < 60:
            return f"{minutes} min"
        return f"{minutes // 60} h {minutes % 60:02d}"

    def percent(self, fraction: float | None) -> str:
        if fraction is None:
            return "—"
        return f"{round(fraction * 100)} %" if self.lang == "fr" else f"{round(fraction * 100)}%"
