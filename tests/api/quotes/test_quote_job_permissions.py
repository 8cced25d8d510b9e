"""Jobs made from a client's quote belong to the client, but what staff decided about
them (held for material) only staff undo (issue 11, docs/permissions.md)."""

from __future__ import annotations

from typing import Any

from tests.conftest import Api
from tests.support.quotes import BENCHY, add_design, make_client, staff


def quote(api: Api, path: str, headers: dict[str, str], **body: Any) -> Any:
    r = api.client.post(f"/api/v1/quotes{path}", headers=headers, json=body)
    assert r.status_code < 300, r.text
    return r.json()


def test_a_client_cannot_move_the_jobs_staff_held(qapi: Api) -> None:
    _, client = make_client(qapi)
    q = quote(qapi, "", client, title="Bateaux")
    assert add_design(qapi, q["id"], BENCHY, client, quantity=2).status_code == 201
    quote(qapi, f"/{q['id']}/draft", staff(qapi))
    quote(qapi, f"/{q['id']}/send", staff(qapi))
    quote(qapi, f"/{q['id']}/accept", client, signer_name="C. Martin", agree=True)
    done = quote(qapi, f"/{q['id']}/convert", staff(qapi), hold=True)
    me = qapi.client.get("/api/v1/users/me", headers=client).json()
    for job_id in done["job_ids"]:
        job = qapi.client.get(f"/api/v1/jobs/{job_id}", headers=client).json()
        assert (job["owner_id"], job["state"]) == (me["id"], "held")
        events = qapi.client.get(f"/api/v1/jobs/{job_id}/events", headers=client).json()
        assert events[-1]["actor"] == f"user:{qapi.user_ids['staff']}"
        # Refused; those that make no sense for a held job, whoever asks, say so first.
        expected = {"release": 403, "cancel": 403, "hold": 409, "requeue": 409, "pause": 409}
        for action, status in expected.items():
            r = qapi.client.post(f"/api/v1/jobs/{job_id}/{action}", headers=client)
            assert r.status_code == status, (action, r.text)
        after = qapi.client.get(f"/api/v1/jobs/{job_id}/events", headers=client).json()
        assert after == events
    r = qapi.client.post(f"/api/v1/jobs/{done['job_ids'][0]}/release", headers=staff(qapi))
    assert r.status_code == 200 and r.json()["state"] == "queued"
    r = qapi.client.post(f"/api/v1/jobs/{done['job_ids'][0]}/cancel", headers=client)
    assert r.status_code == 403 and "ask the café" in r.json()["detail"]
