"""The invoice pages: a converted quote invoiced in part, issued, paid in two goes,
credited by one line and refunded; counter jobs invoiced; every refusal in French."""

from __future__ import annotations

import hashlib
import re
from decimal import Decimal
from pathlib import Path

from fastapi.testclient import TestClient
from httpx import Response

from tests.conftest import Api
from tests.support.invoices import (
    accepted_quote,
    convert,
    counter_job,
    fec_amount,
    parse_fec,
    pdf_text,
    succeed,
)
from tests.support.web import csrf_of, idem_of, sign_in, text_of


def form(client: TestClient, path: str) -> dict[str, str]:
    html = client.get(path).text
    return {"csrf": csrf_of(html), "idem": idem_of(html)}


def post(client: TestClient, page: str, action: str, data: dict[str, object]) -> Response:
    return client.post(action, data={**form(client, page), **data})


def euros_in(words: str, label: str) -> Decimal:
    """The amount printed after ``label`` (« Reste à payer 12,34 € »)."""
    found = re.search(re.escape(label) + r"\s*([\d\u202f\u00a0 ]+,\d\d)\s*€", words)
    assert found, (label, words[:2000])
    return Decimal(re.sub(r"[\s\u202f\u00a0]", "", found[1]).replace(",", "."))


def invoice_id_of(r: Response) -> int:
    found = re.search(r"/invoices/(\d+)$", str(r.url))
    assert found, r.url
    return int(found[1])


