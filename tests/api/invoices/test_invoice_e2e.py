"""End to end, on SQLite and PostgreSQL: an accepted quote → a deposit invoice → its
jobs succeed → the final invoice deducting the deposit → a partial payment then the rest
→ a credit note for one defective line → the year's FEC balances and lists every entry;
the chain verifies; each PDF carries a Factur-X XML whose totals are the PDF's."""

from __future__ import annotations

import subprocess
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from facturx import get_xml_from_pdf, xml_check_xsd
from lxml import etree

from fabqueue.settings import Settings
from tests.conftest import Api
from tests.support.invoices import (
    accepted_quote,
    convert,
    euros,
    fec_amount,
    parse_fec,
    pdf_text,
    succeed,
)
from tests.support.quotes import SetClock, staff

RAM = "{urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path, profiles_dir: Path) -> Settings:
    url = (
        request.getfixturevalue("sqlite_url")
        if request.param == "sqlite"
        else request.getfixturevalue("pg_url")
    )
    return Settings(
        db_url=url, data_dir=tmp_path / "data", profiles_dir=profiles_dir, node="test-node"
    )


def post(api: Api, path: str, body: dict[str, Any] | None = None, code: int = 200) -> Any:
    r = api.client.post(path, headers=staff(api), json=body or {})
    assert r.status_code == code, r.text
    return r.json()


def issue(api: Api, invoice_id: int) -> dict[str, Any]:
    return post(api, f"/api/v1/invoices/{invoice_id}/issue")  # type: ignore[no-any-return]


