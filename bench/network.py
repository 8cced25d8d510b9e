"""A network of two cafés on one throw-away PostgreSQL (tests/support/pg.py).

1. 200 small jobs over 2 nodes x 2 simulated printers: wall time against the ideal
   (jobs x job time / machines). All jobs are queued with the machines stopped, then the
   four machines are started at once.
2. The storage's share of upload-to-start for a 50 MB file kept in PostgreSQL: saved by
   node A (folder copy + chunks into the database), fetched by node B into its empty
   cache (what B's dispatch does before the machine starts), p50/p99 over RUNS files.
3. Peak Python memory (tracemalloc) while storing and fetching it: must stay flat.
4. From ``kill -9`` of a node (a real ``fabqueue serve`` process) to another node's API
   showing it offline, over OFFLINE_RUNS kills, with a short heartbeat (0.5 s, offline
   after 1.5 s) and with the defaults (10 s, offline after 30 s).

Run: ``.venv/bin/python bench/network.py`` (needs Debian's postgresql, as the tests do);
``--offline`` runs only part 4.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlmodel import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fabqueue.app import create_app  # noqa: E402
from fabqueue.db import make_engine, make_session_factory, upgrade  # noqa: E402
from fabqueue.models import Job  # noqa: E402
from fabqueue.settings import Settings  # noqa: E402
from fabqueue.storage.postgres import DatabaseStore  # noqa: E402
from tests.support import pg  # noqa: E402
from tests.support.factories import make_user, sim_printer, tiny_gcode, write_profiles  # noqa: E402
from tests.support.service import Service  # noqa: E402
from tests.support.storage import PatternStream  # noqa: E402

JOBS = 200
JOB_S = 0.25
"""Machine time of each job: a 60 s print on a simulator running 240x."""
BIG = 50 * 1024 * 1024
RUNS = 7


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def new_database(server: pg.PgServer) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = server.database_url(name)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def node_settings(tmp: Path, url: str, name: str) -> Settings:
    fast = sim_printer(speed=60 / JOB_S, top="auto_advance = true")
    profiles = write_profiles(tmp / name / "profiles", {f"{name}-p1": fast, f"{name}-p2": fast})
    return Settings(
        db_url=url,
        data_dir=tmp / name / "data",
        profiles_dir=profiles,
        node=name,
        storage="database",
        dispatch_poll_s=0.2,
        progress_write_interval_s=1.0,
    )


def queue_throughput(tmp: Path, url: str) -> None:
    with (
        TestClient(create_app(node_settings(tmp, url, "cafe-a"))) as a,
        TestClient(create_app(node_settings(tmp, url, "cafe-b"))) as b,
    ):
        ctx = a.app.state.ctx  # type: ignore[attr-defined]
        _, token = make_user(ctx.sessions, "bench", "facilitator")
        headers = {"Authorization": f"Bearer {token}"}
        slugs = ["cafe-a-p1", "cafe-a-p2", "cafe-b-p1", "cafe-b-p2"]
        for slug in slugs:
            a.post(f"/api/v1/machines/{slug}/stop", headers=headers).raise_for_status()
        data = tiny_gcode(tmp, seconds=60).read_bytes()
        for i in range(JOBS):
            client = a if i % 2 else b
            r = client.post(
                "/api/v1/jobs",
                headers=headers,
                data={"kind": "fdm_printer"},
                files={"file": (f"part-{i}.gcode", data)},
            )
            r.raise_for_status()
        sessions = make_session_factory(ctx.engine, None)
        start = time.perf_counter()
        for slug in slugs:
            a.post(f"/api/v1/machines/{slug}/start", headers=headers).raise_for_status()
        while True:
            with sessions() as s:
                left = [j for j in s.exec(select(Job.state)) if j != "succeeded"]
            if not left:
                break
            time.sleep(0.05)
        wall = time.perf_counter() - start
        ideal = JOBS * JOB_S / len(slugs)
        print(
            f"queue: {JOBS} jobs x {JOB_S:.2f} s over 2 nodes x 2 sim printers: "
            f"{wall:.2f} s wall, ideal {ideal:.2f} s ({wall / ideal:.2f}x)"
        )


def storage_latency(tmp: Path, url: str) -> None:
    engine = make_engine(url)
    times: list[float] = []
    peaks: list[int] = []
    try:
        for run in range(RUNS):
            a = DatabaseStore(tmp / f"sa{run}", engine, cache_bytes=2 * BIG)
            b = DatabaseStore(tmp / f"sb{run}", engine, cache_bytes=2 * BIG)
            tracemalloc.start()
            t0 = time.perf_counter()
            stored = a.save(PatternStream(BIG, seed=f"run{run}".encode()), limit=BIG)
            b.fetch(stored.sha256)
            times.append(time.perf_counter() - t0)
            peaks.append(tracemalloc.get_traced_memory()[1])
            tracemalloc.stop()
    finally:
        engine.dispose()
    print(
        f"50 MB through PostgreSQL (save on A + fetch on B), {RUNS} runs: "
        f"p50 {pct(times, 50):.2f} s, p99 {pct(times, 99):.2f} s "
        f"(min {min(times):.2f}, max {max(times):.2f})"
    )
    print(
        f"peak Python memory while streaming 50 MB: median "
        f"{statistics.median(peaks) / 2**20:.1f} MiB, max {max(peaks) / 2**20:.1f} MiB"
    )


OFFLINE_RUNS = 7
DEFAULT_RUNS = 3


def offline_after_kill(
    tmp: Path, url: str, heartbeat_s: float, offline_s: float, runs: int
) -> None:
    """Seconds from SIGKILL of node B to node A's ``GET /api/v1/nodes`` saying offline."""
    profiles = write_profiles(tmp / "kill-b", {"kill-b-p1": sim_printer()})
    b = Service(
        {
            "FABQUEUE_DB_URL": url,
            "FABQUEUE_DATA_DIR": str(tmp / "kill-b" / "data"),
            "FABQUEUE_PROFILES_DIR": str(profiles),
            "FABQUEUE_NODE": "kill-b",
            "FABQUEUE_LEASE_HEARTBEAT_S": str(heartbeat_s),
            "FABQUEUE_NODE_OFFLINE_AFTER_S": str(offline_s),
        },
        tmp / "kill-b.log",
    )
    a_settings = Settings(
        db_url=url,
        data_dir=tmp / "kill-a" / "data",
        profiles_dir=write_profiles(tmp / "kill-a", {}),
        node="kill-a",
        lease_heartbeat_s=heartbeat_s,
        node_offline_after_s=offline_s,
    )
    seen: list[float] = []
    with TestClient(create_app(a_settings)) as a:
        ctx = a.app.state.ctx  # type: ignore[attr-defined]
        _, token = make_user(ctx.sessions, f"bench-{heartbeat_s}", "facilitator")
        headers = {"Authorization": f"Bearer {token}"}

        def b_online() -> bool:
            nodes = a.get("/api/v1/nodes", headers=headers).json()
            return any(n["name"] == "kill-b" and n["online"] for n in nodes)

        for _ in range(runs):
            b.start()
            while not b_online():
                time.sleep(0.02)
            b.kill9()
            t0 = time.perf_counter()
            while b_online():
                time.sleep(0.02)
            seen.append(time.perf_counter() - t0)
    print(
        f"kill -9 to offline on the other node, heartbeat {heartbeat_s:g} s, offline after "
        f"{offline_s:g} s, {runs} runs: median {statistics.median(seen):.2f} s "
        f"(min {min(seen):.2f}, max {max(seen):.2f}; expected between "
        f"{offline_s - heartbeat_s:g} and {offline_s:g} s with beats on time; "
        "a late beat makes it sooner)"
    )


def main() -> None:
    only_offline = "--offline" in sys.argv[1:]
    server = pg.start()
    try:
        with tempfile.TemporaryDirectory(prefix="fq-bench-net-") as tmp:
            if not only_offline:
                queue_throughput(Path(tmp), new_database(server))
                storage_latency(Path(tmp), new_database(server))
            url = new_database(server)
            offline_after_kill(Path(tmp), url, 0.5, 1.5, OFFLINE_RUNS)
            offline_after_kill(Path(tmp), url, 10.0, 30.0, DEFAULT_RUNS)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