def test_a_quote_is_invoiced_in_part_paid_twice_credited_by_a_line_and_refunded(
    qapi: Api, desk: TestClient, tmp_path: Path
) -> None:
    q = accepted_quote(qapi, copies=2)
    jobs = convert(qapi, q["id"])
    succeed(qapi, jobs[0])

    listing = text_of(desk.get("/invoices/new").text)
    assert q["number"] in listing and "Bateaux" in listing
    choose = f"/invoices/new/quote/{q['id']}"
    html = desk.get(choose).text
    assert "1 exemplaire(s) sur 2 fait(s) et non facturé(s)" in text_of(html)
    line_ids = re.findall(r'name="line" value="(\d+)"', html)
    assert len(line_ids) == 1

    # Nothing ticked: refused in French, nothing drafted.
    r = post(desk, choose, "/invoices/from-quote", {"quote_id": q["id"]})
    assert r.status_code == 422 and "Cochez au moins une ligne" in text_of(r.text)
    assert "Aucune facture" in text_of(desk.get("/invoices").text)

    r = post(desk, choose, "/invoices/from-quote", {"quote_id": q["id"], "line": line_ids})
    assert r.status_code == 200, text_of(r.text)[:500]
    page = f"/invoices/{invoice_id_of(r)}"
    words = text_of(r.text)
    assert "Brouillon de facture" in words and "brouillon" in words

    issued = post(desk, page, f"{page}/do/issue", {})
    words = text_of(issued.text)
    number = re.search(r"FAC-2026-\d{4}", words)
    assert number and "émise" in words, words[:800]
    ttc = euros_in(words, "Total TTC")
    assert euros_in(words, "Reste à payer") == ttc
    assert "n'est pas une caisse certifiée" in words

    first = (ttc / 3).quantize(Decimal("0.01"))
    # More than due: refused, in French, nothing recorded.
    r = post(
        desk,
        page,
        f"{page}/payments",
        {"amount": "99999", "method": "cheque", "paid_on": "2026-03-02"},
    )
    assert r.status_code == 409 and "plus que les" in text_of(r.text)
    r = post(
        desk,
        page,
        f"{page}/payments",
        {"amount": "douze", "method": "cheque", "paid_on": "2026-03-02"},
    )
    assert r.status_code == 422 and "Écrivez le montant en euros" in text_of(r.text)

    r = post(
        desk,
        page,
        f"{page}/payments",
        {
            "amount": f"{first:.2f}".replace(".", ","),
            "method": "cheque",
            "paid_on": "2026-03-02",
            "reference": "CHQ 0042",
        },
    )
    words = text_of(r.text)
    assert "partiellement réglée" in words and "CHQ 0042" in words
    assert euros_in(words, "Reste à payer") == ttc - first
    rest = f"{ttc - first:.2f}".replace(".", ",")
    r = post(
        desk,
        page,
        f"{page}/payments",
        {"amount": rest, "method": "virement", "paid_on": "2026-03-02"},
    )
    words = text_of(r.text)
    assert "réglée" in words and euros_in(words, "Reste à payer") == Decimal("0.00")
    assert 'action="' + page + '/payments"' not in r.text  # nothing left to pay

    # Credit one line: the credit note's page, a refund to make.
    html = r.text
    credit_lines = re.findall(r'name="line" value="(\d+)"', html)
    assert credit_lines
    r = post(desk, page, f"{page}/credit", {"line": credit_lines[0], "reason": ""})
    assert r.status_code == 422 and "motif" in text_of(r.text)
    r = post(desk, page, f"{page}/credit", {"line": credit_lines[0], "reason": "Pièce défectueuse"})
    words = text_of(r.text)
    assert re.search(r"AV-2026-\d{4}", words) and number[0] in words
    note = f"/invoices/{invoice_id_of(r)}"
    owed = euros_in(words, "À rembourser au client")
    assert owed > 0
    # The credited line is no longer offered on the invoice.
    again = desk.get(page).text
    assert f'name="line" value="{credit_lines[0]}"' not in again
    r = post(
        desk,
        note,
        f"{note}/refund",
        {"amount": "9999", "method": "virement", "paid_on": "2026-03-03"},
    )
    assert r.status_code == 409 and "ce que le café doit rembourser" in text_of(r.text)
    r = post(
        desk,
        note,
        f"{note}/refund",
        {"amount": f"{owed:.2f}".replace(".", ","), "method": "virement", "paid_on": "2026-03-03"},
    )
    words = text_of(r.text)
    assert euros_in(words, "À rembourser au client") == Decimal("0.00")
    assert euros_in(text_of(desk.get(page).text), "Reste à payer") == Decimal("0.00")

    # The PDF is the archived one, byte for byte.
    inv = qapi.client.get(f"/api/v1/invoices/{invoice_id_of(issued)}", headers=_staff(qapi)).json()
    pdf = desk.get(f"{page}/pdf")
    assert pdf.status_code == 200 and hashlib.sha256(pdf.content).hexdigest() == inv["pdf_sha256"]
    assert number[0] in pdf_text(pdf.content, tmp_path)

    # The payments CSV and the FEC show the refund going out, and the FEC balances.
    csv = desk.get("/books/reglements.csv", params={"start": "2026-01-01", "end": "2026-12-31"})
    assert csv.status_code == 200 and "attachment" in csv.headers["content-disposition"]
    rows = [ln.split(";") for ln in csv.text.strip().splitlines()[1:]]
    assert [r[-1] for r in rows] == [f"{first:.2f}", f"{ttc - first:.2f}", f"{-owed:.2f}"]
    fec = desk.get("/books/fec", params={"year": "2026"})
    assert fec.status_code == 200 and "FEC20261231" in fec.headers["content-disposition"]
    entries = parse_fec(fec.content.decode("iso-8859-15"))
    refund = [e for e in entries if e["EcritureLib"].startswith("Remboursement")]
    assert len(refund) == 2
    assert sum(fec_amount(e["Credit"]) for e in refund) == owed
    assert sum(fec_amount(e["Debit"]) for e in entries) == sum(
        fec_amount(e["Credit"]) for e in entries
    )


def _staff(api: Api) -> dict[str, str]:
    from tests.support.quotes import staff

    return staff(api)


def test_counter_jobs_are_invoiced_with_a_named_customer(qapi: Api, desk: TestClient) -> None:
    job = counter_job(qapi)
    html = desk.get("/invoices/new").text
    assert f'name="job" value="{job}"' in html
    r = post(desk, "/invoices/new", "/invoices/counter", {"job": str(job)})
    assert r.status_code == 422 and "Une facture nomme son client" in text_of(r.text)
    r = post(desk, "/invoices/new", "/invoices/counter", {"job": str(job), "discount": "cent"})
    assert r.status_code == 422 and "remise en pourcentage" in text_of(r.text)
    r = post(
        desk,
        "/invoices/new",
        "/invoices/counter",
        {
            "job": str(job),
            "customer_name": "Mme Durand",
            "till_reference": "T-881",
            "discount": "10",
        },
    )
    words = text_of(r.text)
    assert "Mme Durand" in words and "Remise de 10 %" in words and "T-881" in words
    page = f"/invoices/{invoice_id_of(r)}"
    # The job is held by the draft: not offered again; cancelling the draft frees it.
    assert f'name="job" value="{job}"' not in desk.get("/invoices/new").text
    r = post(desk, page, f"{page}/do/cancel", {})
    assert "annulé" in text_of(r.text)
    assert f'name="job" value="{job}"' in desk.get("/invoices/new").text


