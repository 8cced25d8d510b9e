"""What an invoice says, read back from its PDF with pdftotext, per VAT regime and
customer type; counter sales priced by the engine; partial invoicing of a quote;
refusals that lose nothing."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from facturx import get_xml_from_pdf, xml_check_xsd

from tests.conftest import Api
from tests.support.invoices import accepted_quote, convert, counter_job, pdf_text, succeed
from tests.support.quotes import SetClock, make_client, staff

INDEMNITY = "indemnité forfaitaire pour frais de recouvrement de 40 €"


def post(api: Api, path: str, body: dict[str, Any], code: int = 200) -> Any:
    r = api.client.post(path, headers=staff(api), json=body)
    assert r.status_code == code, r.text
    return r.json()


def issued_pdf(api: Api, invoice_id: int, tmp_path: Path) -> tuple[dict[str, Any], str, bytes]:
    inv = post(api, f"/api/v1/invoices/{invoice_id}/issue", {})
    pdf = api.client.get(f"/api/v1/invoices/{invoice_id}/pdf", headers=staff(api)).content
    return inv, pdf_text(pdf, tmp_path, f"{inv['number']}.pdf"), pdf


def business_invoice(api: Api, tmp_path: Path) -> tuple[dict[str, Any], str, bytes]:
    quote = accepted_quote(api, copies=1)
    jobs = convert(api, quote["id"])
    succeed(api, *jobs)
    draft = post(api, "/api/v1/invoices/from-quote", {"quote_id": quote["id"]}, 201)
    return issued_pdf(api, draft["id"], tmp_path)


def counter_invoice(api: Api, tmp_path: Path, **extra: Any) -> tuple[dict[str, Any], str, bytes]:
    job = counter_job(api)
    body = {"job_ids": [job], "customer_name": "Léa Dupont", "till_reference": "T-0042", **extra}
    draft = post(api, "/api/v1/invoices/counter", body, 201)
    return issued_pdf(api, draft["id"], tmp_path)


def has(text: str, *phrases: str) -> None:
    for phrase in phrases:
        assert phrase in text, f"{phrase!r} not in the PDF"


COMMON = (
    "Date de la facture : 2 mars 2026",
    "Date de la prestation : 2 mars 2026",
    "Date d'échéance : 1 avril 2026",
    "Pas d'escompte pour paiement anticipé.",
    "SIRET : 81234567600017",
)


def test_normal_regime_business(qapi: Api, tmp_path: Path) -> None:
    inv, text, pdf = business_invoice(qapi, tmp_path)
    has(
        text,
        *COMMON,
        "Facture n° FAC-2026-0001",
        "SCIC SARL",
        "RCS Marseille 812 345 676",
        "N° TVA intracommunautaire : FR19812345676",
        "Boulangerie Céleste",
        "4 place du Marché",
        "Devis n° DEV-2026-0001",
        "TVA 20 %",
        "Total TTC",
        "trois fois le taux d'intérêt légal",
        INDEMNITY,
    )
    assert "293 B" not in text
    vat = Decimal(inv["total_vat"])
    assert vat == (Decimal(inv["total_ht"]) * Decimal("0.2")).quantize(Decimal("0.01"))
    _name, xml = get_xml_from_pdf(pdf, check_xsd=False)
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert b"<ram:TypeCode>380</ram:TypeCode>" in xml
    assert b'schemeID="VA">FR19812345676<' in xml


def test_normal_regime_consumer_at_the_counter(qapi: Api, tmp_path: Path) -> None:
    inv, text, _pdf = counter_invoice(qapi, tmp_path)
    has(text, *COMMON, "Léa Dupont", "Réglé à la caisse du café, ticket n° T-0042", "TVA 20 %")
    # A consumer gets neither the penalty clause nor the 40 € indemnity (B2B only).
    assert INDEMNITY not in text and "pénalités" not in text
    assert inv["till_reference"] == "T-0042"


@pytest.mark.parametrize(
    ("regime", "mention", "identity"),
    [
        ("franchise_293B", "TVA non applicable, art. 293 B du CGI", "Entreprise individuelle"),
        (
            "association_exempt",
            "TVA non applicable, art. 261-7-1°-b du CGI",
            "Association loi 1901",
        ),
    ],
)
def test_regimes_without_vat(
    qapi: Api, tmp_path: Path, regime: str, mention: str, identity: str
) -> None:
    inv, text, pdf = business_invoice(qapi, tmp_path)
    has(text, *COMMON, mention, identity, "Net à payer", INDEMNITY)
    assert "TVA 20 %" not in text and "N° TVA intracommunautaire" not in text
    assert inv["total_vat"] == "0.00" and inv["total_ttc"] == inv["total_ht"]
    _name, xml = get_xml_from_pdf(pdf, check_xsd=False)
    assert xml_check_xsd(xml, flavor="factur-x", level="en16931")
    assert b"<ram:CategoryCode>E</ram:CategoryCode>" in xml
    assert mention.encode() in xml


def test_counter_sale_is_priced_by_the_engine_with_a_visible_discount(
    qapi: Api, tmp_path: Path
) -> None:
    job = counter_job(qapi, copies=2)
    draft = post(
        qapi,
        "/api/v1/invoices/counter",
        {"job_ids": [job], "customer_name": "Léa Dupont", "discount_percent": "10"},
        201,
    )
    item, discount = draft["lines"]
    assert item["quantity"] == "2" and Decimal(item["unit_price_ht"]) > 0
    assert discount["kind"] == "discount" and discount["description"] == "Remise de 10 %"
    assert Decimal(discount["total_ht"]) == -(Decimal(item["total_ht"]) / 10).quantize(
        Decimal("0.01")
    )
    inv, text, _pdf = issued_pdf(qapi, draft["id"], tmp_path)
    has(text, "Remise de 10 %")
    assert Decimal(inv["total_ht"]) == Decimal(item["total_ht"]) + Decimal(discount["total_ht"])
    # The job is billed once.
    r = qapi.client.post(
        "/api/v1/invoices/counter",
        headers=staff(qapi),
        json={"job_ids": [job], "customer_name": "Léa Dupont"},
    )
    assert r.status_code == 409 and "already" in r.text


def test_partial_invoicing_then_the_rest(qapi: Api, clock: SetClock) -> None:
    quote = accepted_quote(qapi, copies=3, extra=(("Pose en vitrine", "1", "25.00"),))
    first, second, third = convert(qapi, quote["id"])
    succeed(qapi, first)
    part = post(qapi, "/api/v1/invoices/from-quote", {"quote_id": quote["id"]}, 201)
    assert [(ln["quantity"], ln["job_ids"]) for ln in part["lines"]] == [("1", [first])]
    # Nothing new is done: nothing to invoice.
    r = qapi.client.post(
        "/api/v1/invoices/from-quote", headers=staff(qapi), json={"quote_id": quote["id"]}
    )
    assert r.status_code == 409 and "nothing to invoice" in r.text
    succeed(qapi, second, third)
    rest = post(qapi, "/api/v1/invoices/from-quote", {"quote_id": quote["id"]}, 201)
    assert [ln["description"] for ln in rest["lines"]][-1] == "Pose en vitrine"
    assert rest["lines"][0]["job_ids"] == sorted([second, third])
    # A cancelled draft frees its jobs for the next one.
    post(qapi, f"/api/v1/invoices/{part['id']}/cancel", {})
    again = post(qapi, "/api/v1/invoices/from-quote", {"quote_id": quote["id"]}, 201)
    assert again["lines"][0]["job_ids"] == [first]
    assert len(again["lines"]) == 1


def test_refusals_lose_nothing(qapi: Api, tmp_path: Path) -> None:
    inv, _text, _pdf = business_invoice(qapi, tmp_path)
    too_much = str(Decimal(inv["total_ttc"]) + 1)
    r = qapi.client.post(
        f"/api/v1/invoices/{inv['id']}/payments",
        headers=staff(qapi),
        json={"amount": too_much, "method": "cheque", "paid_on": "2026-03-05"},
    )
    assert r.status_code == 409 and "more than" in r.text
    r = qapi.client.post(
        f"/api/v1/invoices/{inv['id']}/payments",
        headers=staff(qapi),
        json={"amount": "10", "method": "bitcoin", "paid_on": "2026-03-05"},
    )
    assert r.status_code == 422
    # An issued invoice is not cancelled nor issued again.
    for action in ("cancel", "issue"):
        r = qapi.client.post(f"/api/v1/invoices/{inv['id']}/{action}", headers=staff(qapi))
        assert r.status_code == 409, action
    r = qapi.client.post(
        "/api/v1/credit-notes",
        headers=staff(qapi),
        json={"invoice_id": inv["id"], "line_ids": [999999], "reason": "erreur"},
    )
    assert r.status_code == 422 and "not lines of" in r.text
    # A client cannot see invoices.
    _org, client = make_client(qapi, name="Autre", user="autre")
    assert qapi.client.get("/api/v1/invoices", headers=client).status_code == 403
    after = qapi.client.get(f"/api/v1/invoices/{inv['id']}", headers=staff(qapi)).json()
    assert after["state"] == "issued" and after["paid"] == "0.00"
    assert after["balance_due"] == inv["total_ttc"]


def test_overdue_list(qapi: Api, clock: SetClock, tmp_path: Path) -> None:
    inv, _text, _pdf = business_invoice(qapi, tmp_path)
    assert qapi.client.get("/api/v1/invoices/overdue", headers=staff(qapi)).json() == []
    clock.advance(days=31)
    [row] = qapi.client.get("/api/v1/invoices/overdue", headers=staff(qapi)).json()
    assert row["invoice"]["number"] == inv["number"]
    assert row["balance_due"] == inv["total_ttc"]


def test_whole_credit_note_settles_an_unpaid_invoice(qapi: Api, tmp_path: Path) -> None:
    inv, _text, _pdf = business_invoice(qapi, tmp_path)
    note = post(
        qapi, "/api/v1/credit-notes", {"invoice_id": inv["id"], "reason": "commande annulée"}, 201
    )
    assert note["total_ttc"] == inv["total_ttc"]
    assert [ln["credited_line_id"] for ln in note["lines"]] == [ln["id"] for ln in inv["lines"]]
    after = qapi.client.get(f"/api/v1/invoices/{inv['id']}", headers=staff(qapi)).json()
    assert after["state"] == "paid" and after["balance_due"] == "0.00"
    r = qapi.client.post(
        "/api/v1/credit-notes",
        headers=staff(qapi),
        json={"invoice_id": inv["id"], "reason": "encore"},
    )
    assert r.status_code == 409 and "credited already" in r.text
    # A credit note is not itself credited, nor paid.
    r = qapi.client.post(
        "/api/v1/credit-notes", headers=staff(qapi), json={"invoice_id": note["id"], "reason": "x"}
    )
    assert r.status_code == 409
    r = qapi.client.post(
        f"/api/v1/invoices/{note['id']}/payments",
        headers=staff(qapi),
        json={"amount": "1", "method": "cheque", "paid_on": "2026-03-05"},
    )
    assert r.status_code == 409


def test_deposit_needs_an_accepted_quote_and_a_sensible_share(qapi: Api) -> None:
    quote = accepted_quote(qapi, copies=1)
    for percent in ("0", "101"):
        r = qapi.client.post(
            "/api/v1/invoices/deposit",
            headers=staff(qapi),
            json={"quote_id": quote["id"], "percent": percent},
        )
        assert r.status_code == 422, percent
    # Not converted yet: nothing to invoice from it.
    r = qapi.client.post(
        "/api/v1/invoices/from-quote", headers=staff(qapi), json={"quote_id": quote["id"]}
    )
    assert r.status_code == 409 and "accepted" in r.text
    assert qapi.client.get("/api/v1/invoices", headers=staff(qapi)).json()["count"] == 0


def test_a_credited_deposit_is_not_deducted(qapi: Api) -> None:
    quote = accepted_quote(qapi, copies=1)
    dep = post(qapi, "/api/v1/invoices/deposit", {"quote_id": quote["id"], "percent": "50"}, 201)
    post(qapi, f"/api/v1/invoices/{dep['id']}/issue", {})
    post(qapi, "/api/v1/credit-notes", {"invoice_id": dep["id"], "reason": "acompte annulé"}, 201)
    succeed(qapi, *convert(qapi, quote["id"]))
    final = post(qapi, "/api/v1/invoices/from-quote", {"quote_id": quote["id"]}, 201)
    assert [ln["kind"] for ln in final["lines"]] == ["item"]
    final = post(qapi, f"/api/v1/invoices/{final['id']}/issue", {})
    assert final["total_ttc"] == quote["totals"]["ttc"]
