"""A network of two cafés on one throw-away PostgreSQL (tests/support/pg.py).

1. 200 small jobs over 2 nodes x 2 simulated printers: wall time against the ideal
   (jobs x job time / machines). All jobs are queued with the machines stopped, then the
   four machines are started at once.
2. Upload-to-start of a 50 MB G-code file as a person sees it: both nodes served by a
   real uvicorn (in this process) with the database store and otherwise default
   settings, café B with one simulated printer, café A with none. The file is POSTed
   over HTTP to café A's ``/api/v1/jobs`` for café B's printer; the clock stops at café
   B's ``running`` event (the database is polled to know when the job has run; the
   times are the events'). Each run is a different file (a new content address: café
   B's cache never has it). Split: the upload until A's handler starts (the job's
   ``queued`` event carries that time), storing into PostgreSQL and analysis on A until
   the 201, the 201 to B's ``starting`` (B's dispatcher finds another node's job by its
   poll, ``dispatch_poll_s``, default 1 s), ``starting`` to ``running`` (the file
   streamed from PostgreSQL into B's cache, the machine told).
3. The storage's share alone: 50 MB saved by node A (folder copy + chunks into the
   database), fetched by node B into its empty cache, p50/p99 over RUNS files.
4. Peak Python memory (tracemalloc) while storing and fetching it: must stay flat.
5. From ``kill -9`` of a node (a real ``fabqueue serve`` process) to another node's API
   showing it offline, over OFFLINE_RUNS kills, with a short heartbeat (0.5 s, offline
   after 1.5 s) and with the defaults (10 s, offline after 30 s).

Run: ``.venv/bin/python bench/network.py`` (needs Debian's postgresql, as the tests do);
``--upload`` runs only part 2, ``--offline`` only part 5.
"""

from __future__ import annotations

import random
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlmodel import select

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fabqueue.app import create_app  # noqa: E402
from fabqueue.db import make_engine, make_session_factory, upgrade  # noqa: E402
from fabqueue.models import Job, JobEvent  # noqa: E402
from fabqueue.settings import Settings  # noqa: E402
from fabqueue.storage.postgres import DatabaseStore  # noqa: E402
from tests.support import pg  # noqa: E402
from tests.support.factories import make_user, sim_printer, tiny_gcode, write_profiles  # noqa: E402
from tests.support.live import live_server  # noqa: E402
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


UPLOAD_RUNS = 7


def big_gcode_body(size: int) -> bytes:
    """``size`` bytes of what a slicer writes for a large print: layers of perimeters
    and infill in short extruding moves (relative E), travels with retractions, layer
    changes and the slicer's comments."""
    rng = random.Random(17)
    out: list[str] = []
    total = 0
    layer = 0
    while total < size:
        layer += 1
        z = 0.2 * layer
        lines = [f";LAYER_CHANGE\n;Z:{z:.2f}\n;HEIGHT:0.2\nG1 Z{z:.3f} F9000\n"]
        for _ in range(12):  # islands of the layer
            cx, cy = rng.uniform(60, 190), rng.uniform(60, 150)
            lines.append(f"G1 E-.8 F2100\nG1 X{cx:.3f} Y{cy:.3f} F9000\nG1 E.8 F2100\n")
            lines.append(";TYPE:Perimeter\nG1 F1800\n")
            x, y = cx, cy
            for _ in range(400):
                x += rng.uniform(-0.9, 0.9)
                y += rng.uniform(-0.9, 0.9)
                lines.append(f"G1 X{x:.3f} Y{y:.3f} E{rng.uniform(0.01, 0.05):.5f}\n")
        chunk = "".join(lines)
        out.append(chunk)
        total += len(chunk)
    return "".join(out).encode()[:size].rpartition(b"\n")[0] + b"\n"


def big_gcode(path: Path, body: bytes, run: int) -> Path:
    """One run's file: the shared body under a header of its own (a new sha256)."""
    head = (
        f"; generated by PrusaSlicer 2.7.0 on 2026-12-07 at 10:{run:02d}:00 UTC\n"
        'M862.3 P "MK3S"\nM73 P0 R1200\nM201 X1000 Y1000 Z200 E5000\n'
        "M104 S215\nM140 S60\nM190 S60\nM109 S215\nG28 W\nG80\nG21\nG90\nM83\n"
        "G92 E0\nG1 Z0.2 F720\nG1 Y-3 F1000\nG1 X60 E9 F1000\nG1 X100 E12.5 F1000\n"
    )
    tail = (
        "M104 S0\nM140 S0\nM107\nG1 Z200 F720\nM84\n"
        "; filament used [g] = 812.40\n"
        "; estimated printing time (normal mode) = 1d 20h 3m 12s\n"
    )
    with path.open("wb") as fh:
        fh.write(head.encode())
        fh.write(body)
        fh.write(tail.encode())
    return path


