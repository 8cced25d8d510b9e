"""The report pages: each report for a period and a scope, its charts with their tables,
French numbers, the downloads, and the refusals of a bad period."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.support.invoices import accepted_quote, convert, succeed
from tests.support.quotes import staff
from tests.support.web import text_of


def _invoice_and_pay(api: Api) -> None:
    q = accepted_quote(api, copies=1)
    jobs = convert(api, q["id"])
    succeed(api, *jobs)
    h = staff(api)
    inv = api.client.post("/api/v1/invoices/from-quote", headers=h, json={"quote_id": q["id"]})
    issued = api.client.post(f"/api/v1/invoices/{inv.json()['id']}/issue", headers=h).json()
    r = api.client.post(
        f"/api/v1/invoices/{issued['id']}/payments",
        headers=h,
        json={"amount": issued["total_ttc"], "method": "carte", "paid_on": "2026-03-02"},
    )
    assert r.status_code == 201, r.text


def test_each_report_page_shows_charts_tables_and_downloads(qapi: Api, desk: TestClient) -> None:
    _invoice_and_pay(qapi)
    r = desk.get("/reports")
    assert r.status_code == 200 and str(r.url).endswith("/reports/activity")
    html = desk.get("/reports/activity", params={"year": "2026", "scope": "cafe"}).text
    words = text_of(html)
    assert "Activité — 2026" in words and "Du 1 janvier 2026 au 31 décembre 2026" in words
    assert "Facturé et encaissé" in words and "Travaux par mois" in words
    # Each chart is an accessible SVG with a unique id, and a table follows it.
    ids = re.findall(r'<title id="([^"]+)"', html)
    assert ids and len(ids) == len(set(ids))
    assert html.count('role="img"') == html.count("<figure") > 0
    total = re.search(r'<tr class="total"><th scope="row">Total</th>(.*?)</tr>', html)
    assert total
    cells = re.findall(r">([^<]*)</td>", total[1])
    ttc = qapi.client.get("/api/v1/invoices", headers=staff(qapi)).json()["data"][0]["total_ttc"]
    assert cells[1] == ttc.replace(".", ",")  # invoiced TTC, French decimal comma
    assert cells[7] == cells[1]  # paid TTC: paid in full
    for fmt, media in (
        ("csv", "text/csv"),
        ("ods", "application/vnd.oasis.opendocument.spreadsheet"),
        ("pdf", "application/pdf"),
    ):
        assert f"/reports/activity/download?format={fmt}&amp;year=2026&amp;scope=cafe" in html
        got = desk.get("/reports/activity/download", params={"format": fmt, "year": "2026"})
        assert got.status_code == 200 and got.headers["content-type"].startswith(media)
        assert 'filename="bilan-2026.' in got.headers["content-disposition"]
    for kind, heading in (
        ("material", "Matière utilisée et gaspillée"),
        ("energy", "Énergie"),
        ("accuracy", "Temps réel / temps estimé"),
    ):
        page = text_of(desk.get(f"/reports/{kind}", params={"year": "2026", "quarter": "1"}).text)
        assert heading in page and "2026-T1" in page, kind
    assert "Une estimation" in text_of(desk.get("/reports/energy").text)
    month = text_of(desk.get("/reports/activity", params={"year": "2026", "month": "3"}).text)
    assert "Activité — 2026-03" in month
    custom = desk.get("/reports/activity", params={"start": "2026-02-01", "end": "2026-03-31"})
    assert "Du 1 février 2026 au 31 mars 2026" in text_of(custom.text)
    network = text_of(desk.get("/reports/activity", params={"scope": "network"}).text)
    assert "tout le réseau" in network


def test_a_bad_period_is_refused_in_french(qapi: Api, desk: TestClient) -> None:
    cases = {
        ("2026-03-31", "2026-01-01"): "La période finit avant de commencer",
        ("2020-01-01", "2026-01-01"): "Un bilan couvre au plus trois ans",
        ("2026-01-01", ""): "Une période libre a besoin",
        ("hier", "2026-01-01"): "sous forme de dates",
    }
    for (start, end), words in cases.items():
        r = desk.get("/reports/activity", params={"start": start, "end": end})
        assert r.status_code == 422 and words in text_of(r.text), (start, end)
    r = desk.get("/reports/activity", params={"year": "2026", "quarter": "1", "month": "2"})
    assert r.status_code == 422 and "pas les deux" in text_of(r.text)
    r = desk.get("/reports/activity", params={"year": "deux"})
    assert r.status_code == 422 and "n'est pas un nombre" in text_of(r.text)


def test_the_pages_speak_english_too(qapi: Api, desk: TestClient) -> None:
    from tests.support.web import csrf_of

    csrf = csrf_of(desk.get("/invoices").text)
    desk.post("/language", data={"csrf": csrf, "lang": "en", "next": "/invoices"})
    assert "Make an invoice" in text_of(desk.get("/invoices").text)
    assert "Exports for the accountant" in text_of(desk.get("/books").text)
    assert "Energy (estimate)" in text_of(desk.get("/reports/energy").text)
