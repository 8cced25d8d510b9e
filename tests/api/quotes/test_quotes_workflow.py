"""The quote workflow through the API: a shopkeeper's request, the draft priced from the
designs' analyses, the numbered devis, « bon pour accord », and the jobs it becomes."""

from __future__ import annotations

from decimal import Decimal as D
from typing import Any

from sqlmodel import select

from jobs.base import Analysis, MachineKind
from jobs.registry import ANALYZERS, AnalyzerSpec
from tests.conftest import Api
from tests.support.quotes import (
    BENCHY,
    SetClock,
    add_design,
    admin,
    draft_for,
    free_line,
    make_client,
    staff,
)


def get(api: Api, quote_id: int, headers: dict[str, str]) -> dict[str, Any]:
    r = api.client.get(f"/api/v1/quotes/{quote_id}", headers=headers)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def post(api: Api, path: str, headers: dict[str, str] | None = None, **body: Any) -> Any:
    return api.client.post(f"/api/v1/quotes{path}", headers=headers or {}, json=body)


def test_request_to_jobs(qapi: Api) -> None:
    org, client = make_client(qapi)
    # The shopkeeper asks: three small boats for the shop window.
    r = post(
        qapi,
        "",
        client,
        title="Bateaux pour la vitrine",
        request_notes="Trois bateaux noirs, pour samedi si possible",
    )
    assert r.status_code == 201, r.text
    q = r.json()
    assert (q["state"], q["organisation_id"], q["number"]) == ("requested", org, None)
    r = add_design(qapi, q["id"], BENCHY, client, quantity=3)
    assert r.status_code == 201, r.text
    [line] = r.json()["lines"]
    # Analysed at once, but the client sees no price before the quote is sent.
    assert line["file_name"] == BENCHY.name and line["machine_kind"] == "fdm_printer"
    assert line["unit_price_ht"] is None and r.json()["totals"] is None
    assert line["analysis"] is None  # staff only

    # Staff take it: the design is priced from its analysis (see test_engine's "benchy
    # x3": 2 + 3 × 1.125 + 3 × 0.309034 = 6.302102 → 2.20 each).
    r = post(qapi, f"/{q['id']}/draft", staff(qapi))
    assert r.status_code == 200, r.text
    [line] = r.json()["lines"]
    assert (line["quantity"], line["unit_price_ht"], line["total_ht"]) == ("3", "2.20", "6.60")
    assert line["price_source"] == "auto" and not line["needs_estimate"]
    assert {c["code"] for c in line["price_detail"]} >= {"setup", "machine", "material"}
    assert line["analysis"]["duration_s"] == 2323
    r = free_line(qapi, q["id"], "Préparation du fichier", "1.5", "35.00", unit="h")
    assert r.status_code == 201, r.text

    r = post(qapi, f"/{q['id']}/send", staff(qapi))
    assert r.status_code == 200, r.text
    sent = r.json()
    assert sent["number"] == "DEV-2026-0001" and sent["state"] == "sent"
    assert sent["valid_until"] == "2026-04-01"  # 2 March + 30 days
    # 6.60 + 1.5 h × 35.00 = 59.10 HT; VAT 20 % = 11.82; TTC 70.92.
    assert sent["totals"] == {
        "ht": "59.10",
        "vat": [{"rate": "20", "base_ht": "59.10", "vat": "11.82"}],
        "ttc": "70.92",
        "vat_mention": "",
    }
    assert sent["accept_path"] == f"/api/v1/quotes/link/{sent['accept_token']}"
    assert len(sent["accept_token"]) >= 40

    # The client now sees the prices, through its account and through the link.
    assert get(qapi, q["id"], client)["totals"]["ttc"] == "70.92"
    seen = qapi.client.get(sent["accept_path"]).json()
    assert seen["number"] == "DEV-2026-0001" and seen["lines"][0]["price_detail"] is None

    r = post(qapi, f"/link/{sent['accept_token']}/accept", signer_name="Céleste Martin", agree=True)
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "accepted" and r.json()["acceptance_via"] == "link"
    assert r.json()["accepted_by_name"] == "Céleste Martin"

    r = post(qapi, f"/{q['id']}/convert", staff(qapi))
    assert r.status_code == 200, r.text
    done = r.json()
    assert done["state"] == "converted" and len(done["job_ids"]) == 3
    jobs = qapi.client.get(f"/api/v1/quotes/{q['id']}/jobs", headers=client).json()
    assert [j["state"] for j in jobs["data"]] == ["queued"] * 3
    assert [j["title"] for j in jobs["data"]] == [
        f"DEV-2026-0001 · Pièce imprimée en 3D 60 × 31 × 48 mm, PLA noir ({i}/3)" for i in (1, 2, 3)
    ]
    assert {j["material"] for j in jobs["data"]} == {"pla-noir"}
    assert all(j["analysis"]["duration_s"] == 2323 for j in jobs["data"])
    # The jobs are the client's: it follows them like its own.
    assert {j["owner_id"] for j in jobs["data"]} == {
        qapi.client.get("/api/v1/users/me", headers=client).json()["id"]
    }
    by_org = qapi.client.get(f"/api/v1/clients/{org}/jobs", headers=client).json()
    assert by_org["count"] == 3
    job_events = qapi.client.get(
        f"/api/v1/jobs/{done['job_ids'][1]}/events", headers=staff(qapi)
    ).json()
    assert [(e["from_state"], e["to_state"]) for e in job_events] == [
        (None, "held"),
        ("held", "queued"),
    ]

    events = qapi.client.get(f"/api/v1/quotes/{q['id']}/events", headers=staff(qapi)).json()
    assert [e["action"] for e in events] == [
        "created",
        "design_added",
        "drafted",
        "line_added",
        "sent",
        "pdf_archived",
        "accepted",
        "converted",
    ]
    assert events[6]["actor"] == "link"
    assert events[1]["actor"].startswith("user:")


