"""Write French translations given as a JSON object {msgid: msgstr} into fr's catalogue.

    .venv/bin/python web/translations/fill.py '{"Size": "Taille"}'

For adding a handful at once without hand-editing the .po's quoting.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from babel.messages.pofile import read_po, write_po

PO = Path(__file__).resolve().parent / "fr" / "LC_MESSAGES" / "messages.po"

if __name__ == "__main__":
    wanted: dict[str, str] = json.loads(sys.argv[1])
    with PO.open("rb") as fh:
        catalog = read_po(fh, locale="fr")
    for msgid, text in wanted.items():
        if msgid not in catalog:
            sys.exit(f"no message {msgid!r} in the catalogue: run sync.py first")
        catalog[msgid].string = text
    with PO.open("wb") as fh:
        write_po(fh, catalog, no_location=True, sort_output=True, width=100)
