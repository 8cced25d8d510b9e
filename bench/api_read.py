"""Reading speed of the job list under load, while the dispatcher runs.

Starts ``fabqueue serve`` (uvicorn, SQLite in WAL) in a temporary folder with three
simulated printers that take jobs one after another (auto-advance), submits 100 jobs
(PrusaSlicer's benchy, analysed), then has 50 concurrent clients read
``GET /api/v1/jobs?limit=100`` for ``--seconds`` seconds, ``--runs`` times.
Target on the 2-core machine: >= 400 requests/s and p99 < 200 ms. With ``--vary``
each client reads its own page size, so that the server cannot share one read
between identical questions asked at the same moment (see fabqueue/coalesce.py).

The clients run in this process, the server in its own: on two cores they share the
CPU, so the client is kept light (one keep-alive connection each, HTTP/1.1 written
by hand: about a tenth of httpx's CPU per request; ``--client httpx`` for the old
one). Besides the rates, it prints the server's and the client's CPU time per request
(from /proc): unlike the rates, that does not depend on what else the machine runs.

    .venv/bin/python bench/api_read.py [--runs 3] [--seconds 10] [--limit 100]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.factories import CORPUS, sim_printer, write_profiles  # noqa: E402
from tests.support.service import Service  # noqa: E402

JOBS = 100
CLIENTS = 50
BENCHY = CORPUS / "gcode" / "prusaslicer-benchy.gcode"


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def fill(svc: Service, token: str) -> None:
    data = BENCHY.read_bytes()
    with httpx.Client(
        base_url=f"{svc.url}/api/v1", headers={"Authorization": f"Bearer {token}"}, timeout=120
    ) as c:
        for i in range(JOBS):
            r = c.post("/jobs", data={"kind": "fdm_printer"}, files={"file": (f"b{i}.gcode", data)})
            if r.status_code != 201:
                raise RuntimeError(f"{r.status_code}: {r.text}")


def cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def _raw_reader(
    host: str, port: int, request: bytes, deadline: float, latencies: list[float]
) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        while time.perf_counter() < deadline:
            t0 = time.perf_counter()
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            status = head[9:12]
            length = 0
            for line in head.split(b"\r\n"):
                name, _, value = line.partition(b":")
                if name.lower() == b"content-length":
                    length = int(value)
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if status != b"200":
                raise RuntimeError(f"{status!r}: {body[:200]!r}")
    finally:
        writer.close()


async def read_raw(
    url: str, token: str, seconds: float, limit: int, vary: bool = False
) -> tuple[int, list[float]]:
    host, port = url.removeprefix("http://").split(":")

    def request(i: int) -> bytes:
        # --vary: each client its own page size, so that no two ask the same question
        # (the server makes identical reads asked at the same moment once).
        size = limit - i if vary else limit
        return (
            f"GET /api/v1/jobs?limit={size} HTTP/1.1\r\nHost: {host}:{port}\r\n"
            f"Authorization: Bearer {token}\r\nAccept: application/json\r\n\r\n"
        ).encode()

    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    start = time.perf_counter()
    await asyncio.gather(
        *(_raw_reader(host, int(port), request(i), deadline, latencies) for i in range(CLIENTS))
    )
    return round(len(latencies) / (time.perf_counter() - start)), latencies


async def read_for(
    url: str, token: str, seconds: float, limit: int, vary: bool = False
) -> tuple[int, list[float]]:
    latencies: list[float] = []
    deadline = time.perf_counter() + seconds
    async with httpx.AsyncClient(
        base_url=url,
        headers={"Authorization": f"Bearer {token}"},
        limits=httpx.Limits(max_connections=CLIENTS),
        timeout=30,
    ) as client:

        async def reader(i: int) -> None:
            size = limit - i if vary else limit
            while time.perf_counter() < deadline:
                t0 = time.perf_counter()
                r = await client.get("/api/v1/jobs", params={"limit": size})
                latencies.append(time.perf_counter() - t0)
                if r.status_code != 200:
                    raise RuntimeError(f"{r.status_code}: {r.text}")

        start = time.perf_counter()
        await asyncio.gather(*(reader(i) for i in range(CLIENTS)))
        elapsed = time.perf_counter() - start
    return round(len(latencies) / elapsed), latencies


def running_jobs(svc: Service, token: str) -> int:
    r = httpx.get(
        f"{svc.url}/api/v1/jobs",
        params={"state": ["starting", "running"]},
        headers={"Authorization": f"Bearer {token}"},
    )
    return int(r.json()["count"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--limit", type=int, default=100, help="jobs per page read")
    parser.add_argument("--client", choices=("raw", "httpx"), default="raw")
    parser.add_argument(
        "--vary",
        action="store_true",
        help="each client reads its own page size (limit, limit-1, …): no shared reads",
    )
    args = parser.parse_args()
    read = read_raw if args.client == "raw" else read_for
    with tempfile.TemporaryDirectory(prefix="fabqueue-bench-") as tmp:
        root = Path(tmp)
        # A benchy (39 min) takes 20 s at speed 120: the printers keep taking jobs.
        printer = sim_printer(speed=120, top="auto_advance = true")
        profiles = write_profiles(root / "profiles", {f"p{i}": printer for i in (1, 2, 3)})
        svc = Service(
            {
                "FABQUEUE_DB_URL": f"sqlite:///{root}/fabqueue.db",
                "FABQUEUE_DATA_DIR": str(root / "data"),
                "FABQUEUE_PROFILES_DIR": str(profiles),
            },
            root / "service.log",
        )
        if svc.cli("db", "upgrade").returncode != 0:
            raise SystemExit("db upgrade failed")
        token = svc.cli("user", "add", "bench", "--role", "facilitator").stdout.split()[-1]
        svc.start()
        print(f"server pid {svc.proc.pid if svc.proc else '?'}", flush=True)
        runs: list[tuple[float, ...]] = []
        assert svc.proc is not None
        try:
            fill(svc, token)
            for _ in range(args.runs):
                server0, client0 = cpu_s(svc.proc.pid), time.process_time()
                rate, lat = asyncio.run(read(svc.url, token, args.seconds, args.limit, args.vary))
                server_ms = (cpu_s(svc.proc.pid) - server0) * 1000 / len(lat)
                client_ms = (time.process_time() - client0) * 1000 / len(lat)
                busy = running_jobs(svc, token)
                p50, p99 = statistics.median(lat) * 1000, pct(lat, 99) * 1000
                runs.append((rate, p50, p99, server_ms, client_ms, os.getloadavg()[0]))
                print(
                    f"run: {rate} req/s, p50 {p50:.1f} ms, p99 {p99:.1f} ms, CPU per request: "
                    f"server {server_ms:.2f} ms, client {client_ms:.2f} ms; "
                    f"{busy} job(s) on the machines, load average {runs[-1][5]:.1f}"
                )
        finally:
            svc.stop()

    def line(name: str, values: list[float], target: str) -> None:
        spread = f"{min(values):.1f}–{max(values):.1f}"
        print(f"{name:<24}{statistics.median(values):>10.1f}{spread:>14}{target:>10}")

    print(
        f"\n{CLIENTS} clients ({args.client}), {JOBS} jobs, pages of {args.limit}"
        f"{f' to {args.limit - CLIENTS + 1} (one size per client)' if args.vary else ''}, "
        f"{args.runs} runs, {os.cpu_count()} cores"
    )
    print(f"{'metric (median)':<24}{'value':>10}{'spread':>14}{'target':>10}")
    line("requests/s", [r[0] for r in runs], ">= 400")
    line("latency p50 (ms)", [r[1] for r in runs], "")
    line("latency p99 (ms)", [r[2] for r in runs], "< 200")
    line("server CPU/request (ms)", [r[3] for r in runs], "")
    line("client CPU/request (ms)", [r[4] for r in runs], "")
    line("load average (1 min)", [r[5] for r in runs], "")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