def test_convert_and_hold_for_material(qapi: Api) -> None:
    org, client = make_client(qapi)
    q = draft_for(qapi, org)
    add_design(qapi, q["id"], BENCHY, staff(qapi), quantity=2, material="petg-bleu")
    post(qapi, f"/{q['id']}/send", staff(qapi))
    r = post(qapi, f"/{q['id']}/accept", client, signer_name="C. Martin", agree=True)
    assert r.json()["acceptance_via"] == "account"
    r = post(qapi, f"/{q['id']}/convert", staff(qapi), hold=True)
    assert r.status_code == 200, r.text
    jobs = qapi.client.get(f"/api/v1/quotes/{q['id']}/jobs", headers=staff(qapi)).json()
    assert [(j["state"], j["material"]) for j in jobs["data"]] == [("held", "petg-bleu")] * 2
    # Converting twice makes no more jobs.
    r = post(qapi, f"/{q['id']}/convert", staff(qapi))
    assert r.status_code == 409
    assert qapi.client.get("/api/v1/jobs", headers=staff(qapi)).json()["count"] == 2


def test_client_discount_and_group_apply_to_auto_prices(qapi: Api) -> None:
    """The discount is a line of its own: the design at its list price, then what the
    client's group saves on it."""
    org, client = make_client(qapi, price_group="commerce")
    q = draft_for(qapi, org)
    r = add_design(qapi, q["id"], BENCHY, staff(qapi), quantity=10)
    # List price 16.34034 / 10 = 1.634 → 1.70; discounted 16.34034 × 0.9 = 14.706306;
    # / 10 = 1.4706 → 1.50: the group saves 10 × 0.20 = 2.00.
    design, discount = r.json()["lines"]
    assert design["unit_price_ht"] == "1.70" and design["total_ht"] == "17.00"
    assert any(
        c["code"] == "adjustment" and "Commerces" in c["label"] for c in design["price_detail"]
    )
    assert (discount["kind"], discount["position"], discount["total_ht"]) == (
        "discount",
        2,
        "-2.00",
    )
    assert discount["description"] == "Tarif Commerces du quartier : remise de 10 %"
    assert r.json()["totals"]["ht"] == "15.00"
    # A line added later comes before the discount, which stays last.
    assert free_line(qapi, q["id"], "Pose", "1", "10.00").status_code == 201
    lines = get(qapi, q["id"], staff(qapi))["lines"]
    assert [(ln["position"], ln["kind"]) for ln in lines] == [
        (1, "design"),
        (2, "free"),
        (3, "discount"),
    ]
    # The client's own adjustment replaces its group's: −20 % → 13.072272 → 1.40.
    body = {
        "name": "Boulangerie Céleste",
        "address": "x",
        "price_group": "commerce",
        "adjustment_percent": "-20",
    }
    assert qapi.client.put(f"/api/v1/clients/{org}", headers=admin(qapi), json=body).is_success
    r = post(qapi, f"/{q['id']}/reprice", staff(qapi))
    design, _, discount = r.json()["lines"]
    assert (design["unit_price_ht"], discount["total_ht"]) == ("1.70", "-3.00")
    assert discount["description"] == "Remise client de 20 %"
    # It is remade from the designs' prices, never edited by hand.
    path = f"/api/v1/quotes/{q['id']}/lines/{discount['id']}"
    edit = qapi.client.patch(path, headers=staff(qapi), json={"unit_price_ht": "0.00"})
    assert edit.status_code == 422 and "client's adjustment" in edit.json()["detail"]
    assert qapi.client.delete(path, headers=staff(qapi)).status_code == 422
    assert r.json()["totals"]["ht"] == "24.00"
    # The client sees the discount on the sent quote.
    assert post(qapi, f"/{q['id']}/send", staff(qapi)).status_code == 200
    seen = get(qapi, q["id"], client)
    assert [ln["total_ht"] for ln in seen["lines"]] == ["17.00", "10.00", "-3.00"]


