"""Bookings: free-range queries and concurrent booking attempts.

1. Free-range query (the availability service, in-process, SQLite in WAL): 10 machines,
   5,000 existing bookings over 4 weeks; one query = one machine over 4 weeks, for a
   member (reasons and all). p50/p99 over 300 queries; also all 10 machines in a row.
   Target: p99 < 50 ms.
2. 200 booking attempts from 20 concurrent clients against the real service (``fabqueue
   serve`` on loopback), a third of them for slots someone else takes first: attempts/s,
   p50/p99, and how many were accepted and refused.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import tempfile
import textwrap
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fabqueue.db import make_engine, make_session_factory, session_scope, upgrade  # noqa: E402
from fabqueue.models import Booking, User  # noqa: E402
from fabqueue.profiles import load_profiles  # noqa: E402
from fabqueue.services import bookings, trainings  # noqa: E402
from fabqueue.services.availability import machine_availability  # noqa: E402
from fabqueue.services.machines import register_local  # noqa: E402
from tests.support.factories import make_user, sim_printer, write_profiles  # noqa: E402
from tests.support.service import Service  # noqa: E402

MACHINES = 10
BOOKINGS = 5000
QUERIES = 300
ATTEMPTS = 200
CLIENTS = 20
NOW = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)

SITE = """
schema_version = 1
name = "Bench"
legal_form = "Association loi 1901"
address = ["1 rue du Banc", "69003 Lyon"]
siret = "81234567600017"
vat_regime = "association_exempt"
[booking]
slot_minutes = 30
min_minutes = 30
max_minutes = 240
days_ahead = 60
max_hours_per_week = 500
last_minute_minutes = 0
[booking.hours]
monday = ["09:00-12:30", "13:30-22:00"]
tuesday = ["09:00-12:30", "13:30-22:00"]
wednesday = ["09:00-12:30", "13:30-22:00"]
thursday = ["09:00-12:30", "13:30-22:00"]
friday = ["09:00-12:30", "13:30-22:00"]
saturday = ["09:00-22:00"]
sunday = ["09:00-22:00"]
"""


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def setup(root: Path) -> tuple[Path, str]:
    slugs = [f"m{i}" for i in range(MACHINES)]
    profiles = write_profiles(root / "profiles", {s: sim_printer() for s in slugs})
    (profiles / "site.toml").write_text(textwrap.dedent(SITE))
    url = f"sqlite:///{root}/fabqueue.db"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return profiles, url


def fill(url: str, profiles_dir: Path) -> tuple[list[int], int]:
    """5,000 half-hour-grid bookings, 500 per machine, spread over 4 weeks, 50 members."""
    engine = make_engine(url)
    sessions = make_session_factory(engine, None)
    profiles = load_profiles(profiles_dir)
    with session_scope(sessions) as s:
        register_local(session=s, profiles=profiles, node="bench", at=NOW)
    staff, _ = make_user(sessions, "anim", "facilitator")
    members = [make_user(sessions, f"m{i}", "member")[0] for i in range(50)]
    per_machine = BOOKINGS // MACHINES
    step = timedelta(days=28) / per_machine
    with session_scope(sessions) as s:
        rows = []
        for m in range(MACHINES):
            for k in range(per_machine):
                start = NOW + step * k
                start -= timedelta(minutes=start.minute % 30, seconds=start.second)
                rows.append(
                    Booking(
                        machine=f"m{m}",
                        member_id=members[(m * per_machine + k) % 50],
                        starts_at=start,
                        ends_at=start + timedelta(minutes=30),
                        created_at=NOW,
                        created_by=staff,
                    )
                )
        s.add_all(rows)
    with sessions() as s:
        by = s.get(User, staff)
        assert by is not None
        for uid in members:
            trainings.grant(s, member_id=uid, machine="fdm_printer", by=by, at=NOW)
    engine.dispose()
    return members, staff


def free_range_queries(url: str, profiles_dir: Path, member_id: int) -> tuple[list[float], float]:
    engine = make_engine(url)
    sessions = make_session_factory(engine, None, readonly=True)
    profiles = load_profiles(profiles_dir)
    lat: list[float] = []
    with sessions() as s:
        viewer = s.get(User, member_id)
        assert viewer is not None
        for i in range(QUERIES):
            slug = f"m{i % MACHINES}"
            cal = bookings.calendar_for(profiles, slug)
            t0 = time.perf_counter()
            segs = machine_availability(s, cal, slug, viewer, NOW, NOW + timedelta(days=28), NOW)
            lat.append(time.perf_counter() - t0)
            assert segs
        t0 = time.perf_counter()
        for m in range(MACHINES):
            slug = f"m{m}"
            cal = bookings.calendar_for(profiles, slug)
            machine_availability(s, cal, slug, viewer, NOW, NOW + timedelta(days=28), NOW)
        all_ten = time.perf_counter() - t0
    engine.dispose()
    return lat, all_ten


async def attempts(url: str, tokens: list[str]) -> tuple[float, list[float], dict[int, int]]:
    """Attempt i asks for a half hour a week from now (the service runs on the real
    clock) on machine i % 10; every third attempt asks for the previous one's slot with
    another member, and is refused."""
    lat: list[float] = []
    codes: dict[int, int] = {}
    soon = datetime.now(UTC) + timedelta(days=7)
    base = soon.replace(hour=14, minute=0, second=0, microsecond=0)
    plans = []
    for i in range(ATTEMPTS):
        k = i - 1 if i % 3 == 2 else i
        start = base + timedelta(days=k // 20, minutes=30 * (k // 10 % 2))
        plans.append((f"m{k % MACHINES}", start, tokens[i % len(tokens)]))
    queue = iter(plans)
    async with httpx.AsyncClient(base_url=f"{url}/api/v1", timeout=30) as client:

        async def worker() -> None:
            for machine, start, token in queue:
                t0 = time.perf_counter()
                r = await client.post(
                    "/bookings",
                    headers={"Authorization": f"Bearer {token}"},
                    json={
                        "machine": machine,
                        "starts_at": start.isoformat(),
                        "ends_at": (start + timedelta(minutes=30)).isoformat(),
                    },
                )
                lat.append(time.perf_counter() - t0)
                codes[r.status_code] = codes.get(r.status_code, 0) + 1

        t0 = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CLIENTS)))
        elapsed = time.perf_counter() - t0
    return elapsed, lat, codes


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="fabqueue-bench-") as tmp:
        root = Path(tmp)
        profiles, url = setup(root)
        members, _ = fill(url, profiles)
        lat, all_ten = free_range_queries(url, profiles, members[0])
        engine = make_engine(url)
        sessions = make_session_factory(engine, None)
        from fabqueue.auth import issue_token

        tokens = []
        with session_scope(sessions) as s:
            for uid in members[:CLIENTS]:
                user = s.get(User, uid)
                assert user is not None
                tokens.append(issue_token(session=s, user=user, label="bench", at=NOW))
        engine.dispose()
        svc = Service(
            {
                "FABQUEUE_DB_URL": url,
                "FABQUEUE_DATA_DIR": str(root / "data"),
                "FABQUEUE_PROFILES_DIR": str(profiles),
                "FABQUEUE_NODE": "bench",
            },
            root / "service.log",
        )
        svc.start()
        try:
            elapsed, blat, codes = asyncio.run(attempts(svc.url, tokens))
        finally:
            svc.stop()
    print(f"free ranges: {MACHINES} machines, {BOOKINGS} bookings, 4 weeks per query")
    print(f"{'metric':<34}{'value':>10}{'target':>10}")
    print(f"{'query p50 (ms)':<34}{statistics.median(lat) * 1000:>10.1f}")
    print(f"{'query p99 (ms)':<34}{pct(lat, 99) * 1000:>10.1f}{'< 50':>10}")
    print(f"{'all 10 machines (ms)':<34}{all_ten * 1000:>10.1f}")
    print(f"booking attempts: {ATTEMPTS} from {CLIENTS} clients in {elapsed:.2f} s; {codes}")
    print(f"{'attempts/s':<34}{ATTEMPTS / elapsed:>10.0f}")
    print(f"{'attempt p50 (ms)':<34}{statistics.median(blat) * 1000:>10.1f}")
    print(f"{'attempt p99 (ms)':<34}{pct(blat, 99) * 1000:>10.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
