"""The counter's pages under load, against the real service on loopback.

Starts ``fabqueue serve`` (uvicorn, SQLite in WAL) with 10 simulated cutters, then:
1. the counter board with 10 machines and 500 waiting jobs: render time seen by the
   client (GET /, signed in), p50/p99 over 200 requests (target p99 < 100 ms);
2. 100 browsers on the board's event stream (/live): time from a job's state change
   (the API call that makes it) to the ``changed`` event arriving in each client,
   p50/p99 over 20 changes x 100 clients (target p99 < 500 ms);
3. the board's page weight: HTML + CSS + JS, uncompressed (target < 150 KB);
4. « Travaux » (/jobs) with those 500 waiting jobs and 4,500 finished ones: the first
   page, and a search for a customer's name (target p99 < 100 ms).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fabqueue.db import make_engine, make_session_factory, upgrade  # noqa: E402
from tests.support.factories import make_user  # noqa: E402
from tests.support.job_rows import T0, add_file, job_row  # noqa: E402
from tests.support.service import Service  # noqa: E402
from tests.support.web import PASSWORD, add_person, counter_profiles  # noqa: E402

MACHINES = 10
QUEUED = 500
RENDERS = 200
SSE_CLIENTS = 100
CHANGES = 20
FINISHED = 4500

SVG = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="60mm" height="30mm" viewBox="0 0 60 30">'
    b'<path d="M5 5 H55 V25 H5 Z M10 10 H50 V20 H10 Z"/></svg>'
)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ms(values: list[float]) -> str:
    return (
        f"p50 {pct(values, 50) * 1000:.1f} ms, p99 {pct(values, 99) * 1000:.1f} ms, "
        f"max {max(values) * 1000:.1f} ms (n={len(values)})"
    )


async def fill_queue(url: str, token: str) -> None:
    counter = iter(range(QUEUED))
    async with httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=60
    ) as client:

        async def worker() -> None:
            for i in counter:
                r = await client.post(
                    "/api/v1/jobs",
                    data={"material": "vinyle-noir", "hold": "true", "title": f"sticker {i}"},
                    files={"file": (f"sticker-{i}.svg", SVG)},
                )
                r.raise_for_status()

        await asyncio.gather(*(worker() for _ in range(8)))


def signed_in(url: str) -> httpx.Client:
    client = httpx.Client(base_url=url, timeout=30)
    page = client.get("/login").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', page)
    assert csrf
    r = client.post("/login", data={"name": "camille", "password": PASSWORD, "csrf": csrf[1]})
    assert r.status_code == 303, r.text
    return client


def render_times(client: httpx.Client) -> tuple[list[float], str]:
    html = ""
    for _ in range(10):
        html = client.get("/").text
    assert f"({QUEUED})" in html, "the board shows the whole queue"
    times = []
    for _ in range(RENDERS):
        t0 = time.perf_counter()
        r = client.get("/")
        times.append(time.perf_counter() - t0)
        assert r.status_code == 200
    return times, html


def add_finished(db_url: str, owner: int) -> None:
    """A season of finished jobs, written straight in (submitting them would take hours
    of analysis); one customer in 50 is a Dupont, to be searched for."""
    from datetime import timedelta

    from fabqueue.db import session_scope
    from fabqueue.states import JobState

    engine = make_engine(db_url)
    sessions = make_session_factory(engine, None)
    add_file(sessions)
    with session_scope(sessions) as s:
        for i in range(FINISHED):
            name = "Mme Dupont" if i % 50 == 0 else f"Client {i}"
            s.add(
                job_row(
                    owner,
                    JobState.succeeded if i % 10 else JobState.failed,
                    at=T0 - timedelta(minutes=FINISHED - i),
                    file=f"commande-{i}.svg",
                    customer_name=name,
                    customer_contact=f"06 00 00 {i // 100:02d} {i % 100:02d}",
                )
            )
    engine.dispose()


def list_times(client: httpx.Client, path: str) -> list[float]:
    for _ in range(10):
        assert client.get(path).status_code == 200
    times = []
    for _ in range(RENDERS):
        t0 = time.perf_counter()
        r = client.get(path)
        times.append(time.perf_counter() - t0)
        assert r.status_code == 200
    return times


def page_weight(client: httpx.Client, html: str) -> tuple[int, dict[str, int]]:
    parts = {"html": len(html.encode())}
    for url in re.findall(r'(?:href|src)="(/static/[^"]+\.(?:css|js))"', html):
        parts[url.rsplit("/", 1)[-1]] = len(client.get(url).content)
    return sum(parts.values()), parts


async def fan_out(url: str, cookies: httpx.Cookies, token: str, job_id: int) -> list[float]:
    """Each round: change the job's state once, note when each client hears of it."""
    heard: list[float | None] = [None] * SSE_CLIENTS
    connected = 0
    all_connected = asyncio.Event()
    all_heard = asyncio.Event()
    limits = httpx.Limits(max_connections=SSE_CLIENTS + 10)
    async with httpx.AsyncClient(
        base_url=url, cookies=cookies, limits=limits, timeout=None
    ) as client:

        async def listen(i: int) -> None:
            nonlocal connected
            async with client.stream("GET", "/live") as r:
                async for line in r.aiter_lines():
                    if line.startswith("retry:"):
                        connected += 1
                        if connected == SSE_CLIENTS:
                            all_connected.set()
                    elif line == "event: changed" and heard[i] is None:
                        heard[i] = time.perf_counter()
                        if all(h is not None for h in heard):
                            all_heard.set()

        listeners = [asyncio.create_task(listen(i)) for i in range(SSE_CLIENTS)]
        await asyncio.wait_for(all_connected.wait(), 60)
        delays: list[float] = []
        async with httpx.AsyncClient(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=30
        ) as api:
            for n in range(CHANGES):
                heard[:] = [None] * SSE_CLIENTS
                all_heard.clear()
                t0 = time.perf_counter()
                action = "hold" if n % 2 else "release"
                (await api.post(f"/api/v1/jobs/{job_id}/{action}")).raise_for_status()
                await asyncio.wait_for(all_heard.wait(), 30)
                delays.extend(h - t0 for h in heard if h is not None)
        for task in listeners:
            task.cancel()
        await asyncio.gather(*listeners, return_exceptions=True)
    return delays


