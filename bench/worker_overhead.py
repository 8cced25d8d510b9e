"""What the worker pool adds to one analysis: PrusaSlicer's benchy analysed in this
process (before) and through a warm pool worker (after), one at a time.

    .venv/bin/python bench/worker_overhead.py [--repeat 15]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fabqueue.workers import WorkerLimits, WorkerPool, tasks  # noqa: E402
from tests.support.factories import CORPUS  # noqa: E402

BENCHY = CORPUS / "gcode" / "prusaslicer-benchy.gcode"


def timed(fn: object, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()  # type: ignore[operator]
        out.append((time.perf_counter() - t0) * 1000)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    tasks.analyze(BENCHY, "gcode", None)  # imports and caches warm, as in a worker
    inline = timed(lambda: tasks.analyze(BENCHY, "gcode", None), args.repeat)
    pool = WorkerPool(1, WorkerLimits())
    try:
        t0 = time.perf_counter()
        pool.run(tasks.analyze, BENCHY, "gcode", None)
        first = (time.perf_counter() - t0) * 1000
        pooled = timed(lambda: pool.run(tasks.analyze, BENCHY, "gcode", None), args.repeat)
        echo = timed(lambda: pool.run(tasks.pid_of_worker), args.repeat)
    finally:
        pool.close()

    def line(name: str, ms: list[float]) -> None:
        print(f"{name:<34}{statistics.median(ms):>9.1f}{min(ms):>9.1f}{max(ms):>9.1f}")

    print(f"benchy ({BENCHY.stat().st_size / 1e6:.1f} MB), {args.repeat} runs each, ms")
    print(f"{'':<34}{'median':>9}{'min':>9}{'max':>9}")
    line("in this process (before)", inline)
    line("through a warm worker (after)", pooled)
    line("empty task round trip", echo)
    print(f"first task (starts the worker)    {first:>9.1f}")
    overhead = statistics.median(pooled) - statistics.median(inline)
    print(f"overhead per analysis (median)    {overhead:>9.1f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