def test_the_list_filters_by_state_client_and_overdue(
    qapi: Api, desk: TestClient, clock: object
) -> None:
    q = accepted_quote(qapi, copies=1)
    jobs = convert(qapi, q["id"])
    succeed(qapi, *jobs)
    choose = f"/invoices/new/quote/{q['id']}"
    html = desk.get(choose).text
    lines = re.findall(r'name="line" value="(\d+)"', html)
    r = post(desk, choose, "/invoices/from-quote", {"quote_id": q["id"], "line": lines})
    page = f"/invoices/{invoice_id_of(r)}"
    post(desk, page, f"{page}/do/issue", {})
    job = counter_job(qapi)
    post(desk, "/invoices/new", "/invoices/counter", {"job": str(job), "customer_name": "M. Petit"})

    everything = text_of(desk.get("/invoices").text)
    assert "Factures (2)" in everything
    drafts = text_of(desk.get("/invoices", params={"state": "draft"}).text)
    assert "Factures (1)" in drafts and "M. Petit" in drafts
    org = re.search(r'<option value="(\d+)">Boulangerie', desk.get("/invoices").text)
    assert org
    theirs = text_of(desk.get("/invoices", params={"client": org[1]}).text)
    assert "Factures (1)" in theirs and "FAC-2026-0001" in theirs
    assert "Factures (0)" in text_of(desk.get("/invoices", params={"overdue": "1"}).text)
    clock.advance(days=40)  # type: ignore[attr-defined]
    late = text_of(desk.get("/invoices", params={"overdue": "1"}).text)
    assert "Factures (1)" in late and "en retard" in late


def test_a_member_gets_the_403_page_and_changes_nothing(qapi: Api, desk: TestClient) -> None:
    member = TestClient(qapi.client.app)
    sign_in(member, "momo")
    for path in (
        "/invoices",
        "/invoices/new",
        "/invoices/1",
        "/invoices/new/quote/1",
        "/books",
        "/books/fec?year=2026",
        "/reports/activity",
        "/reports/activity/download?format=csv",
    ):
        r = member.get(path)
        assert r.status_code == 403, path
        assert "Page réservée à l'équipe" in text_of(r.text) or "Pas pour votre compte" in text_of(
            r.text
        )
    csrf = csrf_of(member.get("/").text)
    job = counter_job(qapi)
    r = member.post("/invoices/counter", data={"csrf": csrf, "job": str(job), "customer_name": "X"})
    assert r.status_code == 403
    assert "Aucune facture" in text_of(desk.get("/invoices").text)


def test_a_post_without_its_csrf_token_is_refused(qapi: Api, desk: TestClient) -> None:
    job = counter_job(qapi)
    r = desk.post("/invoices/counter", data={"job": str(job), "customer_name": "X"})
    assert r.status_code == 403 and "Formulaire expiré" in text_of(r.text)
    assert "Aucune facture" in text_of(desk.get("/invoices").text)


def test_a_double_tap_makes_one_draft(qapi: Api, desk: TestClient) -> None:
    job = counter_job(qapi)
    data = {**form(desk, "/invoices/new"), "job": str(job), "customer_name": "Mme Roux"}
    first = desk.post("/invoices/counter", data=data)
    second = desk.post("/invoices/counter", data=data)
    assert first.status_code == second.status_code == 200
    assert str(first.url) == str(second.url)
    assert "Factures (1)" in text_of(desk.get("/invoices").text)


def test_exports_page_and_its_refusals(qapi: Api, desk: TestClient) -> None:
    words = text_of(desk.get("/books").text)
    assert "FEC" in words and "fabqueue books verify" in words
    r = desk.get("/books/fec", params={"year": "deux mille"})
    assert r.status_code == 422 and "Indiquez l'année" in text_of(r.text)
    r = desk.get("/books/ventes.csv", params={"start": "2026-03-31", "end": "2026-01-01"})
    assert r.status_code == 422 and "La période finit avant de commencer" in text_of(r.text)
    r = desk.get("/books/ventes.csv", params={"start": "2026-01-01", "end": "2026-12-31"})
    assert r.status_code == 200 and r.text.startswith("numero;type;date")
    assert desk.get("/books/autre.csv").status_code == 404


