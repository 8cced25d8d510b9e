"""An OpenDocument spreadsheet read back with odfpy: sheets by name, numbers as floats."""

from __future__ import annotations

from pathlib import Path

from odf.opendocument import load
from odf.table import Table, TableCell, TableRow


def ods_sheets(data: bytes, tmp: Path) -> dict[str, list[list[object]]]:
    path = tmp / "sheet.ods"
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