def main() -> None:
    tmp = Path(tempfile.mkdtemp(prefix="fabqueue-web-bench-"))
    try:
        db = tmp / "fabqueue.db"
        engine = make_engine(f"sqlite:///{db}")
        upgrade(engine)
        sessions = make_session_factory(engine, None)
        add_person(sessions, "camille", "facilitator")
        owner, token = make_user(sessions, "script", "facilitator")
        engine.dispose()
        profiles = counter_profiles(tmp / "profiles", machines=MACHINES)
        service = Service(
            {
                "FABQUEUE_DB_URL": f"sqlite:///{db}",
                "FABQUEUE_DATA_DIR": str(tmp / "data"),
                "FABQUEUE_PROFILES_DIR": str(profiles),
                "FABQUEUE_NODE": "bench",
            },
            tmp / "service.log",
        )
        service.start()
        try:
            asyncio.run(fill_queue(service.url, token))
            client = signed_in(service.url)
            try:
                times, html = render_times(client)
                print(f"board render, {MACHINES} machines, {QUEUED} waiting jobs: {ms(times)}")
                total, parts = page_weight(client, html)
                detail = ", ".join(f"{k} {v / 1024:.1f}" for k, v in parts.items())
                print(f"board page weight: {total / 1024:.1f} KB uncompressed ({detail})")
                add_finished(f"sqlite:///{db}", owner)
                jobs = f"{QUEUED + FINISHED} jobs"
                print(f"/jobs first page, {jobs}: {ms(list_times(client, '/jobs'))}")
                found = list_times(client, "/jobs?q=dupont")
                print(f"/jobs?q=dupont (search), {jobs}: {ms(found)}")
                waiting = list_times(client, "/jobs?state=waiting")
                print(f"/jobs?state=waiting, {jobs}: {ms(waiting)}")
                # A job pinned to a machine out of service: it changes state, never runs.
                headers = {"Authorization": f"Bearer {token}"}
                client.post("/api/v1/machines/plotter/stop", headers=headers).raise_for_status()
                job = client.post(
                    "/api/v1/jobs",
                    headers=headers,
                    data={"machine": "plotter", "hold": "true", "material": "vinyle-noir"},
                    files={"file": ("probe.svg", SVG)},
                ).json()
                delays = asyncio.run(fan_out(service.url, client.cookies, token, job["id"]))
            finally:
                client.close()
            print(
                f"state change -> {SSE_CLIENTS} SSE clients: {ms(delays)}, "
                f"mean {statistics.mean(delays) * 1000:.1f} ms"
            )
        finally:
            service.stop()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