def _size_only_svg(monkeypatch: Any) -> None:
    from jobs import sizeonly

    monkeypatch.setitem(
        ANALYZERS,
        "svg",
        AnalyzerSpec(MachineKind.vinyl_cutter, sizeonly.for_kind(MachineKind.vinyl_cutter)),
    )


LOGO_SVG = (
    '<svg xmlns="http://www.w3.org/2000/svg" width="200mm" height="100mm">'
    '<rect x="10" y="10" width="100" height="50"/></svg>'
)


def test_a_line_the_analysis_cannot_price_needs_staff(
    qapi: Api, tmp_path: Any, monkeypatch: Any
) -> None:
    _size_only_svg(monkeypatch)
    org, _ = make_client(qapi)
    q = draft_for(qapi, org, "Lettrage vitrine")
    svg = tmp_path / "vitrine.svg"
    svg.write_text(LOGO_SVG)
    [line] = add_design(qapi, q["id"], svg, staff(qapi)).json()["lines"]
    assert line["needs_estimate"] is True
    assert any("durée machine" in m for m in line["missing"])
    assert line["unit_price_ht"] == "8.00"  # only the setup fee, lifted to the minimum
    r = post(qapi, f"/{q['id']}/send", staff(qapi))
    assert r.status_code == 409 and r.json()["lines"] == [1]
    assert get(qapi, q["id"], staff(qapi))["state"] == "draft"
    r = qapi.client.patch(
        f"/api/v1/quotes/{q['id']}/lines/{line['id']}",
        headers=staff(qapi),
        json={"unit_price_ht": "45.00", "description": "Lettrage vitrine"},
    )
    assert r.status_code == 200, r.text
    [line] = r.json()["lines"]
    assert (line["unit_price_ht"], line["price_source"], line["needs_estimate"]) == (
        "45.00",
        "manual",
        False,
    )
    assert post(qapi, f"/{q['id']}/send", staff(qapi)).status_code == 200


def test_vinyl_is_priced_from_the_analyzers_quantities(
    qapi: Api, tmp_path: Any, monkeypatch: Any
) -> None:
    """Whatever analyzer fills the Quantity keys, the quote reads them."""

    def analyze(path: Any, params: Any = None) -> Analysis:
        return Analysis(
            kind=MachineKind.vinyl_cutter,
            file_type="svg",
            analyzer="fixed",
            duration_s=240,
            material={"vinyl_area_mm2": 500_000, "cut_length_mm": 3840},
            counts={"pieces": 32, "counters": 12},
        )

    monkeypatch.setitem(ANALYZERS, "svg", AnalyzerSpec(MachineKind.vinyl_cutter, analyze))
    org, _ = make_client(qapi)
    q = draft_for(qapi, org, "Lettrage vitrine")
    svg = tmp_path / "vitrine.svg"
    svg.write_text(LOGO_SVG)
    [line] = add_design(qapi, q["id"], svg, staff(qapi)).json()["lines"]
    # test_engine's "window lettering": 23.193333 → 23.20.
    assert (line["unit_price_ht"], line["needs_estimate"]) == ("23.20", False)
    assert line["material"] == "vinyle-noir"


