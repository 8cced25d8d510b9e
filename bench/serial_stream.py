"""How fast G-code crosses a serial line to a Marlin printer: fabqueue's driver with
ADVANCED_OK windowing, the same driver one line at a time, and OctoPrint 1.11.8.

Each run streams a curved corpus file to the Marlin emulator (``fabqueue simulate
marlin``, its own process) over a real pty, paced at the baud rate, with a 16-block
planner whose motion runs fast enough that the serial line is the bottleneck. Printed:
G-code lines per second, and the share of the link's capacity that is (capacity = baud
/ 10 bits / the mean bytes of a line as that host frames it).

    .venv/bin/python bench/serial_stream.py [--file F] [--baud 115200 250000] [--speed S]
        [--runs N] [--skip-octoprint]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from drivers.base import FINAL_PHASES, JobTicket  # noqa: E402
from drivers.marlin.config import MarlinSerialConfig  # noqa: E402
from drivers.marlin.driver import MarlinSerialDriver  # noqa: E402
from drivers.marlin.file import prepare  # noqa: E402
from fabqueue.clock import RealClock  # noqa: E402
from tests.support import octoprint  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "gcode"


@dataclass
class Run:
    host: str
    baud: int
    seconds: float
    lines: int
    bytes_in: int
    lines_in: int
    note: str = ""

    @property
    def rate(self) -> float:
        return self.lines / self.seconds

    @property
    def bytes_per_line(self) -> float:
        return self.bytes_in / self.lines_in

    @property
    def capacity(self) -> float:
        return self.baud / 10 / self.bytes_per_line

    @property
    def share(self) -> float:
        return self.rate / self.capacity


class Emulator:
    """``fabqueue simulate marlin`` in its own process, like a printer on a cable."""

    def __init__(self, baud: int, speed: float, link: Path) -> None:
        self.link = link
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "fabqueue",
                "simulate",
                "marlin",
                "--baud",
                str(baud),
                "-o",
                f"speed={speed}",
                "-o",
                "planner_blocks=16",
                "-o",
                f"link={link}",
            ],
            cwd=REPO,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        self.path = self.proc.stdout.readline().strip()
        if not self.path:
            raise RuntimeError("the emulator did not start")

    def stop(self) -> dict[str, Any]:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=20)
        return json.loads(out.strip().splitlines()[-1])  # type: ignore[no-any-return]


async def run_ours(file: Path, baud: int, speed: float, windowed: bool, tmp: Path) -> Run:
    emu = Emulator(baud, speed, tmp / f"ours-{baud}-{windowed}")
    changed = asyncio.Event()

    def on_status(_: Any) -> None:
        changed.set()

    async def until(pred: Any) -> None:
        while not pred():
            changed.clear()
            await changed.wait()

    config = MarlinSerialConfig(
        port=emu.path,
        baud=baud,
        windowed=windowed,
        report_interval_s=1.0,
        motion_timeout_factor=1.0 / speed,
    )
    driver = MarlinSerialDriver("bench", config, on_status=on_status, clock=RealClock())
    await driver.connect()
    try:
        await until(lambda: driver.status.state.value == "idle")
        ticket = JobTicket(
            job_id=1, ref="bench", file_path=file, file_name=file.name, file_type="gcode"
        )
        started = time.monotonic()
        await driver.start(ticket)
        await until(lambda: driver.status.job and driver.status.job.phase in FINAL_PHASES)
        elapsed = time.monotonic() - started
        assert driver.status.job.phase.value == "done", driver.status
        stream = driver.stream
        assert stream is not None
        note = f"window {stream.window}" if stream.windowed else "1 in flight"
        note += f", {stream.stats.resends} resends, {driver.stats_timeouts} timeouts"
    finally:
        await driver.close()
        stats = emu.stop()
    host = "fabqueue, ADVANCED_OK window" if windowed else "fabqueue, one line in flight"
    return Run(host, baud, elapsed, len(prepare(file)), stats["bytes_in"], stats["lines_in"], note)


def run_octoprint(file: Path, baud: int, speed: float, tmp: Path) -> Run:
    link = tmp / f"octoprint-{baud}"
    emu = Emulator(baud, speed, link)
    server = octoprint.start(additional_ports=[str(link)])
    try:
        server.api(
            "POST", "/api/connection", {"command": "connect", "port": str(link), "baudrate": baud}
        )
        deadline = time.monotonic() + 30
        while server.api("GET", "/api/connection")["current"]["state"] != "Operational":
            if time.monotonic() > deadline:
                raise RuntimeError("OctoPrint did not connect to the emulator")
            time.sleep(0.1)
        boundary = "fabqueuebench"
        body = (
            (
                f"--{boundary}\r\nContent-Disposition: form-data; "
                f'name="file"; filename="{file.name}"\r\n'
                "Content-Type: application/octet-stream\r\n\r\n"
            ).encode()
            + file.read_bytes()
            + (
                f'\r\n--{boundary}\r\nContent-Disposition: form-data; name="print"\r\n\r\ntrue\r\n'
                f"--{boundary}--\r\n"
            ).encode()
        )
        request = urllib.request.Request(
            f"{server.url}/api/files/local",
            data=body,
            method="POST",
            headers={
                "X-Api-Key": server.api_key,
                "Content-Type": f"multipart/form-data; boundary={boundary}",
            },
        )
        with urllib.request.urlopen(request, timeout=60) as response:
            assert json.loads(response.read())["effectivePrint"]
        started = time.monotonic()
        while True:
            job = server.api("GET", "/api/job")
            if job["state"] == "Operational" and (job["progress"]["completion"] or 0) >= 100:
                break
            if job["state"].startswith(("Offline", "Error")):
                raise RuntimeError(f"OctoPrint: {job['state']}")
            time.sleep(0.02)
        elapsed = time.monotonic() - started
        time.sleep(0.5)
        own = server.api("GET", "/api/job")["job"].get("lastPrintTime")
        note = f"OctoPrint's own print time {own:.1f} s" if own else ""
    finally:
        server.stop()
        stats = emu.stop()
    return Run(
        "OctoPrint 1.11.8",
        baud,
        elapsed,
        len(prepare(file)),
        stats["bytes_in"],
        stats["lines_in"],
        note,
    )


def summary(runs: list[Run]) -> str:
    """Median lines/s and link share over the runs, with their spread (min-max)."""
    rates = sorted(r.rate for r in runs)
    shares = sorted(r.share * 100 for r in runs)
    return (
        f"{statistics.median(rates):>8.0f} {statistics.median(shares):>6.1f}% "
        f"({shares[0]:.1f}-{shares[-1]:.1f}) "
        f"{statistics.median(r.bytes_per_line for r in runs):>7.1f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, default=CORPUS / "prusaslicer-vase.gcode")
    parser.add_argument("--baud", type=int, nargs="+", default=[115200, 250000])
    parser.add_argument(
        "--speed", type=float, default=2000.0, help="emulated seconds per real second"
    )
    parser.add_argument("--runs", type=int, default=5, help="runs per host and baud rate")
    parser.add_argument("--skip-octoprint", action="store_true")
    args = parser.parse_args()
    runs: dict[tuple[int, str], list[Run]] = {}
    with tempfile.TemporaryDirectory(prefix="fabqueue-bench-") as tmp:
        for baud in args.baud:
            for k in range(args.runs):
                # Interleaved, so a neighbour's load on the machine falls on every host.
                got = [
                    asyncio.run(run_ours(args.file, baud, args.speed, True, Path(tmp))),
                    asyncio.run(run_ours(args.file, baud, args.speed, False, Path(tmp))),
                ]
                if not args.skip_octoprint:
                    got.append(run_octoprint(args.file, baud, args.speed, Path(tmp)))
                for run in got:
                    runs.setdefault((baud, run.host), []).append(run)
                    print(f"  run {k + 1}: {run}", file=sys.stderr)
    lines = len(prepare(args.file))
    print(
        f"\n{args.file.name}: {lines} G-code lines; emulator clock x{args.speed:g}, "
        f"16-block planner; median of {args.runs} runs (link % spread min-max)"
    )
    print(f"{'baud':>7}  {'host':<30} {'lines/s':>8} {'link %':>7} {'spread':>11} {'B/line':>7}")
    for (baud, host), group in runs.items():
        print(f"{baud:>7}  {host:<30} {summary(group)}  {group[-1].note}")
    for baud in args.baud:
        ours = runs[(baud, "fabqueue, ADVANCED_OK window")]
        octo = runs.get((baud, "OctoPrint 1.11.8"))
        if octo:
            ratio = statistics.median(r.rate for r in ours) / statistics.median(
                r.rate for r in octo
            )
            print(f"{baud:>7}  windowed / OctoPrint: {ratio:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
