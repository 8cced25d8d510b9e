"""Invoice figures on this machine.

1. Issuing one invoice: number, Factur-X XML built and checked against the EN 16931
   XSD, chain, commit; then the PDF/A-3 (WeasyPrint) with the XML embedded, archived —
   per invoice, on SQLite (WAL); the first (cold: fonts, XSD) apart, then the median of
   the others; and the write transaction alone (a stub PDF).
2. The FEC of a year of 10,000 invoices (two lines each) and 10,000 payments.
Targets: one invoice < 0.5 s; the FEC of 10,000 invoices < 10 s.

    .venv/bin/python bench/invoices.py [RUNS]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert  # noqa: E402

from fabqueue.db import make_engine, make_session_factory, session_scope, upgrade  # noqa: E402
from fabqueue.invoices import books, issuing  # noqa: E402
from fabqueue.invoices.facturx import Renderer  # noqa: E402
from fabqueue.models import User  # noqa: E402
from fabqueue.models.invoices import Invoice, InvoiceLine, Payment  # noqa: E402
from fabqueue.profiles import load_profiles  # noqa: E402
from fabqueue.storage import FileStore  # noqa: E402
from tests.support.invoices import draft_rows  # noqa: E402
from tests.support.quotes import quote_profiles  # noqa: E402

AT = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
FEC_INVOICES = 10_000


def stub_pdf(*_args: object) -> bytes:
    return b"%PDF-1.7 stub"


def bench_issue(
    folder: Path, runs: int, render: Renderer | None = None, name: str = "issue"
) -> tuple[float, list[float]]:
    profiles = load_profiles(quote_profiles(folder / f"{name}-profiles", "normal"))
    engine = make_engine(f"sqlite:///{folder / f'{name}.db'}")
    upgrade(engine)
    sessions = make_session_factory(engine, None)
    store = FileStore(folder / f"{name}-store")
    staff_id, ids = draft_rows(sessions, runs + 1, AT)
    times = []
    for invoice_id in ids:
        start = time.perf_counter()
        with session_scope(sessions) as s:
            user = s.get(User, staff_id)
            assert user is not None
            issuing.issue(
                session=s,
                user=user,
                invoice_id=invoice_id,
                profiles=profiles,
                store=store,
                at=AT,
                render=render,
            )
        times.append(time.perf_counter() - start)
    engine.dispose()
    return times[0], times[1:]


def _fill(sessions: object, n: int) -> None:
    """``n`` issued invoices over the year, two lines and one payment each (bulk rows:
    the figure is the export's, not the issuing's)."""
    start = date(2026, 1, 1)
    invoices, lines, payments = [], [], []
    for i in range(1, n + 1):
        day = start + timedelta(days=i * 364 // n)
        invoices.append(
            {
                "id": i,
                "kind": "invoice",
                "state": "paid",
                "number": f"FAC-2026-{i:05d}",
                "series": "FAC",
                "year": 2026,
                "seq": i,
                "organisation_id": None,
                "customer_name": f"Client {i % 300}",
                "business": False,
                "title": "Comptoir",
                "notes": "",
                "issue_date": day,
                "service_date": day,
                "due_date": day,
                "vat_regime": "normal",
                "issuer": {},
                "client": {"name": f"Client {i % 300}"},
                "total_ht_cents": 3000,
                "total_vat_cents": 600,
                "total_ttc_cents": 3600,
                "vat_breakdown": [{"rate_bp": 2000, "base_cents": 3000, "vat_cents": 600}],
                "created_by": "bench",
                "created_at": AT,
                "updated_at": AT,
            }
        )
        for position, (key, cents) in enumerate((("fdm_printer", 2000), ("service", 1000)), 1):
            lines.append(
                {
                    "invoice_id": i,
                    "position": position,
                    "kind": "item",
                    "description": "Impression",
                    "quantity_milli": 1000,
                    "unit": "u",
                    "unit_price_cents": cents,
                    "vat_rate_bp": 2000,
                    "account_key": key,
                    "job_ids": [],
                }
            )
        payments.append(
            {
                "invoice_id": i,
                "amount_cents": 3600,
                "method": "carte",
                "paid_on": day,
                "reference": f"TPE {i}",
                "recorded_by": "bench",
                "recorded_at": AT,
            }
        )
    with session_scope(sessions) as s:  # type: ignore[arg-type]
        s.execute(insert(Invoice), invoices)
        s.execute(insert(InvoiceLine), lines)
        s.execute(insert(Payment), payments)
        s.commit()


def bench_fec(folder: Path, runs: int) -> tuple[list[float], int]:
    profiles = load_profiles(quote_profiles(folder / "fec-profiles", "normal"))
    assert profiles.site is not None
    engine = make_engine(f"sqlite:///{folder / 'fec.db'}")
    upgrade(engine)
    sessions = make_session_factory(engine, None)
    _fill(sessions, FEC_INVOICES)
    times, size = [], 0
    for _ in range(runs):
        start = time.perf_counter()
        with sessions() as s:
            text = books.fec_text(s, 2026, profiles.site.accounts)
        times.append(time.perf_counter() - start)
        size = text.count("\r\n") - 1
    engine.dispose()
    return times, size


def spread(values: list[float]) -> str:
    return (
        f"median {statistics.median(values) * 1000:.0f} ms "
        f"(min {min(values) * 1000:.0f}, max {max(values) * 1000:.0f}, n={len(values)})"
    )


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 9
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        cold, warm = bench_issue(folder, runs)
        print(f"issue one invoice (PDF/A-3 + Factur-X): first {cold * 1000:.0f} ms; {spread(warm)}")
        _cold, locked = bench_issue(folder, runs, render=stub_pdf, name="locked")
        print(f"  of which the write transaction (number, XSD check, chain): {spread(locked)}")
        fec_times, rows = bench_fec(folder, max(3, runs // 3))
        print(f"FEC of {FEC_INVOICES} invoices + payments ({rows} rows): {spread(fec_times)}")


if __name__ == "__main__":
    main()
