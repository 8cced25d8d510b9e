"""The books: the CLI (issue, pay, credit, fec, verify), a tampered record or PDF caught
by ``fabqueue books verify``, the FEC's layout, the sales and payments CSVs."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from fabqueue.cli import main
from fabqueue.db import session_scope
from fabqueue.invoices.books import FEC_COLUMNS
from fabqueue.models.invoices import Invoice, InvoiceLine
from tests.conftest import Api
from tests.support.invoices import accepted_quote, convert, fec_amount, parse_fec, succeed
from tests.support.quotes import staff


@pytest.fixture
def cli(qapi: Api, monkeypatch: pytest.MonkeyPatch) -> Api:
    s = qapi.ctx.settings
    for name, value in (
        ("DB_URL", s.db_url),
        ("PROFILES_DIR", str(s.profiles_dir)),
        ("DATA_DIR", str(s.data_dir)),
    ):
        monkeypatch.setenv(f"FABQUEUE_{name}", value)
    qapi.token("treso", "admin")
    return qapi


def drafted(api: Api, who: str = "celeste") -> dict[str, Any]:
    quote = accepted_quote(api, copies=2, extra=(("Conception", "1", "36.00"),), client_user=who)
    succeed(api, *convert(api, quote["id"]))
    r = api.client.post(
        "/api/v1/invoices/from-quote", headers=staff(api), json={"quote_id": quote["id"]}
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_cli_issue_pay_credit_fec_verify(
    cli: Api, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = drafted(cli)
    assert main(["invoices", "issue", str(draft["id"]), "--by", "treso"]) == 0
    assert "FAC-2026-0001" in capsys.readouterr().out
    inv = cli.client.get(f"/api/v1/invoices/{draft['id']}", headers=staff(cli)).json()
    # A refusal is a clear message, exit 2, nothing recorded.
    with pytest.raises(SystemExit) as stop:
        main(["invoices", "pay", str(draft["id"]), "99999", "cheque", "--by", "treso"])
    assert stop.value.code == 2 and "more than" in capsys.readouterr().err
    assert (
        main(
            [
                "invoices",
                "pay",
                str(draft["id"]),
                inv["total_ttc"],
                "especes",
                "--on",
                "2026-03-02",
                "--reference",
                "TICKET 77",
                "--by",
                "treso",
            ]
        )
        == 0
    )
    line = inv["lines"][1]["id"]
    assert (
        main(
            [
                "invoices",
                "credit",
                str(draft["id"]),
                "--line",
                str(line),
                "--reason",
                "abîmé",
                "--by",
                "treso",
            ]
        )
        == 0
    )
    assert "AV-2026-0001" in capsys.readouterr().out
    out = tmp_path / "fec.txt"
    assert main(["books", "fec", "2026", "-o", str(out)]) == 0
    rows = parse_fec(out.read_bytes().decode("iso-8859-15"))
    assert {r["PieceRef"] for r in rows} == {"FAC-2026-0001", "TICKET 77", "AV-2026-0001"}
    cash = [r for r in rows if r["CompteNum"] == "530000"]
    assert [fec_amount(r["Debit"]) for r in cash] == [Decimal(inv["total_ttc"])]
    assert main(["books", "verify"]) == 0
    assert "books: OK" in capsys.readouterr().out
    pdf = tmp_path / "f.pdf"
    assert main(["invoices", "pdf", str(draft["id"]), "-o", str(pdf)]) == 0
    assert pdf.read_bytes().startswith(b"%PDF-")


def test_verify_catches_a_changed_record_and_an_altered_pdf(
    cli: Api, capsys: pytest.CaptureFixture[str]
) -> None:
    first = drafted(cli)
    for inv_id in (first["id"], drafted(cli, "marius")["id"]):
        r = cli.client.post(f"/api/v1/invoices/{inv_id}/issue", headers=staff(cli))
        assert r.status_code == 200, r.text
    with session_scope(cli.ctx.sessions) as s:
        # Someone lowers a price in the database behind fabqueue's back…
        s.execute(
            update(InvoiceLine)
            .where(InvoiceLine.invoice_id == first["id"])  # type: ignore[arg-type]
            .values(unit_price_cents=1)
        )
        s.commit()
        number = s.get(Invoice, first["id"]).number  # type: ignore[union-attr]
    assert main(["books", "verify"]) == 1
    out = capsys.readouterr().out
    assert f"{number}: its record was changed after it was issued" in out
    # …and someone edits the archived PDF.
    inv = cli.client.get(f"/api/v1/invoices/{first['id']}", headers=staff(cli)).json()
    path = cli.ctx.store.path_for(inv["pdf_sha256"])
    path.write_bytes(path.read_bytes() + b"%edited")
    report = cli.client.get("/api/v1/books/verify", headers=staff(cli)).json()
    assert report["ok"] is False
    assert f"{number}: its archived PDF was altered" in report["problems"]


def test_fec_layout_and_csv_exports(cli: Api) -> None:
    draft = drafted(cli)
    inv = cli.client.post(f"/api/v1/invoices/{draft['id']}/issue", headers=staff(cli)).json()
    r = cli.client.post(
        f"/api/v1/invoices/{inv['id']}/payments",
        headers=staff(cli),
        json={"amount": "10.00", "method": "cheque", "paid_on": "2026-03-04", "reference": "CHQ 9"},
    )
    assert r.status_code == 201
    r = cli.client.get("/api/v1/books/fec?year=2026", headers=staff(cli))
    assert r.headers["content-type"].endswith("charset=iso-8859-15")
    assert "Céleste".encode("iso-8859-15") in r.content
    text = r.text
    assert text.split("\r\n")[0].split("\t") == list(FEC_COLUMNS)
    rows = parse_fec(text)
    sale = [r for r in rows if r["JournalCode"] == "VE"]
    assert {r["EcritureDate"] for r in sale} == {"20260302"}
    assert {r["CompteNum"] for r in sale} == {"411000", "706100", "706000", "445710"}
    customer = next(r for r in sale if r["CompteNum"] == "411000")
    assert (
        customer["CompAuxNum"].startswith("C") and customer["CompAuxLib"] == "Boulangerie Céleste"
    )
    assert customer["Debit"] == inv["total_ttc"].replace(".", ",")
    assert all(r["Idevise"] == "" and r["ValidDate"] for r in rows)
    # Each journal numbers its entries without a break.
    assert {r["EcritureNum"] for r in sale} == {"VE000001"}
    assert {r["EcritureNum"] for r in rows if r["JournalCode"] == "BQ"} == {"BQ000001"}
    # Another year's FEC has the header only.
    assert cli.client.get("/api/v1/books/fec?year=2025", headers=staff(cli)).text.count("\r\n") == 1

    sales = cli.client.get(
        "/api/v1/books/sales?start=2026-03-01&end=2026-03-31", headers=staff(cli)
    ).text.splitlines()
    assert sales[0].startswith("numero;type;date") and sales[1].startswith("FAC-2026-0001;invoice")
    pays = cli.client.get(
        "/api/v1/payments?start=2026-03-01&end=2026-03-31", headers=staff(cli)
    ).text.splitlines()
    assert pays[1] == "2026-03-04;FAC-2026-0001;Boulangerie Céleste;cheque;CHQ 9;10.00"


def test_accounts_come_from_site_toml(cli: Api, tmp_path: Path) -> None:
    """The café's chart of accounts, written in site.toml, is what the FEC uses."""
    from fabqueue.invoices.books import fec_rows
    from fabqueue.profiles import load_profiles

    draft = drafted(cli)
    r = cli.client.post(f"/api/v1/invoices/{draft['id']}/issue", headers=staff(cli))
    assert r.status_code == 200, r.text
    root = cli.ctx.settings.profiles_dir
    with (root / "site.toml").open("a") as fh:
        fh.write(
            '\n[accounts]\ncustomers = "411100"\n'
            'sales = { fdm_printer = "706110", service = "706900" }\n'
            'vat = { "20" = "445712", default = "445700" }\n'
        )
    site = load_profiles(root).site
    assert site is not None
    with cli.ctx.read_sessions() as s:
        rows = fec_rows(s, 2026, site.accounts)
    assert {r[4] for r in rows[1:]} == {"411100", "706110", "706900", "445712"}
