"""Quote figures on this machine: pricing speed, devis PDF rendering, concurrent sends.

1. ``price_line`` per job kind: microseconds per line (pure Decimal code).
2. The devis PDF (WeasyPrint): render time and size for 5 and 60 lines, best of 3.
3. 50 quotes sent at once from 50 threads (number allocation under lock): wall time and
   the numbers' continuity, on SQLite (WAL) and on a throw-away PostgreSQL.
Targets: pricing < 1 ms a line; a 5-line devis < 1.5 s; 50 sends < 5 s, numbers 1…50.
"""

from __future__ import annotations

import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402

from fabqueue.auth import create_user  # noqa: E402
from fabqueue.db import make_engine, make_session_factory, session_scope, upgrade  # noqa: E402
from fabqueue.models import Role, User  # noqa: E402
from fabqueue.models.clients import OrganisationIn  # noqa: E402
from fabqueue.models.quote_public import LineIn, QuoteIn  # noqa: E402
from fabqueue.pricing import PriceInput, price_line  # noqa: E402
from fabqueue.profiles import ProfileSet, load_profiles  # noqa: E402
from fabqueue.quotes import lines as quote_lines  # noqa: E402
from fabqueue.quotes import pdf as quote_pdf  # noqa: E402
from fabqueue.quotes import sending as quote_sending  # noqa: E402
from fabqueue.quotes import workflow as quotes  # noqa: E402
from fabqueue.services.clients import create_organisation  # noqa: E402
from jobs.base import Analysis, MachineKind  # noqa: E402
from tests.support import pg  # noqa: E402
from tests.support.quotes import quote_profiles  # noqa: E402

AT = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
SENDERS = 50


def bench_pricing(profiles: ProfileSet) -> list[tuple[str, str]]:
    cases = {
        MachineKind.fdm_printer: (
            Analysis(
                kind="fdm_printer",
                file_type="gcode",
                analyzer="b",
                duration_s=2323,
                material={"filament_g": 12.77},
            ),
            "pla-noir",
            "1.50",
        ),
        MachineKind.vinyl_cutter: (
            Analysis(
                kind="vinyl_cutter",
                file_type="svg",
                analyzer="b",
                duration_s=240,
                material={"vinyl_area_mm2": 5e5, "cut_length_mm": 3840},
                counts={"pieces": 32, "counters": 12},
            ),
            "vinyle-noir",
            "6.00",
        ),
        MachineKind.embroidery: (
            Analysis(
                kind="embroidery",
                file_type="dst",
                analyzer="b",
                duration_s=1698,
                material={"thread_m": 74.6},
                counts={"stitches": 14922, "hoopings": 1},
            ),
            "fil-polyester",
            "4.00",
        ),
    }
    rows = []
    n = 5000
    for kind, (analysis, material, rate) in cases.items():
        inp = PriceInput(analysis, 10, Decimal(rate), profiles.materials[material])
        t0 = time.perf_counter()
        for _ in range(n):
            price_line(inp, profiles.prices)
        us = (time.perf_counter() - t0) / n * 1e6
        rows.append((f"price_line {kind.value}", f"{us:.0f} µs/line"))
    return rows


def _setup(sessions, profiles: ProfileSet, n: int, lines: int = 1) -> tuple[int, list[int]]:  # type: ignore[no-untyped-def]
    with session_scope(sessions) as s:
        staff = create_user(
            session=s, name=f"staff-{uuid.uuid4().hex[:6]}", role=Role.facilitator, at=AT
        )
        org = create_organisation(
            session=s,
            data=OrganisationIn(name="Épicerie du coin", address="1 rue Neuve\n69001 Lyon"),
            profiles=profiles,
            at=AT,
        )
        ids = []
        for i in range(n):
            q = quotes.create_quote(
                session=s,
                user=staff,
                data=QuoteIn(title=f"Devis {i}", organisation_id=org.id),
                profiles=profiles,
                at=AT,
            )
            for k in range(lines):
                quote_lines.add_line(
                    session=s,
                    user=staff,
                    quote_id=q.id or 0,
                    data=LineIn(
                        description=f"Lettrage adhésif, modèle {k + 1}",
                        quantity=Decimal(k % 7 + 1),
                        unit_price_ht=Decimal("12.40"),
                        vat_rate=Decimal("20"),
                    ),
                    profiles=profiles,
                    at=AT,
                )
            ids.append(q.id or 0)
        assert staff.id is not None
        return staff.id, ids


