"""Issue 11's attack on the real service: 6 arc bombs and 3 files of 20 MB of zeros
uploaded at once, /health and the job list polled meanwhile, a normal job in the middle.

Prints the readers' latencies, the server's peak RSS, each hostile file's answer, and
how long the normal job (somebody else's) waited for its answer. Targets: p99 < 250 ms,
RSS < 400 MB, every hostile file refused with its reason, the normal job accepted and
dispatched within seconds.

    .venv/bin/python bench/hostile.py [--runs 3] [--cpu-s 20]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.attack import attack, pct, start_service  # noqa: E402


def one_run(cpu_s: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="fabqueue-hostile-") as tmp:
        root = Path(tmp)
        svc = start_service(root, {"FABQUEUE_WORKER_CPU_S": str(cpu_s)})
        try:
            figures = attack(svc, root)
        finally:
            svc.stop()
    for name, status, detail in figures.hostile:
        print(f"  {name:<14} {status}  {detail[:110]}")
    summary = figures.summary()
    print(f"  {summary}")
    return {
        "health_p99": pct(figures.health_ms, 99),
        "jobs_p99": pct(figures.jobs_ms, 99),
        "health_p50": statistics.median(figures.health_ms),
        "jobs_p50": statistics.median(figures.jobs_ms),
        "rss": max(figures.server_rss_mb),
        "normal_s": figures.normal_submit_s,
        "attack_s": figures.attack_s,
        "refused": sum(1 for h in figures.hostile if h[1] == 422),
        "normal_ok": float(figures.normal_status == 201 and bool(figures.normal_state)),
        "errors": float(len(figures.poll_errors)),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--cpu-s", type=int, default=20, help="FABQUEUE_WORKER_CPU_S")
    args = parser.parse_args()
    runs = []
    for i in range(args.runs):
        print(f"run {i + 1}:")
        runs.append(one_run(args.cpu_s))
    print(f"\n{args.runs} runs, worker CPU limit {args.cpu_s} s, 2 workers")
    print(f"{'metric (median)':<26}{'value':>10}{'spread':>18}{'target':>10}")
    targets = {"health_p99": "< 250", "jobs_p99": "< 250", "rss": "< 400"}
    for key, label in (
        ("health_p50", "/health p50 (ms)"),
        ("health_p99", "/health p99 (ms)"),
        ("jobs_p50", "GET /jobs p50 (ms)"),
        ("jobs_p99", "GET /jobs p99 (ms)"),
        ("rss", "server RSS max (MB)"),
        ("attack_s", "attack lasted (s)"),
        ("normal_s", "normal job wait (s)"),
        ("refused", "hostile refused (of 9)"),
        ("normal_ok", "normal job dispatched"),
        ("errors", "reader errors"),
    ):
        values = [r[key] for r in runs]
        spread = f"{min(values):.1f}–{max(values):.1f}"
        med = statistics.median(values)
        print(f"{label:<26}{med:>10.1f}{spread:>18}{targets.get(key, ''):>10}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
