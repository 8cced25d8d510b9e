"""Issue 11's denial of service, against the real service in its own process: six arc
bombs and three 20 MB files of zeros at once. The server keeps answering, keeps its
memory, refuses each hostile file with its reason, and takes a normal job meanwhile."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.attack import ARC_BOMBS, ZERO_FILES, attack, pct, start_service
from tests.support.hostile import EXP_REFUSALS
from tests.support.service import Service

pytestmark = pytest.mark.slow

CPU_S = 2
NORMAL_WAIT_S = 20.0
"""Another person's normal upload is accepted (stored and analysed) within this while the
attack holds a worker: 0.5 s measured on 2 cores at a load average of 7, 2.5–7.9 s at
21; in arrival order it waited behind the hostile files (66–153 s at the default CPU
allowance)."""


@pytest.fixture
def service(tmp_path: Path) -> Iterator[Service]:
    # A short CPU allowance keeps the test short; the default (20 s) only makes the
    # attack last longer, with the same protection.
    svc = start_service(tmp_path, {"FABQUEUE_WORKER_CPU_S": str(CPU_S)})
    yield svc
    svc.stop()


@pytest.mark.timeout(600)
def test_hostile_uploads_do_not_take_the_server_down(service: Service, tmp_path: Path) -> None:
    figures = attack(service, tmp_path)
    print(figures.summary())
    assert figures.poll_errors == []
    assert pct(figures.health_ms, 99) < 250, figures.summary()
    assert pct(figures.jobs_ms, 99) < 250, figures.summary()
    assert max(figures.server_rss_mb) < 400, figures.summary()
    bombs = [h for h in figures.hostile if h[0].endswith(".gcode")]
    zeros = [h for h in figures.hostile if h[0].endswith(".exp")]
    assert len(bombs) == ARC_BOMBS and len(zeros) == ZERO_FILES
    # The reader's per-file arc budget speaks first (naming the line); behind it the
    # CPU limit, or on a machine loaded enough that a niced worker cannot get its CPU
    # seconds, the wall-clock backstop: all refuse with their reason.
    budget = "arcs (G2/G3) need more than"
    refusals = (
        f"this gcode file is refused: reading it took more than {CPU_S} s of CPU",
        f"this gcode file is refused: reading it was not done after {CPU_S * 10 + 30} s",
    )
    for name, status, detail in bombs:
        assert status == 422 and (detail in refusals or budget in detail), (name, detail)
    for name, status, detail in zeros:
        assert status == 422, (name, detail)
        assert any(r in detail for r in EXP_REFUSALS), detail
    assert figures.normal_status == 201
    assert figures.normal_submit_s < NORMAL_WAIT_S, figures.summary()
    assert figures.normal_submit_s < figures.attack_s / 2, figures.summary()
    assert figures.normal_state in ("running", "awaiting_operator", "succeeded")