def _send(sessions, profiles: ProfileSet, staff_id: int, quote_id: int) -> str:  # type: ignore[no-untyped-def]
    with session_scope(sessions) as s:
        user = s.get(User, staff_id)
        assert user is not None
        q, _ = quote_sending.send(session=s, user=user, quote_id=quote_id, profiles=profiles, at=AT)
        return q.number or ""


def bench_pdf(url: str, profiles: ProfileSet) -> list[tuple[str, str]]:
    engine = make_engine(url)
    sessions = make_session_factory(engine, None)
    rows = []
    try:
        for lines in (5, 60):
            staff_id, [qid] = _setup(sessions, profiles, 1, lines)
            _send(sessions, profiles, staff_id, qid)
            times, size = [], 0
            for _ in range(3):
                with sessions() as s:
                    from fabqueue.models import Quote

                    quote = s.get(Quote, qid)
                    assert quote is not None
                    t0 = time.perf_counter()
                    size = len(quote_pdf.render_pdf(s, quote, profiles, AT))
                    times.append(time.perf_counter() - t0)
            rows.append(
                (
                    f"devis PDF, {lines} lines",
                    f"{min(times):.2f} s (first render {times[0]:.2f} s), {size // 1024} KiB",
                )
            )
    finally:
        engine.dispose()
    return rows


def bench_sends(url: str, profiles: ProfileSet, name: str) -> tuple[str, str]:
    engine = make_engine(url, pool_size=SENDERS)
    sessions = make_session_factory(engine, None)
    try:
        staff_id, ids = _setup(sessions, profiles, SENDERS)
        barrier = threading.Barrier(SENDERS)

        def one(qid: int) -> str:
            barrier.wait()
            return _send(sessions, profiles, staff_id, qid)

        t0 = time.perf_counter()
        with ThreadPoolExecutor(SENDERS) as pool:
            numbers = list(pool.map(one, ids))
        wall = time.perf_counter() - t0
        seqs = sorted(int(n.rsplit("-", 1)[1]) for n in numbers)
        ok = seqs == list(range(1, SENDERS + 1))
        return (
            f"{SENDERS} concurrent sends, {name}",
            f"{wall:.2f} s, numbers 1…{SENDERS} {'gap-free' if ok else 'BROKEN'}",
        )
    finally:
        engine.dispose()


def main() -> None:
    t0 = time.perf_counter()
    import weasyprint  # noqa: F401

    print(f"(WeasyPrint import: {time.perf_counter() - t0:.2f} s, once per process)")
    with tempfile.TemporaryDirectory() as tmp:
        root = quote_profiles(Path(tmp) / "profiles", "normal")
        profiles = load_profiles(root)
        rows = bench_pricing(profiles)
        sqlite = f"sqlite:///{tmp}/bench.db"
        engine = make_engine(sqlite)
        upgrade(engine)
        engine.dispose()
        rows += bench_pdf(sqlite, profiles)
        rows.append(
            bench_sends(f"sqlite:///{tmp}/sends.db", profiles, "SQLite")
            if _migrated(f"sqlite:///{tmp}/sends.db")
            else ("", "")
        )
        server = pg.start()
        try:
            admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text('CREATE DATABASE "bench"'))
            admin.dispose()
            url = server.database_url("bench")
            _migrated(url)
            rows.append(bench_sends(url, profiles, "PostgreSQL"))
        finally:
            server.stop()
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  result")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


def _migrated(url: str) -> bool:
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return True


if __name__ == "__main__":
    main()