def test_members_machine_time_is_invoiced_when_prices_charge_it(
    qapi: Api, desk: TestClient, tmp_path: Path
) -> None:
    from fabqueue.db import session_scope
    from fabqueue.models import Job
    from fabqueue.profiles import load_profiles
    from tests.support.factories import make_user

    lea, _token = make_user(qapi.ctx.sessions, "lea", "member")
    # Lea's own job (made on a machine she is authorised for; the authorisation rules
    # are not what this test is about).
    job_id = counter_job(qapi, copies=2)
    with session_scope(qapi.ctx.sessions) as s:
        job = s.get(Job, job_id)
        assert job is not None
        job.owner_id = lea
        s.add(job)
        s.commit()
    # Free by default: nothing offered.
    assert "Temps machine des adhérents" not in text_of(desk.get("/invoices/new").text)
    root = tmp_path / "qprofiles"
    with (root / "prices.toml").open("a") as fh:
        fh.write('\n[members]\nhourly_rate = "4.00"\ntime_increment_min = 15\n')
    qapi.ctx.profiles = load_profiles(root)
    words = text_of(desk.get("/invoices/new").text)
    assert "Temps machine des adhérents" in words and "lea · 1 travail(x) non facturé(s)" in words
    r = post(desk, "/invoices/new", "/invoices/member-time", {"member_id": str(lea)})
    words = text_of(r.text)
    # 2 copies × 2 323 s = 77,4 min: six started quarter hours at 1,00 € HT each.
    assert "90 min" in words and "lea" in words, words[:1500]
    page = f"/invoices/{invoice_id_of(r)}"
    words = text_of(post(desk, page, f"{page}/do/issue", {}).text)
    assert euros_in(words, "Total HT") == Decimal("6.00")
    assert "Temps machine des adhérents" not in text_of(desk.get("/invoices/new").text)


def test_members_bookings_are_invoiced_when_prices_charge_them(
    qapi: Api, desk: TestClient, tmp_path: Path
) -> None:
    from tests.support.booking_invoices import book, charge
    from tests.support.factories import make_user

    lea, _token = make_user(qapi.ctx.sessions, "lea", "member")
    noe, _token = make_user(qapi.ctx.sessions, "noe", "member")
    book(qapi, lea)  # Tuesday 24 February, 14:00–16:00 in Paris
    # Free by default: nothing offered.
    assert "Réservations des adhérents" not in text_of(desk.get("/invoices/new").text)
    charge(qapi, tmp_path / "qprofiles", 'booking_hourly_rate = "3.00"')
    words = text_of(desk.get("/invoices/new").text)
    assert "Réservations des adhérents" in words
    assert "lea · 1 réservation(s) non facturée(s)" in words and "noe ·" not in words
    # Without its CSRF token, nothing is drafted.
    r = desk.post("/invoices/member-bookings", data={"member_id": str(lea)})
    assert r.status_code == 403 and "Formulaire expiré" in text_of(r.text)
    # A member with nothing to invoice: the reason, in French, and the form again.
    r = post(desk, "/invoices/new", "/invoices/member-bookings", {"member_id": str(noe)})
    words = text_of(r.text)
    assert r.status_code == 409
    assert "Cet adhérent n'a aucune réservation terminée à facturer." in words
    assert "Réservations des adhérents" in words
    data = {**form(desk, "/invoices/new"), "member_id": str(lea)}
    r = desk.post("/invoices/member-bookings", data=data)
    again = desk.post("/invoices/member-bookings", data=data)  # a double tap: one draft
    assert str(r.url) == str(again.url)
    words = text_of(r.text)
    assert "Réservation — Test printer, 24 février 2026, 14:00–16:00 : 120 min facturées" in words
    page = f"/invoices/{invoice_id_of(r)}"
    words = text_of(post(desk, page, f"{page}/do/issue", {}).text)
    assert euros_in(words, "Total HT") == Decimal("6.00")
    assert "Réservations des adhérents" not in text_of(desk.get("/invoices/new").text)
