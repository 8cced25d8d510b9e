"""Each sent quote's PDF is archived as sent (file store + sha256 in an event) and the
archived bytes are what is served afterwards, not a new print."""

from __future__ import annotations

import hashlib

from sqlmodel import col, select

from fabqueue.models import QuoteEvent, StoredFile
from tests.conftest import Api
from tests.support.quotes import BENCHY, add_design, make_client, staff


def test_the_sent_pdf_is_archived_and_served_as_sent(qapi: Api) -> None:
    _org, client = make_client(qapi)
    q = qapi.client.post("/api/v1/quotes", headers=client, json={"title": "Bateaux"}).json()
    assert add_design(qapi, q["id"], BENCHY, client).status_code == 201
    assert (
        qapi.client.post(f"/api/v1/quotes/{q['id']}/draft", headers=staff(qapi)).status_code == 200
    )
    sent = qapi.client.post(f"/api/v1/quotes/{q['id']}/send", headers=staff(qapi))
    assert sent.status_code == 200, sent.text
    with qapi.ctx.read_sessions() as s:
        events = s.exec(
            select(QuoteEvent)
            .where(QuoteEvent.quote_id == q["id"])
            .where(QuoteEvent.action == "pdf_archived")
            .order_by(col(QuoteEvent.id))
        ).all()
        assert len(events) == 1 and events[0].actor.startswith("user:")
        sha = events[0].detail["pdf_sha256"]
        assert s.get(StoredFile, sha) is not None
    first = qapi.client.get(f"/api/v1/quotes/{q['id']}/pdf", headers=staff(qapi)).content
    assert hashlib.sha256(first).hexdigest() == sha
    # The archive, not a new print: change the stored file's bytes on disk (as a test
    # only can) and the answer follows them.
    path = qapi.ctx.store.fetch(sha)
    altered = first.replace(b"%%EOF", b"%%EOF\n% archived")
    path.chmod(0o644)
    path.write_bytes(altered)
    again = qapi.client.get(f"/api/v1/quotes/{q['id']}/pdf", headers=client).content
    assert again == altered
