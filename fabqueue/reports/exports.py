"""Exports of a report: CSV (French spreadsheet conventions), OpenDocument spreadsheet
(numbers stay numbers, one sheet per table), JSON, and the printable PDF « bilan
d'activité » (WeasyPrint, like the devis)."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, select_autoescape

from fabqueue.reports.service import Report
from fabqueue.reports.tables import Cell, Table, all_tables, svg_charts

LOCALE = "fr_FR"
TEMPLATES = Path(__file__).resolve().parent.parent / "templates"
FORMATS = ("json", "csv", "ods", "pdf")
MEDIA_TYPES = {
    "json": "application/json",
    "csv": "text/csv; charset=utf-8",
    "ods": "application/vnd.oasis.opendocument.spreadsheet",
    "pdf": "application/pdf",
}

_env = Environment(
    loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]), auto_reload=False
)


def french(value: Cell) -> str:
    """A cell as a French reader writes it: 1 234,5 ; empty for « not known »."""
    if value is None:
        return ""
    if isinstance(value, bool | str):
        return str(value)
    if isinstance(value, int):
        return format_decimal(value, locale=LOCALE)
    return format_decimal(value, locale=LOCALE, format="#,##0.###")


def to_csv(report: Report) -> bytes:
    """Semicolon-separated with decimal commas (what LibreOffice and Excel in French
    open without asking), UTF-8 with a BOM so accents survive Excel; no thousands
    separator, so numbers re-read as numbers."""
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=";", lineterminator="\r\n")
    w.writerow([f"Bilan d'activité {report.period}", report.scope])
    for t in all_tables(report):
        w.writerow([])
        w.writerow([t.title])
        w.writerow(t.headers)
        w.writerows([_csv_cell(c) for c in row] for row in t.rows)
    return ("\ufeff" + buf.getvalue()).encode("utf-8")


def _csv_cell(value: Cell) -> str:
    if value is None:
        return ""
    if isinstance(value, float | Decimal):
        return str(value).replace(".", ",")
    return str(value)


def to_ods(report: Report) -> bytes:
    from odf.opendocument import OpenDocumentSpreadsheet
    from odf.table import Table as OdsTable
    from odf.table import TableCell, TableRow
    from odf.text import P

    doc = OpenDocumentSpreadsheet()
    for t in all_tables(report):
        sheet = OdsTable(name=t.name)
        lines: list[list[Cell]] = [[t.title], list(t.headers), *t.rows]
        for values in lines:
            tr = TableRow()
            for value in values:
                tr.addElement(_ods_cell(TableCell, P, value))
            sheet.addElement(tr)
        doc.spreadsheet.addElement(sheet)
    buf = io.BytesIO()
    doc.write(buf)
    return buf.getvalue()


def _ods_cell(cell_type: Any, p_type: Any, value: Cell) -> Any:
    if value is None:
        return cell_type()
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        cell = cell_type(valuetype="float", value=str(value))
        cell.addElement(p_type(text=french(value)))
        return cell
    cell = cell_type(valuetype="string")
    cell.addElement(p_type(text=str(value)))
    return cell


def to_html(report: Report, identity: dict[str, Any]) -> str:
    tz = ZoneInfo("Europe/Paris")
    tables = all_tables(report)
    return _env.get_template("reports/bilan.html").render(
        report=report,
        identity=identity,
        tables=tables,
        charts=svg_charts(report),
        fmt=french,
        numeric=_is_number,
        generated=format_datetime(report.generated_at, "d MMMM y HH:mm", tzinfo=tz, locale=LOCALE),
        first=format_date(report.first_day, "d MMMM y", locale=LOCALE),
        last=format_date(report.last_day, "d MMMM y", locale=LOCALE),
    )


def _is_number(value: Cell) -> bool:
    return isinstance(value, int | float | Decimal) and not isinstance(value, bool)


def to_pdf(report: Report, identity: dict[str, Any]) -> bytes:
    from weasyprint import HTML  # heavy import (pango): only when a PDF is asked for

    pdf: bytes = HTML(string=to_html(report, identity), base_url=str(TEMPLATES)).write_pdf()
    return pdf


def render(report: Report, fmt: str, identity: dict[str, Any]) -> bytes:
    if fmt == "json":
        return report.model_dump_json(indent=2).encode()
    if fmt == "csv":
        return to_csv(report)
    if fmt == "ods":
        return to_ods(report)
    if fmt == "pdf":
        return to_pdf(report, identity)
    raise ValueError(f"format {fmt!r}: one of {', '.join(FORMATS)}")


__all__ = ["FORMATS", "MEDIA_TYPES", "Table", "render", "to_csv", "to_ods", "to_pdf"]
