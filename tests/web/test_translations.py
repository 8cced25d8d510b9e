"""French first: every message of the pages has its French, and figures read as the
café writes them."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from fabqueue.web.i18n import Formats, load_translations, negotiate
from tests.support.factories import REPO

TRANSLATIONS = REPO / "web" / "translations"
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def _catalogue(lang: str) -> dict[str, str]:
    with (TRANSLATIONS / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return {m.id: m.string for m in read_po(fh, locale=lang) if m.id}  # type: ignore[misc]


def _used_messages() -> set[str]:
    method_map = [
        ("fabqueue/web/**.py", "python"),
        ("web/templates/**.html", "jinja2"),
    ]
    options = {"web/templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    found: set[str] = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
        str(REPO), method_map, options_map=options, keywords={"_": None, "gettext": None}
    ):
        found.add(message if isinstance(message, str) else message[0])
    return found


def test_every_message_of_the_pages_has_its_french() -> None:
    used = _used_messages()
    assert len(used) > 80, "extraction found the templates"
    french = _catalogue("fr")
    missing = sorted(m for m in used if not french.get(m))
    assert missing == [], f"run web/translations/sync.py, then translate: {missing}"
    for message in used:
        assert set(PLACEHOLDER.findall(message)) == set(PLACEHOLDER.findall(french[message])), (
            message
        )


def test_the_catalogues_compile_and_the_ui_words_are_used() -> None:
    translations = load_translations(TRANSLATIONS)
    fr = translations["fr"].gettext
    assert fr("to check") == "à vérifier"
    assert fr("Good") == "Bonne" and fr("Redo") == "À refaire"
    assert fr("Vinyl weeded?") == "Vinyle échenillé ?"
    assert fr("Connection lost — retrying…") == "Connexion perdue — nouvelle tentative…"
    assert translations["en"].gettext("Good") == "Good"


def test_the_language_is_the_persons_then_the_browsers_then_french() -> None:
    assert negotiate("en", "fr-FR,fr") == "en"
    assert negotiate(None, "en-US,en;q=0.9") == "en"
    assert negotiate(None, "de-DE,de;q=0.9,en;q=0.5") == "en"
    assert negotiate(None, "de-DE") == "fr"
    assert negotiate(None, None) == "fr"


def _plain(text: str) -> str:
    return text.replace("\u202f", " ").replace("\xa0", " ")


def test_money_dates_and_durations_read_the_french_way() -> None:
    fr = Formats("fr", ZoneInfo("Europe/Paris"))
    assert _plain(fr.money(Decimal("1234.50"))) == "1 234,50 €"
    assert _plain(fr.when(datetime(2026, 12, 7, 13, 5, tzinfo=UTC))) == "lun. 7 déc. 2026, 14:05"
    assert fr.clock(datetime(2026, 7, 1, 12, 0, tzinfo=UTC)) == "14:00"  # summer time
    assert fr.duration(3900) == "1 h 05"
    assert fr.duration(360) == "6 min"
    assert fr.duration(45) == "45 s"
    assert _plain(fr.number(12.5)) == "12,5"
    assert _plain(fr.percent(0.68)) == "68 %"
    en = Formats("en", ZoneInfo("Europe/Paris"))
    assert en.money(Decimal("1234.50")) == "€1,234.50"
