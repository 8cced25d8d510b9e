"""Bring the catalogues up to date with the templates and the page code.

    .venv/bin/python web/translations/sync.py

Extracts the messages (English ids), adds new ones to ``fr`` and ``en`` with an empty
translation and drops the ones no longer used; then write the French ones by hand
(tests/web/test_translations.py fails until every message has its French). Nothing is
compiled: the service compiles the .po files when it starts.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po, write_po

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]


def extract() -> Catalog:
    pot = HERE / "messages.pot"
    subprocess.run(
        [
            str(Path(sys.executable).with_name("pybabel")),
            "extract",
            "-F",
            str(REPO / "web" / "babel.cfg"),
            "-k",
            "gettext",
            "--no-location",
            "--omit-header",
            "--sort-output",
            "-o",
            str(pot),
            str(REPO),
        ],
        check=True,
        capture_output=True,
    )
    with pot.open("rb") as fh:
        return read_po(fh)


def sync(template: Catalog, lang: str) -> None:
    path = HERE / lang / "LC_MESSAGES" / "messages.po"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        with path.open("rb") as fh:
            catalog = read_po(fh, locale=lang)
    else:
        catalog = Catalog(locale=lang, project="fabqueue")
    catalog.update(template, no_fuzzy_matching=True)
    catalog.obsolete.clear()
    catalog.fuzzy = False
    catalog.project, catalog.version = "fabqueue", "0.1"
    catalog.copyright_holder = "the fabqueue authors"
    catalog.msgid_bugs_address = ""
    catalog.last_translator = "fabqueue"
    catalog.language_team = "fabqueue"
    with path.open("wb") as fh:
        write_po(fh, catalog, omit_header=False, no_location=True, sort_output=True, width=100)


if __name__ == "__main__":
    found = extract()
    for lang in ("fr", "en"):
        sync(found, lang)