def test_a_sent_quote_is_never_edited_a_change_makes_a_version(qapi: Api, clock: SetClock) -> None:
    org, _client = make_client(qapi)
    q = draft_for(qapi, org)
    free_line(qapi, q["id"], "Support imprimé", "2", "12.00")
    first = post(qapi, f"/{q['id']}/send", staff(qapi)).json()
    line_id = first["lines"][0]["id"]
    before = get(qapi, q["id"], staff(qapi))
    refusals = [
        qapi.client.patch(f"/api/v1/quotes/{q['id']}", headers=staff(qapi), json={"title": "x"}),
        qapi.client.patch(
            f"/api/v1/quotes/{q['id']}/lines/{line_id}",
            headers=staff(qapi),
            json={"unit_price_ht": "1.00"},
        ),
        qapi.client.delete(f"/api/v1/quotes/{q['id']}/lines/{line_id}", headers=staff(qapi)),
        free_line(qapi, q["id"], "Extra", "1", "1.00"),
        post(qapi, f"/{q['id']}/cancel", staff(qapi)),
        post(qapi, f"/{q['id']}/send", staff(qapi)),
    ]
    assert [r.status_code for r in refusals] == [409] * 6
    assert "new version" in refusals[0].json()["detail"]
    assert get(qapi, q["id"], staff(qapi)) == before

    clock.advance(days=2)
    r = post(qapi, f"/{q['id']}/revise", staff(qapi))
    assert r.status_code == 201, r.text
    v2 = r.json()
    assert (v2["state"], v2["version"], v2["previous_number"]) == ("draft", 2, "DEV-2026-0001")
    assert post(qapi, f"/{q['id']}/revise", staff(qapi)).status_code == 409  # one at a time
    qapi.client.patch(
        f"/api/v1/quotes/{v2['id']}/lines/{v2['lines'][0]['id']}",
        headers=staff(qapi),
        json={"unit_price_ht": "10.00"},
    )
    sent2 = post(qapi, f"/{v2['id']}/send", staff(qapi)).json()
    assert sent2["number"] == "DEV-2026-0002"
    assert sent2["totals"]["ht"] == "20.00"
    old = get(qapi, q["id"], staff(qapi))
    assert old["state"] == "superseded" and old["totals"]["ht"] == "24.00"
    # The old link cannot accept the replaced version.
    r = post(qapi, f"/link/{first['accept_token']}/accept", signer_name="C", agree=True)
    assert r.status_code == 409 and "newer version" in r.json()["detail"]
    r = post(qapi, f"/link/{sent2['accept_token']}/accept", signer_name="C", agree=True)
    assert r.status_code == 200


def test_expiry(qapi: Api, clock: SetClock) -> None:
    org, client = make_client(qapi)
    q = draft_for(qapi, org)
    qapi.client.patch(f"/api/v1/quotes/{q['id']}", headers=staff(qapi), json={"validity_days": 15})
    free_line(qapi, q["id"], "Plaque", "1", "30.00")
    clock.at = clock.at.replace(hour=22)  # 23:30 in Paris, 2 March
    sent = post(qapi, f"/{q['id']}/send", staff(qapi)).json()
    assert sent["valid_until"] == "2026-03-17"
    clock.advance(days=14, hours=1)  # 17 March, 00:30 in Paris: the last day
    assert get(qapi, q["id"], client)["state"] == "sent"
    clock.advance(hours=23)  # 17 March, 23:30 in Paris
    assert get(qapi, q["id"], client)["state"] == "sent"
    clock.advance(hours=1)  # 18 March, 00:30 in Paris
    assert get(qapi, q["id"], client)["state"] == "expired"
    r = post(qapi, f"/{q['id']}/accept", client, signer_name="C. Martin", agree=True)
    assert r.status_code == 409 and "expired on 17/03/2026" in r.json()["detail"]
    r = post(qapi, f"/link/{sent['accept_token']}/refuse", reason="trop tard")
    assert r.status_code == 409
    events = qapi.client.get(f"/api/v1/quotes/{q['id']}/events", headers=staff(qapi)).json()
    # Nothing changed since sending (and archiving the PDF as sent).
    assert [e["action"] for e in events][-2:] == ["sent", "pdf_archived"]
    # A new version can be sent after expiry.
    assert post(qapi, f"/{q['id']}/revise", staff(qapi)).status_code == 201


