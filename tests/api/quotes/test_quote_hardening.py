"""Issue 11's quote findings, each as it was found: versions accepted twice, VAT from a
regime no longer in force, links for expired quotes, a paper copy signed in time but
received late, and designations and wording on the devis."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from fabqueue.models import MachineRecord
from fabqueue.profiles import load_profiles
from tests.conftest import Api
from tests.support.quotes import (
    BENCHY,
    SetClock,
    add_design,
    draft_for,
    free_line,
    make_client,
    quote_profiles,
    staff,
)


def post(api: Api, path: str, headers: dict[str, str] | None = None, **body: Any) -> Any:
    return api.client.post(f"/api/v1/quotes{path}", headers=headers or {}, json=body)


def get(api: Api, quote_id: int) -> dict[str, Any]:
    r = api.client.get(f"/api/v1/quotes/{quote_id}", headers=staff(api))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def sent_quote(api: Api, org: int, price: str = "30.00") -> dict[str, Any]:
    q = draft_for(api, org, "Enseigne")
    assert free_line(api, q["id"], "Lettrage vitrine", "1", price).status_code == 201
    r = post(api, f"/{q['id']}/send", staff(api))
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def actions(api: Api, quote_id: int) -> list[tuple[str, str | None]]:
    r = api.client.get(f"/api/v1/quotes/{quote_id}/events", headers=staff(api))
    return [(e["action"], e["to_state"]) for e in r.json()]


# --- versions ------------------------------------------------------------------------


def test_accepting_a_version_closes_its_revision_which_can_no_longer_be_sent(
    qapi: Api,
) -> None:
    """send A → revise to B → the client accepts A → B could still be sent and accepted,
    and both converted: the order made twice."""
    org, client = make_client(qapi)
    a = sent_quote(qapi, org)
    r = post(qapi, f"/{a['id']}/revise", staff(qapi))
    assert r.status_code == 201, r.text
    b = r.json()
    assert free_line(qapi, b["id"], "Pose", "1", "20.00").status_code == 201

    r = post(qapi, f"/link/{a['accept_token']}/accept", signer_name="C. Martin", agree=True)
    assert r.status_code == 200 and r.json()["state"] == "accepted"
    assert get(qapi, b["id"])["state"] == "cancelled"
    assert actions(qapi, b["id"])[-1] == ("closed", "cancelled")

    r = post(qapi, f"/{b['id']}/send", staff(qapi))
    assert r.status_code == 409, r.text
    assert get(qapi, b["id"])["number"] is None  # no number spent on it
    r = post(qapi, f"/{b['id']}/accept", client, signer_name="C. Martin", agree=True)
    assert r.status_code == 409
    r = post(qapi, f"/{a['id']}/convert", staff(qapi), hold=True)
    assert r.status_code == 200 and r.json()["state"] == "converted"
    r = post(qapi, f"/{b['id']}/convert", staff(qapi), hold=True)
    assert r.status_code == 409


def test_a_late_paper_acceptance_of_a_version_supersedes_the_sent_revision(
    qapi: Api, clock: SetClock
) -> None:
    """A expires, B replaces it and is sent; then A's paper copy, signed in time, arrives:
    A is accepted and B, still waiting, is closed (never both accepted)."""
    org, _ = make_client(qapi)
    a = sent_quote(qapi, org)  # 2 March, valid until 1 April
    clock.advance(days=35)
    b = post(qapi, f"/{a['id']}/revise", staff(qapi)).json()
    assert free_line(qapi, b["id"], "Pose", "1", "20.00").status_code == 201
    sent_b = post(qapi, f"/{b['id']}/send", staff(qapi)).json()
    assert sent_b["state"] == "sent"

    r = post(
        qapi,
        f"/{a['id']}/paper-acceptance",
        staff(qapi),
        signer_name="Céleste Martin",
        signed_on="2026-03-30",
    )
    assert r.status_code == 200, r.text
    assert r.json()["state"] == "accepted" and r.json()["signed_on"] == "2026-03-30"
    assert get(qapi, b["id"])["state"] == "superseded"
    r = post(qapi, f"/link/{sent_b['accept_token']}/accept", signer_name="C", agree=True)
    assert r.status_code == 409


# --- VAT regime at sending -------------------------------------------------------------


@pytest.mark.parametrize("regime", ["association_exempt"])
def test_a_draft_made_without_vat_is_sent_with_the_vat_of_the_regime_in_force(
    qapi: Api, tmp_path: Path
) -> None:
    org, _ = make_client(qapi)
    q = draft_for(qapi, org)
    assert free_line(qapi, q["id"], "Lettrage", "2", "50.00").status_code == 201
    assert get(qapi, q["id"])["lines"][0]["vat_rate"] == "0"
    # The café becomes VAT-registered before the draft is sent.
    qapi.ctx.profiles = load_profiles(quote_profiles(tmp_path / "normal", "normal"))
    r = post(qapi, f"/{q['id']}/send", staff(qapi))
    assert r.status_code == 200, r.text
    sent = r.json()
    assert sent["vat_regime"] == "normal"
    assert sent["lines"][0]["vat_rate"] == "20"
    assert sent["totals"]["vat"] == [{"rate": "20", "base_ht": "100.00", "vat": "20.00"}]
    assert sent["totals"]["ttc"] == "120.00"
    detail = qapi.client.get(f"/api/v1/quotes/{q['id']}/events", headers=staff(qapi)).json()
    sent_event = next(e for e in reversed(detail) if e["action"] == "sent")
    assert sent_event["detail"]["vat_rates_changed"] == [1]


@pytest.mark.parametrize("regime", ["normal"])
def test_a_send_whose_chosen_rate_the_cafe_no_longer_uses_is_refused(
    qapi: Api, tmp_path: Path
) -> None:
    org, _ = make_client(qapi)
    q = draft_for(qapi, org)
    assert free_line(qapi, q["id"], "Livret", "1", "4.00", vat="5.5").status_code == 201
    root = quote_profiles(tmp_path / "fewer-rates", "normal")
    with (root / "site.toml").open("a") as fh:
        fh.write('vat_rates = ["20", "10"]\n')
    qapi.ctx.profiles = load_profiles(root)
    r = post(qapi, f"/{q['id']}/send", staff(qapi))
    assert r.status_code == 409 and "line(s) 1" in r.json()["detail"]
    after = get(qapi, q["id"])
    assert (after["state"], after["number"], after["lines"][0]["vat_rate"]) == (
        "draft",
        None,
        "5.5",
    )


@pytest.mark.parametrize("regime", ["normal"])
def test_lines_priced_under_vat_lose_it_when_sent_under_the_franchise(
    qapi: Api, tmp_path: Path
) -> None:
    org, _ = make_client(qapi)
    q = draft_for(qapi, org)
    assert free_line(qapi, q["id"], "Livret", "1", "4.00", vat="5.5").status_code == 201
    qapi.ctx.profiles = load_profiles(quote_profiles(tmp_path / "fr", "franchise_293B"))
    sent = post(qapi, f"/{q['id']}/send", staff(qapi)).json()
    assert sent["lines"][0]["vat_rate"] == "0"
    assert sent["totals"]["vat_mention"] == "TVA non applicable, art. 293 B du CGI"


# --- money limits ----------------------------------------------------------------------


def test_a_line_above_the_maximum_is_refused_with_a_message(qapi: Api) -> None:
    org, _ = make_client(qapi)
    q = draft_for(qapi, org)
    r = free_line(qapi, q["id"], "Fresque", "100000", "1000000.00")
    assert r.status_code == 422
    assert "may not exceed 1,000,000 € HT" in r.json()["detail"]
    assert get(qapi, q["id"])["lines"] == []
    assert free_line(qapi, q["id"], "Fresque", "1", "999999.99").status_code == 201
    line = get(qapi, q["id"])["lines"][0]
    r = qapi.client.patch(
        f"/api/v1/quotes/{q['id']}/lines/{line['id']}", headers=staff(qapi), json={"quantity": "2"}
    )
    assert r.status_code == 422
    assert get(qapi, q["id"])["lines"][0]["quantity"] == "1"


# --- links and late paper acceptance ------------------------------------------------------


def test_no_new_link_for_an_expired_quote(qapi: Api, clock: SetClock) -> None:
    org, _ = make_client(qapi)
    q = sent_quote(qapi, org)
    assert post(qapi, f"/{q['id']}/link", staff(qapi)).status_code == 200
    clock.advance(days=31)  # 2 April: valid until 1 April
    r = post(qapi, f"/{q['id']}/link", staff(qapi))
    assert r.status_code == 409 and "expired" in r.json()["detail"]
    assert actions(qapi, q["id"]).count(("new_link", None)) == 1


def test_a_paper_copy_signed_in_time_and_received_late_is_recorded(
    qapi: Api, clock: SetClock
) -> None:
    org, client = make_client(qapi)
    q = sent_quote(qapi, org)
    clock.advance(days=40)
    r = post(qapi, f"/{q['id']}/accept", staff(qapi), signer_name="C. Martin", agree=True)
    assert r.status_code == 409  # an ordinary acceptance comes too late
    body = {"signer_name": "Céleste Martin", "signed_on": "2026-04-01"}
    r = post(qapi, f"/{q['id']}/paper-acceptance", client, **body)
    assert r.status_code == 403  # staff only
    r = post(
        qapi, f"/{q['id']}/paper-acceptance", staff(qapi), **{**body, "signed_on": "2026-04-02"}
    )
    assert r.status_code == 409 and "after the quote's validity" in r.json()["detail"]
    r = post(qapi, f"/{q['id']}/paper-acceptance", staff(qapi), **body)
    assert r.status_code == 200, r.text
    done = r.json()
    assert (done["state"], done["acceptance_via"], done["accepted_by_name"]) == (
        "accepted",
        "staff",
        "Céleste Martin",
    )
    assert done["signed_on"] == "2026-04-01"
    [event] = [
        e
        for e in qapi.client.get(f"/api/v1/quotes/{q['id']}/events", headers=staff(qapi)).json()
        if e["to_state"] == "accepted"
    ]
    assert event["actor"] == f"user:{qapi.user_ids['staff']}"
    assert event["from_state"] == "sent"
    assert event["detail"]["signed_on"] == "2026-04-01" and event["detail"]["late"] is True
    r = post(qapi, f"/{q['id']}/convert", staff(qapi), hold=True)
    assert r.status_code == 200 and r.json()["state"] == "converted"


def test_a_paper_signature_date_must_be_possible(qapi: Api) -> None:
    org, _ = make_client(qapi)
    q = sent_quote(qapi, org)
    for day in ("2026-03-01", "2026-03-03"):  # before it was sent; tomorrow
        r = post(qapi, f"/{q['id']}/paper-acceptance", staff(qapi), signer_name="C", signed_on=day)
        assert r.status_code == 422, day
    assert get(qapi, q["id"])["state"] == "sent"


# --- conversion --------------------------------------------------------------------------


def test_a_quote_no_machine_can_make_any_more_stays_accepted_without_jobs(qapi: Api) -> None:
    """The jobs are made from the analysis the design got when it was added; if the
    machines changed since (here the printer no longer takes PLA), nothing is made."""
    org, _ = make_client(qapi)
    q = draft_for(qapi, org)
    assert add_design(qapi, q["id"], BENCHY, staff(qapi), quantity=2).status_code == 201
    sent = post(qapi, f"/{q['id']}/send", staff(qapi)).json()
    r = post(qapi, f"/link/{sent['accept_token']}/accept", signer_name="C", agree=True)
    assert r.status_code == 200
    with qapi.ctx.sessions() as session:
        for record in session.exec(select(MachineRecord)).all():
            record.spec = {**record.spec, "materials": ["petg-bleu"]}
            session.add(record)
        session.commit()
    r = post(qapi, f"/{q['id']}/convert", staff(qapi))
    assert r.status_code == 409 and "no machine here can make line 1" in r.json()["detail"]
    after = get(qapi, q["id"])
    assert (after["state"], after["job_ids"]) == ("accepted", [])
    assert qapi.client.get("/api/v1/jobs", headers=staff(qapi)).json()["count"] == 0
