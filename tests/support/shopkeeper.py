"""Helpers for the shopkeepers' pages: the public request form, a sent quote's link."""

from __future__ import annotations

import asyncio
import re
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi.testclient import TestClient

from fabqueue.db import session_scope
from fabqueue.models.clients import ClientUserIn
from fabqueue.services import clients
from tests.support.quotes import BENCHY, LOGO, SITES, add_design, draft_for, make_client, staff
from tests.support.web import add_person, counter_profiles, csrf_of, idem_of

if TYPE_CHECKING:
    from tests.conftest import Api

REQUEST = "/demande-de-devis"
LA_POSTE_SIRET = "35600000049837"
"""A La Poste establishment: its digits sum to a multiple of 5, its Luhn key fails."""


def form_fields(client: TestClient, path: str = REQUEST) -> dict[str, str]:
    html = client.get(path).text
    return {"csrf": csrf_of(html), "idem": idem_of(html)}


def request_data(**changes: str) -> dict[str, str]:
    data = {
        "organisation": "Boulangerie Céleste",
        "siret": "",
        "contact_name": "Céleste Martin",
        "address": "4 place du Marché\n69003 Lyon",
        "email": "celeste@boulangerie.example",
        "phone": "04 78 12 34 56",
        "wants": "window_lettering",
        "quantity": "2",
        "wanted_on": "",
        "details": "Pour la vitrine de gauche, 80 cm de large.",
        "consent": "1",
    }
    data.update(changes)
    return data


def post_request(
    client: TestClient,
    files: list[tuple[str, bytes]] | None = None,
    *,
    headers: dict[str, str] | None = None,
    **changes: str,
) -> Any:
    data = {**form_fields(client), **request_data(**changes)}
    upload = [("files", (name, content)) for name, content in files or []]
    return client.post(
        REQUEST, data=data, files=upload or None, headers=headers, follow_redirects=False
    )


def sent_quote(api: Api) -> tuple[int, str, int]:
    """A quote for the Boulangerie, priced and sent: (its id, its link's token, the
    organisation's id)."""
    org, _client = make_client(api)
    quote = draft_for(api, org, "Bateaux pour la vitrine")
    assert add_design(api, quote["id"], BENCHY, staff(api), quantity=2).status_code == 201
    r = api.client.post(f"/api/v1/quotes/{quote['id']}/send", headers=staff(api))
    assert r.status_code == 200, r.text
    return quote["id"], r.json()["accept_token"], org


def client_person(api: Api, org_id: int, name: str = "celeste-web") -> int:
    """A client user of ``org_id`` who signs in to the pages with a password."""
    uid = add_person(api.ctx.sessions, name, "client")
    with session_scope(api.ctx.sessions) as session:
        clients.add_user(
            session=session, org_id=org_id, data=ClientUserIn(user_id=uid), at=api.ctx.clock.now()
        )
    return uid


def link_of(html: str) -> str:
    found = re.search(r'<code id="quote-link">[^<]*/devis/([\w-]+)</code>', html)
    assert found, "the quote desk shows the customer's link"
    return found.group(1)


class OffsetClock:
    """Real time, plus a jump the test makes (a quote's validity running out) — for an
    app served in-process whose machines must still run in real time."""

    def __init__(self) -> None:
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def monotonic(self) -> float:
        return time.monotonic() + self.offset.total_seconds()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)

    def jump(self, **delta: float) -> None:
        self.offset += timedelta(**delta)


def shop_profiles(root: Path) -> Path:
    """The counter's café (a fast simulated cutter, a printer) with a site: quotes can be
    sent."""
    counter_profiles(root)
    (root / "site.toml").write_text(textwrap.dedent(SITES["association_exempt"]))
    (root / "logo.svg").write_text(LOGO)
    return root