def test_refusal_by_the_client(qapi: Api) -> None:
    org, client = make_client(qapi)
    q = draft_for(qapi, org)
    free_line(qapi, q["id"], "Plaque", "1", "30.00")
    post(qapi, f"/{q['id']}/send", staff(qapi))
    r = post(qapi, f"/{q['id']}/refuse", client, reason="Trop cher")
    assert r.status_code == 200
    assert (r.json()["state"], r.json()["refusal_reason"]) == ("refused", "Trop cher")
    assert post(qapi, f"/{q['id']}/accept", client, signer_name="C", agree=True).status_code == 409


def test_client_request_can_be_cancelled_by_its_client_only_before_staff_take_it(
    qapi: Api,
) -> None:
    _org, client = make_client(qapi)
    q = post(qapi, "", client, title="Tee-shirts brodés").json()
    add_design(qapi, q["id"], BENCHY, client)
    assert post(qapi, f"/{q['id']}/cancel", client, reason="erreur").json()["state"] == "cancelled"
    q2 = post(qapi, "", client, title="Tee-shirts brodés").json()
    post(qapi, f"/{q2['id']}/draft", staff(qapi))
    r = post(qapi, f"/{q2['id']}/cancel", client)
    assert r.status_code == 409 and "already working" in r.json()["detail"]
    # Clients cannot price their own quote.
    r = free_line(qapi, q2["id"], "Remise", "1", "0.00")
    assert r.status_code == 201  # staff can
    r = qapi.client.post(
        f"/api/v1/quotes/{q2['id']}/lines",
        headers=client,
        json={"description": "x", "quantity": "1", "unit_price_ht": "0"},
    )
    assert r.status_code == 403


def test_a_quote_row_holds_cents_and_frozen_identity(qapi: Api) -> None:
    org, _ = make_client(qapi)
    q = draft_for(qapi, org)
    free_line(qapi, q["id"], "Plaque gravée", "3", "12.35")
    post(qapi, f"/{q['id']}/send", staff(qapi))
    from fabqueue.models import Quote, QuoteLine

    with qapi.ctx.read_sessions() as s:
        quote = s.get(Quote, q["id"])
        [line] = s.exec(select(QuoteLine).where(QuoteLine.quote_id == q["id"])).all()
    assert (line.unit_price_cents, line.quantity_milli, line.vat_rate_bp) == (1235, 3000, 2000)
    assert (quote.total_ht_cents, quote.total_vat_cents, quote.total_ttc_cents) == (3705, 741, 4446)
    assert quote.issuer["siret"] == "81234567600017"
    assert quote.client["address"] == ["4 place du Marché", "13001 Marseille"]
    assert D(line.unit_price_cents) / 100 == D("12.35")


def test_cli_expires_and_prints(
    qapi: Api, clock: SetClock, tmp_path: Any, monkeypatch: Any, capsys: Any
) -> None:
    """The CLI runs on the real clock: one quote sent 40 days ago, one sent now."""
    from datetime import UTC, datetime, timedelta

    from fabqueue.cli import main

    org, _ = make_client(qapi)
    old, new = draft_for(qapi, org), draft_for(qapi, org)
    for q in (old, new):
        free_line(qapi, q["id"], "Plaque", "1", "30.00")
    clock.at = datetime.now(UTC) - timedelta(days=40)
    old_number = post(qapi, f"/{old['id']}/send", staff(qapi)).json()["number"]
    clock.at = datetime.now(UTC)
    post(qapi, f"/{new['id']}/send", staff(qapi))
    s = qapi.ctx.settings
    for name, value in (
        ("DB_URL", s.db_url),
        ("PROFILES_DIR", str(s.profiles_dir)),
        ("DATA_DIR", str(s.data_dir)),
    ):
        monkeypatch.setenv(f"FABQUEUE_{name}", value)
    assert main(["quotes", "expire"]) == 0
    assert f"1 quote(s) expired: {old_number}" in capsys.readouterr().out
    assert main(["quotes", "expire"]) == 0
    assert "0 quote(s) expired" in capsys.readouterr().out
    events = qapi.client.get(f"/api/v1/quotes/{old['id']}/events", headers=staff(qapi)).json()
    assert (events[-1]["action"], events[-1]["actor"]) == ("expired", "system")
    assert get(qapi, new["id"], staff(qapi))["state"] == "sent"
    out = tmp_path / "devis.pdf"
    assert main(["quotes", "pdf", str(new["id"]), "-o", str(out)]) == 0
    assert out.read_bytes().startswith(b"%PDF-")
