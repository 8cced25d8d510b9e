"""Invoiced and paid amounts in the activity report, per month and in total, HT and
TTC, against figures worked out by hand; the same in the JSON, CSV and ODS exports."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path

from fabqueue.db import session_scope
from fabqueue.models.invoices import Invoice, InvoiceKind, InvoiceState, Payment, PaymentMethod
from fabqueue.reports import exports
from fabqueue.reports.tables import money_table
from tests.support.activity import YEAR, Year
from tests.support.ods import ods_sheets

AT = datetime(YEAR, 6, 1, tzinfo=UTC)


def _invoice(
    s: object,
    kind: InvoiceKind,
    day: date | None,
    ht: int,
    ttc: int,
    *,
    state: InvoiceState = InvoiceState.issued,
    series: str = "FAC",
) -> int:
    inv = Invoice(
        kind=kind,
        state=state,
        series=series,
        number=None if day is None else f"{series}-{day.isoformat()}-{ht}",
        issue_date=day,
        total_ht_cents=None if day is None else ht,
        total_vat_cents=None if day is None else ttc - ht,
        total_ttc_cents=None if day is None else ttc,
        created_by="test",
        created_at=AT,
        updated_at=AT,
    )
    s.add(inv)  # type: ignore[attr-defined]
    s.flush()  # type: ignore[attr-defined]
    assert inv.id is not None
    return inv.id


def _pay(s: object, invoice_id: int, day: date, cents: int) -> None:
    s.add(  # type: ignore[attr-defined]
        Payment(
            invoice_id=invoice_id,
            amount_cents=cents,
            method=PaymentMethod.virement,
            paid_on=day,
            recorded_by="test",
            recorded_at=AT,
        )
    )


def _books(year: Year) -> None:
    """January: an invoice 100,00 HT / 120,00 TTC and a deposit 30,00 / 36,00, the deposit
    paid; February: a credit note 10,00 / 12,00, payments of 60,00 and 33,33 on the
    invoice; March: the 12,00 refunded. Not counted: a draft, a cancelled draft, last
    year's invoice; another café's series counts for the network only."""
    with session_scope(year.sessions) as s:
        inv = _invoice(s, InvoiceKind.invoice, date(YEAR, 1, 15), 10000, 12000)
        dep = _invoice(s, InvoiceKind.deposit, date(YEAR, 1, 20), 3000, 3600)
        note = _invoice(s, InvoiceKind.credit_note, date(YEAR, 2, 3), 1000, 1200, series="AV")
        _invoice(s, InvoiceKind.invoice, None, 0, 0, state=InvoiceState.draft)
        _invoice(s, InvoiceKind.invoice, None, 0, 0, state=InvoiceState.cancelled)
        old = _invoice(s, InvoiceKind.invoice, date(YEAR - 1, 12, 31), 5000, 6000)
        other = _invoice(s, InvoiceKind.invoice, date(YEAR, 1, 5), 7000, 8400, series="AUTRE")
        _pay(s, dep, date(YEAR, 1, 20), 3600)
        _pay(s, inv, date(YEAR, 2, 10), 6000)
        _pay(s, inv, date(YEAR, 2, 11), 3333)
        _pay(s, note, date(YEAR, 3, 1), -1200)
        _pay(s, old, date(YEAR - 1, 12, 31), 6000)
        _pay(s, other, date(YEAR, 1, 6), 8400)
        s.commit()


def D(text: str) -> Decimal:
    return Decimal(text)


# (month, invoiced HT, TTC, credited HT, TTC, net HT, TTC, paid HT, TTC, refunded TTC)
CAFE = {
    f"{YEAR}-01": ("130.00", "156.00", "0", "0", "130.00", "156.00", "30.00", "36.00", "0"),
    # 33,33 TTC of an invoice 100/120 is 27,775 HT, rounded half up: 27,78; + 50,00.
    f"{YEAR}-02": ("0", "0", "10.00", "12.00", "-10.00", "-12.00", "77.78", "93.33", "0"),
    f"{YEAR}-03": ("0", "0", "0", "0", "0", "0", "0", "0", "12.00"),
    "Total": (
        "130.00",
        "156.00",
        "10.00",
        "12.00",
        "120.00",
        "144.00",
        "107.78",
        "129.33",
        "12.00",
    ),
}


def _row(table_rows: list[list[object]], key: str) -> tuple[Decimal, ...]:
    row = next(r for r in table_rows if r[0] == key)
    return tuple(Decimal(str(v)) for v in row[1:])


def test_the_cafe_report_has_its_invoiced_and_paid_amounts(year: Year) -> None:
    _books(year)
    r = year.report(machines=sorted(year.profiles.machines))
    rows = money_table(r).rows
    assert len(rows) == 13  # twelve months and the total
    for key, expected in CAFE.items():
        assert _row(rows, key) == tuple(D(v) for v in expected), key
    assert _row(rows, f"{YEAR}-07") == (Decimal(0),) * 9
    assert r.money.total.paid_ttc == D("129.33") and r.money.total.net_ht == D("120.00")


def test_the_network_counts_every_cafes_series(any_year: Year) -> None:
    """Also on PostgreSQL: the same sums."""
    _books(any_year)
    total = any_year.report().money.total
    assert (total.invoiced_ht, total.invoiced_ttc) == (D("200.00"), D("240.00"))
    assert (total.paid_ht, total.paid_ttc) == (D("177.78"), D("213.33"))


def test_json_csv_and_ods_carry_the_same_amounts(year: Year, tmp_path: Path) -> None:
    _books(year)
    r = year.report(machines=sorted(year.profiles.machines))
    identity = {"name": "Café", "address": []}
    data = exports.render(r, "json", identity).decode()
    assert '"paid_ttc": "129.33"' in data and '"refunded_ttc": "12.00"' in data
    text = exports.render(r, "csv", identity).decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(text), delimiter=";"))
    start = lines.index(["Facturé et encaissé"])
    assert lines[start + 1][1] == "Facturé HT (€)"
    total = next(ln for ln in lines[start:] if ln and ln[0] == "Total")
    assert total[1:] == [v.replace(".", ",") for v in CAFE["Total"]]
    sheet = ods_sheets(exports.render(r, "ods", identity), tmp_path)["facturation"]
    ods_total = next(row for row in sheet if row and row[0] == "Total")
    assert [Decimal(str(v)).quantize(D("0.01")) for v in ods_total[1:]] == [
        D(v).quantize(D("0.01")) for v in CAFE["Total"]
    ]