def upload_settings(tmp: Path, url: str, name: str, machines: dict[str, str]) -> Settings:
    # Defaults otherwise (dispatch poll 1 s, progress every 2 s): what a café runs.
    return Settings(
        db_url=url,
        data_dir=tmp / name / "data",
        profiles_dir=write_profiles(tmp / name / "profiles", machines),
        node=name,
        storage="database",
    )


def upload_to_start(tmp: Path, url: str) -> None:
    """Seconds from the start of the POST at café A to café B's ``running`` event."""
    # A day-long print runs in well under a second: the printer is free for the next run.
    printer = sim_printer(speed=1e6, top="auto_advance = true")
    a_app = create_app(upload_settings(tmp, url, "up-a", {}))
    b_app = create_app(upload_settings(tmp, url, "up-b", {"up-b-p1": printer}))
    body = big_gcode_body(BIG)
    engine = make_engine(url)
    sessions = make_session_factory(engine, None)
    rows: list[tuple[float, ...]] = []
    try:
        with live_server(a_app) as a_url, live_server(b_app):
            _, token = make_user(a_app.state.ctx.sessions, "bench-up", "facilitator")
            headers = {"Authorization": f"Bearer {token}"}
            for run in range(UPLOAD_RUNS):
                path = big_gcode(tmp / f"big-{run}.gcode", body, run)
                rows.append(one_upload(a_url, headers, path, sessions))
                path.unlink()
    finally:
        engine.dispose()
    total = [r[0] for r in rows]
    print(
        f"upload-to-start, {BIG / 2**20:.0f} MiB G-code POSTed to café A for café B's "
        f"printer, {UPLOAD_RUNS} runs: p50 {pct(total, 50):.2f} s, p99 {pct(total, 99):.2f} s "
        f"(min {min(total):.2f}, max {max(total):.2f})"
    )
    for i, what in enumerate(
        (
            "upload over HTTP, until A's handler starts",
            "store into PostgreSQL and analysis on A, until the 201",
            "201 to B's claim (B's dispatch poll)",
            "B's claim to running (fetch from PostgreSQL, start)",
        ),
        start=1,
    ):
        part = [r[i] for r in rows]
        print(
            f"  {what}: median {statistics.median(part):.2f} s "
            f"(min {min(part):.2f}, max {max(part):.2f})"
        )


def one_upload(base: str, headers: dict[str, str], path: Path, sessions: Any) -> tuple[float, ...]:
    """(total, upload, store + analysis, the 201 to B's claim, B's claim to running)."""
    t0 = datetime.now(UTC)
    with path.open("rb") as fh, httpx.Client(timeout=600) as client:
        r = client.post(
            f"{base}/api/v1/jobs",
            headers=headers,
            data={"kind": "fdm_printer", "machine": "up-b-p1"},
            files={"file": (path.name, fh)},
        )
    answered = datetime.now(UTC)
    r.raise_for_status()
    job_id = r.json()["id"]
    # Poll the database (not café B's API: no HTTP load on B while it works) until the
    # job has run; the times are the events' own.
    while True:
        with sessions() as s:
            state = s.get(Job, job_id).state
        if state in ("succeeded", "failed", "cancelled"):
            break
        time.sleep(0.05)
    with sessions() as s:
        events = s.exec(
            select(JobEvent).where(JobEvent.job_id == job_id).order_by(JobEvent.id)  # type: ignore[arg-type]
        ).all()
    path_taken = [e.to_state for e in events]
    if path_taken != ["queued", "starting", "running", "succeeded"]:
        raise RuntimeError(f"job {job_id} did not go straight: {path_taken}")
    # The ``queued`` event carries the time the handler started (the upload received,
    # before storing and analysis), not the moment the job was written: the POST's
    # answer marks the end of A's share.
    arrived, starting, running = events[0].at, events[1].at, events[2].at
    return (
        (running - t0).total_seconds(),
        (arrived - t0).total_seconds(),
        (answered - arrived).total_seconds(),
        (starting - answered).total_seconds(),
        (running - starting).total_seconds(),
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
    only_upload = "--upload" in sys.argv[1:]
    everything = not (only_offline or only_upload)
    server = pg.start()
    try:
        with tempfile.TemporaryDirectory(prefix="fq-bench-net-") as tmp:
            if everything:
                queue_throughput(Path(tmp), new_database(server))
            if everything or only_upload:
                upload_to_start(Path(tmp), new_database(server))
            if everything:
                storage_latency(Path(tmp), new_database(server))
            if everything or only_offline:
                url = new_database(server)
                offline_after_kill(Path(tmp), url, 0.5, 1.5, OFFLINE_RUNS)
                offline_after_kill(Path(tmp), url, 10.0, 30.0, DEFAULT_RUNS)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
