"""The yearly activity report over a large year: 50,000 jobs (and their ~110,000 events),
5,000 bookings, 500 quotes, on SQLite (file, WAL) and PostgreSQL (a throw-away local
cluster, as the tests make). Target: the report in < 2 s on each.

Times, RUNS times each, median and spread: ``service.build`` for the year (every query
and every aggregation: wall clock, this process's CPU and, on PostgreSQL, the database
server's), then the real things people open, through the app (``TestClient``, signed
in): the staff page ``/reports/activity?year=…`` (this café's machines: the report,
its tables, its SVG charts and the page around them) and the API's JSON
``/api/v1/reports/activity?year=…`` (the whole network). Then, once each, the ODS and
the PDF exports.

The runs are added up by the database (``reports/rows.py``: GROUP BY machine, kind,
material, result and month) from the plain ``run_*`` figure columns of migration 0015,
with 0012's indexes and 0015's ``job_event(job_id, to_state, at)`` for the machine of
each « bad » run; no JSON analysis is read.

    .venv/bin/python bench/reports.py [--runs 5] [--jobs 50000] [--sqlite-only]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path
from typing import Any

warnings.filterwarnings("ignore", message=".*httpx.*")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from fabqueue.app import create_app  # noqa: E402
from fabqueue.db import make_engine, make_session_factory, session_scope, upgrade  # noqa: E402
from fabqueue.profiles import load_profiles  # noqa: E402
from fabqueue.reports import exports, period, service  # noqa: E402
from fabqueue.settings import Settings  # noqa: E402
from tests.support import pg  # noqa: E402
from tests.support.activity import NOW, PARIS, YEAR, generate, write_cafe  # noqa: E402
from tests.support.factories import make_user  # noqa: E402
from tests.support.web import add_person, sign_in  # noqa: E402

# A real G-code analysis carries this much beside the figures the reports read.
PADDING = {
    "motion_s": 3512.123,
    "dwell_s": 12.5,
    "overhead_s": 30.0,
    "machine_time_s": 3700.2,
    "time_by_move": dict.fromkeys(("travel", "perimeter", "infill", "support", "other"), 123.4),
    "extrusion_bounds": [[1.0, 2.0, 0.2], [180.0, 190.0, 42.0]],
    "layers": 210,
    "slicer": "PrusaSlicer 2.7.1+linux-x64-GTK3",
    "warnings": ["first layer at 0.3 mm"] * 3,
}


def server_cpu(session: Any) -> float:
    """CPU seconds so far of the PostgreSQL backend serving ``session`` (SQLite runs in
    this process: 0, its time is in this process's CPU)."""
    if session.get_bind().dialect.name != "postgresql":
        return 0.0
    pid = session.execute(text("SELECT pg_backend_pid()")).scalar_one()
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def bench(url: str, label: str, root: Path, args: argparse.Namespace) -> None:
    engine = make_engine(url)
    upgrade(engine)
    sessions = make_session_factory(engine, None)
    profiles = load_profiles(write_cafe(root / "profiles"))
    t0 = time.perf_counter()
    generate(
        sessions,
        jobs=args.jobs,
        bookings=args.bookings,
        quotes=500,
        members=800,
        clients=60,
        padding=PADDING,
    )
    print(f"{label}: generated in {time.perf_counter() - t0:.1f} s")
    p = period.year(YEAR, PARIS)
    times, cpu, db_cpu = [], [], []
    for _ in range(args.runs):
        t, c = time.perf_counter(), time.process_time()
        with session_scope(sessions) as s:
            backend = server_cpu(s)
            report = service.build(s, profiles, p, now=NOW)
            db_cpu.append(server_cpu(s) - backend)
        times.append(time.perf_counter() - t)
        cpu.append(time.process_time() - c)
    jobs = sum(m.runs + m.cancelled for m in report.activity.machines)
    print(
        f"{label}: yearly report ({jobs} runs and cancellations counted): median "
        f"{statistics.median(times):.3f} s, min {min(times):.3f}, max {max(times):.3f} "
        f"over {args.runs} runs; this process's CPU: median {statistics.median(cpu):.3f} s "
        f"(min {min(cpu):.3f}, max {max(cpu):.3f})"
    )
    if max(db_cpu) > 0:
        print(
            f"{label}: the database server's CPU: median {statistics.median(db_cpu):.2f} s "
            f"(min {min(db_cpu):.2f}, max {max(db_cpu):.2f})"
        )
    pages(url, label, root, sessions, args)
    print(f"{label}: load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    identity = service.site_identity(profiles)
    for fmt in ("ods", "pdf"):
        t = time.perf_counter()
        body = exports.render(report, fmt, identity)
        print(f"{label}: {fmt} export {time.perf_counter() - t:.3f} s ({len(body)} bytes)")
    engine.dispose()


def spread(times: list[float]) -> str:
    return (
        f"median {statistics.median(times):.3f} s, min {min(times):.3f}, max {max(times):.3f} "
        f"over {len(times)} runs"
    )


def pages(url: str, label: str, root: Path, sessions: Any, args: argparse.Namespace) -> None:
    """The staff page and the API's JSON of the year, as a browser or a script gets them."""
    settings = Settings(db_url=url, data_dir=root / "data", profiles_dir=root / "profiles")
    add_person(sessions, "treso", "facilitator")
    _, token = make_user(sessions, "script", "facilitator")
    targets = {
        "staff page": (f"/reports/activity?year={YEAR}", {}),
        "API JSON": (f"/api/v1/reports/activity?year={YEAR}", {"Authorization": f"Bearer {token}"}),
    }
    times: dict[str, list[float]] = {name: [] for name in targets}
    sizes: dict[str, int] = {}
    with TestClient(create_app(settings)) as client:
        sign_in(client, "treso")
        for path, headers in targets.values():
            client.get(path, headers=headers)  # the first loads templates and catalogues
        # One after the other in each round: the app's file workers, starting beside
        # it, slow whichever comes first as much as the other.
        for _ in range(args.runs):
            for name, (path, headers) in targets.items():
                t = time.perf_counter()
                r = client.get(path, headers=headers)
                times[name].append(time.perf_counter() - t)
                assert r.status_code == 200, r.text[:500]
                sizes[name] = len(r.content)
    for name, (path, _) in targets.items():
        print(f"{label}: {name} {path} ({sizes[name]} bytes): {spread(times[name])}")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--jobs", type=int, default=50_000)
    ap.add_argument("--bookings", type=int, default=5_000)
    ap.add_argument("--sqlite-only", action="store_true")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        bench(f"sqlite:///{root}/bench.db", "SQLite", root / "a", args)
        if args.sqlite_only:
            return
        server = pg.start()
        try:
            name = f"bench_{uuid.uuid4().hex[:8]}"
            admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            admin.dispose()
            bench(server.database_url(name), "PostgreSQL", root / "b", args)
        finally:
            server.stop()


if __name__ == "__main__":
    main()