def check_pdf_and_xml(api: Api, inv: dict[str, Any], tmp_path: Path) -> str:
    """The archived PDF reads back with the invoice's totals; its Factur-X XML passes the
    EN 16931 XSD shipped with factur-x and carries the same totals."""
    r = api.client.get(f"/api/v1/invoices/{inv['id']}/pdf", headers=staff(api))
    assert r.status_code == 200
    text = pdf_text(r.content, tmp_path, f"{inv['number']}.pdf")
    meta = subprocess.run(
        ["pdfinfo", "-meta", str(tmp_path / f"{inv['number']}.pdf")],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    assert "<pdfaid:part>3</pdfaid:part>" in meta
    assert "<fx:ConformanceLevel>EN 16931</fx:ConformanceLevel>" in meta
    _name, xml = get_xml_from_pdf(r.content, check_xsd=False)
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
    root = etree.fromstring(xml)
    summation = root.find(f".//{RAM}SpecifiedTradeSettlementHeaderMonetarySummation")
    assert summation is not None
    grand = Decimal(summation.findtext(f"{RAM}GrandTotalAmount") or "")
    ht = Decimal(summation.findtext(f"{RAM}TaxBasisTotalAmount") or "")
    vat = Decimal(summation.findtext(f"{RAM}TaxTotalAmount") or "")
    assert (ht, vat, grand) == (
        Decimal(inv["total_ht"]),
        Decimal(inv["total_vat"]),
        Decimal(inv["total_ttc"]),
    )
    printed_ttc = text.split("Total TTC")[-1].split("€")[0]
    printed_ttc = printed_ttc.split("déduit")[-1]
    assert euros(printed_ttc) == grand
    printed_ht = text.split("Total HT")[-1].split("€")[0]
    assert euros(printed_ht) == ht
    return text


def test_quote_to_fec(qapi: Api, clock: SetClock, tmp_path: Path) -> None:
    quote = accepted_quote(qapi, copies=2, extra=(("Conception du fichier", "1", "40.00"),))

    # A 30 % deposit, paid by transfer before the work starts.
    dep = post(qapi, "/api/v1/invoices/deposit", {"quote_id": quote["id"], "percent": "30"}, 201)
    dep = issue(qapi, dep["id"])
    assert dep["number"] == "FAC-2026-0001" and dep["state"] == "issued"
    assert Decimal(dep["total_ht"]) == (Decimal(quote["totals"]["ht"]) * Decimal("0.3")).quantize(
        Decimal("0.01")
    )
    text = check_pdf_and_xml(qapi, dep, tmp_path)
    assert "Facture d'acompte n° FAC-2026-0001" in text
    post(
        qapi,
        f"/api/v1/invoices/{dep['id']}/payments",
        {
            "amount": dep["total_ttc"],
            "method": "virement",
            "paid_on": "2026-03-03",
            "reference": "VIR CELESTE 0303",
        },
        201,
    )

    # The jobs are made and succeed; the final invoice bills them and deducts the deposit.
    clock.advance(days=5)
    jobs = convert(qapi, quote["id"])
    succeed(qapi, *jobs)
    final = post(qapi, "/api/v1/invoices/from-quote", {"quote_id": quote["id"]}, 201)
    kinds = [ln["kind"] for ln in final["lines"]]
    assert kinds == ["item", "item", "deposit"]
    assert final["lines"][0]["job_ids"] == sorted(jobs)
    final = issue(qapi, final["id"])
    assert final["number"] == "FAC-2026-0002"
    assert Decimal(final["total_ttc"]) == Decimal(quote["totals"]["ttc"]) - Decimal(
        dep["total_ttc"]
    )
    text = check_pdf_and_xml(qapi, final, tmp_path)
    assert "Acompte déduit, facture FAC-2026-0001" in text

    # Nothing is left to invoice on the quote.
    r = qapi.client.post(
        "/api/v1/invoices/from-quote", headers=staff(qapi), json={"quote_id": quote["id"]}
    )
    assert r.status_code == 409

    # A partial payment, then the rest.
    half = (Decimal(final["total_ttc"]) / 2).quantize(Decimal("0.01"))
    clock.advance(days=2)
    post(
        qapi,
        f"/api/v1/invoices/{final['id']}/payments",
        {
            "amount": str(half),
            "method": "cheque",
            "paid_on": "2026-03-09",
            "reference": "CHQ 1234567",
        },
        201,
    )
    mid = qapi.client.get(f"/api/v1/invoices/{final['id']}", headers=staff(qapi)).json()
    assert mid["state"] == "partially_paid"
    assert Decimal(mid["balance_due"]) == Decimal(final["total_ttc"]) - half
    post(
        qapi,
        f"/api/v1/invoices/{final['id']}/payments",
        {
            "amount": mid["balance_due"],
            "method": "carte",
            "paid_on": "2026-03-10",
            "reference": "TPE 000812",
        },
        201,
    )
    paid = qapi.client.get(f"/api/v1/invoices/{final['id']}", headers=staff(qapi)).json()
    assert paid["state"] == "paid" and Decimal(paid["balance_due"]) == 0

    # One line was defective: a credit note for it, and not twice.
    clock.advance(days=1)
    line = final["lines"][1]
    note = post(
        qapi,
        "/api/v1/credit-notes",
        {"invoice_id": final["id"], "line_ids": [line["id"]], "reason": "fichier mal conçu"},
        201,
    )
    assert note["number"] == "AV-2026-0001" and note["corrects_id"] == final["id"]
    assert [ln["credited_line_id"] for ln in note["lines"]] == [line["id"]]
    text = check_pdf_and_xml(qapi, note, tmp_path)
    assert "Avoir sur la facture n° FAC-2026-0002" in text
    r = qapi.client.post(
        "/api/v1/credit-notes",
        headers=staff(qapi),
        json={"invoice_id": final["id"], "line_ids": [line["id"]], "reason": "encore"},
    )
    assert r.status_code == 409 and "credited already" in r.text

    # The FEC for 2026: every entry balanced, in date order, none missing.
    r = qapi.client.get("/api/v1/books/fec?year=2026", headers=staff(qapi))
    assert r.status_code == 200
    assert "812345676FEC20261231.txt" in r.headers["content-disposition"]
    rows = parse_fec(r.text)
    entries: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        entries[row["EcritureNum"]].append(row)
    for num, movements in entries.items():
        debit = sum(fec_amount(m["Debit"]) for m in movements)
        credit = sum(fec_amount(m["Credit"]) for m in movements)
        assert debit == credit, f"entry {num} does not balance"
    pieces = [movements[0]["PieceRef"] for movements in entries.values()]
    assert pieces == [
        "FAC-2026-0001",
        "VIR CELESTE 0303",
        "FAC-2026-0002",
        "CHQ 1234567",
        # Same day: the sales journal's entry comes before the bank's.
        "AV-2026-0001",
        "TPE 000812",
    ]
    dates = [row["EcritureDate"] for row in rows]
    assert dates == sorted(dates)
    customer = defaultdict(Decimal)
    for row in rows:
        if row["CompteNum"] == "411000":
            customer[row["PieceRef"]] += fec_amount(row["Debit"]) - fec_amount(row["Credit"])
    assert customer["FAC-2026-0002"] == Decimal(final["total_ttc"])
    assert customer["AV-2026-0001"] == -Decimal(note["total_ttc"])

    # The chain holds; every PDF is as archived.
    report = qapi.client.get("/api/v1/books/verify", headers=staff(qapi)).json()
    assert report == {"ok": True, "problems": []}
    events = qapi.client.get(f"/api/v1/invoices/{final['id']}/events", headers=staff(qapi)).json()
    archived = next(e for e in events if e["action"] == "pdf_archived")
    assert archived["detail"]["pdf_sha256"] == final["pdf_sha256"]
    assert [(e["action"], e["to_state"]) for e in events] == [
        ("drafted", "draft"),
        ("issued", "issued"),
        ("pdf_archived", "issued"),
        ("payment", "partially_paid"),
        ("payment_recorded", "partially_paid"),
        ("payment", "paid"),
        ("payment_recorded", "paid"),
        ("credited", "paid"),
    ]
