"""Issue 11's attack on a running service: arc bombs and files of zeros uploaded at
once, readers polling ``/health`` and the job list, a normal job in the middle.

Used by the slow test (``tests/e2e/test_hostile_uploads.py``) and ``bench/hostile.py``.
"""

from __future__ import annotations

import statistics
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support.factories import sim_printer, tiny_gcode, write_profiles
from tests.support.hostile import SIM_EMBROIDERY, arc_bomb, zero_file
from tests.support.service import Service
from tests.support.waiting import wait_for

ARC_BOMBS = 6
ZERO_FILES = 3


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


@dataclass
class Figures:
    health_ms: list[float] = field(default_factory=list)
    jobs_ms: list[float] = field(default_factory=list)
    poll_errors: list[str] = field(default_factory=list)
    server_rss_mb: list[float] = field(default_factory=list)
    hostile: list[tuple[str, int, str]] = field(default_factory=list)
    """(file, status, detail)"""
    normal_status: int = 0
    normal_submit_s: float = 0.0
    """From the normal job's upload to its answer (accepted: stored and analysed)."""
    normal_state: str = ""
    attack_s: float = 0.0

    def summary(self) -> dict[str, Any]:
        def stats(ms: list[float]) -> dict[str, float]:
            return {
                "n": len(ms),
                "p50": round(statistics.median(ms), 1) if ms else 0.0,
                "p99": round(pct(ms, 99), 1) if ms else 0.0,
                "max": round(max(ms), 1) if ms else 0.0,
            }

        return {
            "health_ms": stats(self.health_ms),
            "jobs_ms": stats(self.jobs_ms),
            "poll_errors": len(self.poll_errors),
            "server_rss_max_mb": round(max(self.server_rss_mb, default=0.0), 1),
            "attack_s": round(self.attack_s, 1),
            "normal_job": (self.normal_status, round(self.normal_submit_s, 1), self.normal_state),
        }


def start_service(tmp: Path, env: dict[str, str] | None = None) -> Service:
    profiles = write_profiles(
        tmp / "profiles",
        {"printer": sim_printer(speed=60.0), "brodeuse": SIM_EMBROIDERY},
    )
    svc = Service(
        {
            "FABQUEUE_DB_URL": f"sqlite:///{tmp}/var/fabqueue.db",
            "FABQUEUE_DATA_DIR": str(tmp / "var" / "data"),
            "FABQUEUE_PROFILES_DIR": str(profiles),
            "FABQUEUE_NODE": "attack-node",
            "FABQUEUE_DISPATCH_POLL_S": "0.2",
            **(env or {}),
        },
        tmp / "service.log",
    )
    assert svc.cli("db", "upgrade").returncode == 0
    svc.start()
    return svc


def _poll(
    url: str,
    path: str,
    headers: dict[str, str],
    out: list[float],
    stop: threading.Event,
    errors: list[str],
) -> None:
    with httpx.Client(base_url=url, headers=headers, timeout=10) as client:
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                r = client.get(path)
                if r.status_code != 200:
                    errors.append(f"{path}: {r.status_code}")
            except httpx.HTTPError as exc:
                errors.append(f"{path}: {exc!r}")
            out.append((time.perf_counter() - t0) * 1000)
            stop.wait(0.02)


def _sample_rss(pid: int, out: list[float], stop: threading.Event) -> None:
    while not stop.is_set():
        out.append(rss_mb(pid))
        stop.wait(0.05)


def _upload(url: str, headers: dict[str, str], path: Path, machine: str) -> httpx.Response:
    with path.open("rb") as fh, httpx.Client(base_url=url, headers=headers, timeout=600) as c:
        return c.post("/api/v1/jobs", data={"machine": machine}, files={"file": (path.name, fh)})


def attack(svc: Service, tmp: Path) -> Figures:
    assert svc.proc is not None
    token = svc.cli("user", "add", "Eve", "--role", "facilitator").stdout.split()[-1]
    headers = {"Authorization": f"Bearer {token}"}
    # The normal job is somebody else's: the pool serves its owners in turn.
    other = svc.cli("user", "add", "Marie", "--role", "facilitator").stdout.split()[-1]
    normal_headers = {"Authorization": f"Bearer {other}"}
    files = [(arc_bomb(tmp / f"arcs-{i}.gcode"), "printer") for i in range(ARC_BOMBS)]
    files += [(zero_file(tmp / f"zeros-{i}.exp"), "brodeuse") for i in range(ZERO_FILES)]
    normal = tiny_gcode(tmp, "normal.gcode", seconds=60)
    figures = Figures()
    stop = threading.Event()
    watchers = [
        threading.Thread(
            target=_poll,
            args=(svc.url, "/api/v1/health", {}, figures.health_ms, stop, figures.poll_errors),
            daemon=True,
        ),
        threading.Thread(
            target=_poll,
            args=(svc.url, "/api/v1/jobs", headers, figures.jobs_ms, stop, figures.poll_errors),
            daemon=True,
        ),
        threading.Thread(
            target=_sample_rss, args=(svc.proc.pid, figures.server_rss_mb, stop), daemon=True
        ),
    ]
    for w in watchers:
        w.start()
    try:
        answer = _send(svc, (headers, normal_headers), files, normal, figures)
    finally:
        stop.set()
        for w in watchers:
            w.join()
    if answer.status_code == 201:
        job_id = answer.json()["id"]
        with httpx.Client(base_url=svc.url, headers=headers, timeout=10) as c:
            figures.normal_state = wait_for(
                lambda: (
                    (s := c.get(f"/api/v1/jobs/{job_id}").json()["state"])
                    in ("running", "awaiting_operator", "succeeded")
                    and s
                ),
                timeout=60,
                what="the normal job to be dispatched",
            )
    return figures


def _send(
    svc: Service,
    headers: tuple[dict[str, str], dict[str, str]],
    files: list[tuple[Path, str]],
    normal: Path,
    figures: Figures,
) -> httpx.Response:
    """Everything at once (``headers[0]``); the normal job (``headers[1]``, somebody
    else) once the hostile uploads are in."""
    attacker, normal_user = headers
    t0 = time.perf_counter()
    with ThreadPoolExecutor(len(files) + 1) as pool:
        hostile = [pool.submit(_upload, svc.url, attacker, path, m) for path, m in files]
        wait_for(lambda: all(f.running() for f in hostile), what="the attack to start")
        time.sleep(0.5)  # pacing, not waiting for a result: the uploads reach the server
        n0 = time.perf_counter()
        answer = pool.submit(_upload, svc.url, normal_user, normal, "printer").result()
        figures.normal_submit_s = time.perf_counter() - n0
        figures.normal_status = answer.status_code
        for (path, _), future in zip(files, hostile, strict=True):
            r = future.result()
            figures.hostile.append((path.name, r.status_code, r.json().get("detail", "")))
    figures.attack_s = time.perf_counter() - t0
    return answer
