"""Helpers of the invoice tests: a converted quote whose jobs succeed, PDFs read back,
the FEC parsed."""

from __future__ import annotations

import subprocess
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fabqueue.db import session_scope
from fabqueue.states import JobState, transition
from tests.support.quotes import BENCHY, add_design, free_line, make_client, staff

if TYPE_CHECKING:
    from tests.conftest import Api


def accepted_quote(
    api: Api,
    copies: int = 2,
    extra: tuple[tuple[str, str, str], ...] = (),
    client_user: str = "celeste",
) -> dict[str, Any]:
    """A quote for ``copies`` benchies (plus free lines ``(description, qty, price)``),
    sent and accepted; returns the quote as sent."""
    _org, client = make_client(api, user=client_user)
    q = api.client.post("/api/v1/quotes", headers=client, json={"title": "Bateaux"}).json()
    r = add_design(api, q["id"], BENCHY, client, quantity=copies)
    assert r.status_code == 201, r.text
    assert api.client.post(f"/api/v1/quotes/{q['id']}/draft", headers=staff(api)).status_code == 200
    for description, quantity, price in extra:
        r = free_line(api, q["id"], description, quantity, price)
        assert r.status_code == 201, r.text
    sent = api.client.post(f"/api/v1/quotes/{q['id']}/send", headers=staff(api))
    assert sent.status_code == 200, sent.text
    r = api.client.post(
        f"/api/v1/quotes/{q['id']}/accept",
        headers=client,
        json={"signer_name": "Céleste Martin", "agree": True},
    )
    assert r.status_code == 200, r.text
    result: dict[str, Any] = sent.json()
    return result


def convert(api: Api, quote_id: int) -> list[int]:
    r = api.client.post(f"/api/v1/quotes/{quote_id}/convert", headers=staff(api), json={})
    assert r.status_code == 200, r.text
    return list(r.json()["job_ids"])


def succeed(api: Api, *job_ids: int) -> None:
    """Run the jobs to success through their guarded moves (the dispatcher is off in
    these tests; the quote e2e test runs real ones on a simulated printer)."""
    at = api.ctx.clock.now()
    steps = [
        (JobState.starting, JobState.queued),
        (JobState.running, JobState.starting),
        (JobState.succeeded, JobState.running),
    ]
    with session_scope(api.ctx.sessions) as s:
        for job_id in job_ids:
            for to, frm in steps:
                transition(s, job_id, to, expected=[frm], actor="test", at=at)


def pdf_text(pdf: bytes, tmp_path: Path, name: str = "facture.pdf") -> str:
    assert pdf.startswith(b"%PDF-")
    path = tmp_path / name
    path.write_bytes(pdf)
    out = subprocess.run(
        ["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True
    )
    return " ".join(out.stdout.split())


def euros(text: str) -> Decimal:
    """« 1 234,56 € » -> Decimal('1234.56')."""
    return Decimal(
        text.replace("\u202f", "")
        .replace("\xa0", "")
        .replace(" ", "")
        .replace("€", "")
        .replace(",", ".")
    )


def parse_fec(text: str) -> list[dict[str, str]]:
    rows = text.split("\r\n")
    assert rows[-1] == ""
    header = rows[0].split("\t")
    assert len(header) == 18
    out = []
    for row in rows[1:-1]:
        cells = row.split("\t")
        assert len(cells) == 18, row
        out.append(dict(zip(header, cells, strict=True)))
    return out


def fec_amount(cell: str) -> Decimal:
    return Decimal(cell.replace(",", ".")) if cell else Decimal(0)


def draft_rows(sessions: Any, n: int, at: Any) -> tuple[int, list[int]]:
    """A staff user and ``n`` draft invoices of one line each for an organisation,
    written as rows (how drafts are made is tested elsewhere); returns (user id, ids)."""
    from fabqueue.auth import create_user
    from fabqueue.models import Organisation, Role
    from fabqueue.models.invoices import Invoice, InvoiceKind, InvoiceLine, InvoiceLineKind
    from fabqueue.models.invoices import InvoiceState as S

    with session_scope(sessions) as s:
        staff_user = create_user(session=s, name="staff", role=Role.facilitator, at=at)
        org = Organisation(
            name="Épicerie Lumière",
            address="1 rue Neuve\n69001 Lyon",
            contact_name="M. Lumière",
            siret="81234567600017",
            created_at=at,
            updated_at=at,
        )
        s.add(org)
        s.flush()
        ids = []
        for i in range(n):
            inv = Invoice(
                kind=InvoiceKind.invoice,
                state=S.draft,
                series="",
                organisation_id=org.id,
                title=f"Plaques {i}",
                created_by="test",
                created_at=at,
                updated_at=at,
            )
            s.add(inv)
            s.flush()
            assert inv.id is not None
            s.add(
                InvoiceLine(
                    invoice_id=inv.id,
                    position=1,
                    kind=InvoiceLineKind.item,
                    description="Plaque gravée",
                    quantity_milli=1000 * (i % 3 + 1),
                    unit_price_cents=1250,
                    vat_rate_bp=2000,
                )
            )
            ids.append(inv.id)
        s.commit()
        assert staff_user.id is not None
        return staff_user.id, ids


def counter_job(api: Api, copies: int = 1) -> int:
    """A walk-in customer's benchy, submitted at the counter (no quote), made."""
    with BENCHY.open("rb") as fh:
        r = api.client.post(
            "/api/v1/jobs",
            headers=staff(api),
            data={"kind": "fdm_printer", "copies": str(copies), "material": "pla-noir"},
            files={"file": (BENCHY.name, fh)},
        )
    assert r.status_code == 201, r.text
    job_id = int(r.json()["id"])
    succeed(api, job_id)
    return job_id
