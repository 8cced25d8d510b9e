"""Exports read back: the ODS with odfpy, the CSV with the csv module, the PDF with
pdftotext; each shows the same numbers as the JSON report."""

from __future__ import annotations

import csv
import io
import subprocess
from pathlib import Path

from odf.opendocument import load
from odf.table import Table, TableCell, TableRow

from fabqueue.reports import exports, service
from fabqueue.reports.tables import svg_charts
from tests.support.activity import Year
from tests.support.tools import needs


def _sheets(data: bytes, tmp: Path) -> dict[str, list[list[object]]]:
    path = tmp / "bilan.ods"
    path.write_bytes(data)
    doc = load(str(path))
    out: dict[str, list[list[object]]] = {}
    for sheet in doc.spreadsheet.getElementsByType(Table):
        rows = []
        for tr in sheet.getElementsByType(TableRow):
            cells: list[object] = []
            for tc in tr.getElementsByType(TableCell):
                if tc.getAttribute("valuetype") == "float":
                    cells.append(float(tc.getAttribute("value")))
                else:
                    cells.append(str(tc))
            rows.append(cells)
        out[sheet.getAttribute("name")] = rows
    return out


def test_ods_has_the_reports_numbers(year: Year, tmp_path: Path) -> None:
    r = year.report()
    sheets = _sheets(exports.to_ods(r), tmp_path)
    assert {"machines", "mois", "public", "matiere", "energie", "estimations"} <= set(sheets)
    machines = {row[0]: row for row in sheets["machines"][2:]}
    for m in r.activity.machines:
        row = machines[m.machine]
        assert row[1:8] == [
            m.used_h,
            m.available_h,
            m.succeeded,
            m.failed,
            m.redone,
            m.cancelled,
            m.runs,
        ]
    public = {row[0]: row[1] for row in sheets["public"][2:]}
    assert public["Devis envoyés, montant HT (€)"] == float(r.activity.quotes.sent_ht)
    assert public["Absences (no-show)"] == r.activity.bookings.no_shows
    energy = {row[0]: row for row in sheets["energie"][2:]}
    assert energy["Total"][2] == r.energy.kwh


def test_csv_is_french_and_rereads(year: Year) -> None:
    r = year.report()
    data = exports.to_csv(r)
    assert data.startswith("\ufeff".encode())
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig")), delimiter=";"))
    start = rows.index(["Heures machine et réussite par machine"])
    header, first = rows[start + 1], rows[start + 2]
    assert header[0] == "Machine"
    m = r.activity.machines[0]
    assert first[0] == m.machine
    assert float(first[1].replace(",", ".")) == m.used_h
    assert int(first[3]) == m.succeeded
    assert "," in first[1] or float(first[1]).is_integer()


@needs("pdftotext")
def test_pdf_text_reads_back(year: Year, tmp_path: Path) -> None:
    r = year.report()
    pdf = exports.to_pdf(r, service.site_identity(year.profiles))
    path = tmp_path / "bilan.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Bilan d'activité 2026" in text
    assert "Du 1 janvier 2026 au 31 décembre 2026" in text
    assert "Café des Pentes" in text
    assert "Estimation" in text
    # French formats: « 1 234,5 »; the sent amount as printed in the table.
    sent = exports.french(r.activity.quotes.sent_ht)
    assert "," in sent
    assert sent.replace("\u202f", " ").replace("\xa0", " ") in text.replace("\u202f", " ").replace(
        "\xa0", " "
    )
    for name in ("m1", "m2", "c1", "org 1"):
        assert f" {name} " not in f" {text} "


def test_charts_are_accessible_svg(year: Year) -> None:
    charts = svg_charts(year.report())
    assert set(charts) == {"mois", "machines", "facturation", "matieres", "energie"}
    for svg in charts.values():
        assert svg.startswith("<svg") and 'role="img"' in svg
        assert "<title" in svg and "<desc" in svg
        assert "<script" not in svg and "http://" not in svg.replace(
            'xmlns="http://www.w3.org/2000/svg"', ""
        )
