"""What telling people costs, on SQLite in a temporary folder:

1. the price of a job reaching ``succeeded`` with its « prêt à récupérer » written in
   the same transaction (a member's job) against one that tells nobody (staff's own),
   per job, median of 5 runs of 100 jobs;
2. the sender's throughput to a local SMTP server (aiosmtpd): render, claim, send and
   mark 100 e-mails, per e-mail, median of 5 runs.

    .venv/bin/python bench/notify.py
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fabqueue.db import make_engine, make_session_factory, session_scope, upgrade  # noqa: E402
from fabqueue.models import Role  # noqa: E402
from fabqueue.settings import Settings  # noqa: E402
from fabqueue.states import JobState  # noqa: E402
from tests.support.jobs import run_job  # noqa: E402
from tests.support.notify import T0, cafe_profiles, mail_settings, make_sender, new_job, person  # noqa: E402
from tests.support.quotes import SetClock  # noqa: E402
from tests.support.smtp import smtp_server  # noqa: E402

JOBS = 100
RUNS = 5


def finish_all(sessions: object, jobs: list[int]) -> float:
    start = time.perf_counter()
    for job_id in jobs:
        with session_scope(sessions) as s:  # type: ignore[arg-type]
            run_job(s, job_id, JobState.succeeded, machine="printer", at=T0)
    return (time.perf_counter() - start) / len(jobs)


def main() -> None:
    moves: dict[str, list[float]] = {"member (tells)": [], "staff (tells nobody)": []}
    sends: list[float] = []
    with smtp_server() as server:
        for run in range(RUNS):
            with tempfile.TemporaryDirectory() as tmp:
                root = Path(tmp)
                url = f"sqlite:///{root / 'b.db'}"
                engine = make_engine(url)
                upgrade(engine)
                sessions = make_session_factory(engine, None)
                settings = Settings(
                    db_url=url, data_dir=root / "data", profiles_dir=cafe_profiles(root / "p")
                )
                member = person(sessions, f"lea{run}", Role.member, "lea@exemple.fr")
                staff = person(sessions, f"cam{run}", Role.facilitator, None)
                for label, owner in (("member (tells)", member), ("staff (tells nobody)", staff)):
                    jobs = [new_job(sessions, owner) for _ in range(JOBS)]
                    moves[label].append(finish_all(sessions, jobs))
                sender = make_sender(mail_settings(settings, server), sessions, SetClock(T0))
                start = time.perf_counter()
                while sender.sent < JOBS:
                    sender.run_once()
                sends.append((time.perf_counter() - start) / JOBS)
                engine.dispose()
    for label, values in moves.items():
        ms = [v * 1000 for v in values]
        print(
            f"job to succeeded, {label}: median {statistics.median(ms):.2f} ms "
            f"(min {min(ms):.2f}, max {max(ms):.2f})"
        )
    ms = [v * 1000 for v in sends]
    print(
        f"e-mail sent (render + claim + SMTP + mark): median {statistics.median(ms):.2f} ms "
        f"(min {min(ms):.2f}, max {max(ms):.2f})"
    )


if __name__ == "__main__":
    main()
