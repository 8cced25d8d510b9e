"""The end-of-job table, and the content-addressed file store."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path

import pytest

from drivers.base import JobPhase
from fabqueue.dispatch.outcomes import ending_for
from fabqueue.models import Outcome, RunnerState
from fabqueue.states import JobState
from fabqueue.storage import FileStore, UploadTooLarge

WAIT = RunnerState.awaiting_operator
CASES = [
    # phase, auto_advance, ran -> job state, runner state
    (JobPhase.done, False, True, JobState.awaiting_operator, WAIT),
    (JobPhase.done, True, True, JobState.succeeded, None),
    (JobPhase.failed, False, True, JobState.failed, WAIT),
    (JobPhase.failed, True, True, JobState.failed, WAIT),  # a failed print is on the bed
    (JobPhase.failed, False, False, JobState.failed, None),  # nothing was made
    (JobPhase.cancelled, True, True, JobState.cancelled, WAIT),
    (JobPhase.cancelled, False, False, JobState.cancelled, None),
    (JobPhase.lost, True, True, JobState.interrupted, WAIT),
    (JobPhase.lost, False, False, JobState.interrupted, WAIT),
]


@pytest.mark.parametrize(("phase", "auto", "ran", "state", "runner"), CASES)
def test_endings(phase, auto, ran, state, runner) -> None:
    end = ending_for(phase, None, auto_advance=auto, ran=ran)
    assert (end.to, end.runner) == (state, runner)
    if state == JobState.succeeded:
        assert end.values["outcome"] == Outcome.good


def test_machine_message_is_kept() -> None:
    end = ending_for(
        JobPhase.failed, "Error:Printer halted. kill() called!", auto_advance=False, ran=True
    )
    assert end.reason == end.values["message"] == "Error:Printer halted. kill() called!"
    with pytest.raises(ValueError):
        ending_for(JobPhase.running, None, auto_advance=False, ran=True)


@pytest.mark.parametrize("auto", [False, True])
def test_a_finished_job_with_a_warning_waits_for_the_operator(auto: bool) -> None:
    warning = "line noise: the printer may have run a piece of a line out of order"
    end = ending_for(JobPhase.done, warning, auto_advance=auto, ran=True)
    assert (end.to, end.runner) == (JobState.awaiting_operator, WAIT)
    assert end.values["message"] == warning and warning in end.reason


def test_store_is_content_addressed(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    a = store.save(io.BytesIO(b"G1 X1\n"), limit=100)
    b = store.save(io.BytesIO(b"G1 X1\n"), limit=100)
    assert a == b
    assert a.path.read_bytes() == b"G1 X1\n"
    import hashlib

    assert a.sha256 == hashlib.sha256(b"G1 X1\n").hexdigest()
    assert len(a.sha256) == 64 and a.path.name == a.sha256
    with pytest.raises(UploadTooLarge):
        store.save(io.BytesIO(b"x" * 101), limit=100)
    assert list((tmp_path / "tmp").iterdir()) == []


def test_garbage_collection_spares_known_and_young_files(tmp_path: Path) -> None:
    store = FileStore(tmp_path)
    kept = store.save(io.BytesIO(b"kept"), limit=100)
    orphan = store.save(io.BytesIO(b"orphan"), limit=100)
    young = store.save(io.BytesIO(b"young"), limit=100)
    old = time.time() - 7200
    for s in (kept, orphan):
        os.utime(s.path, (old, old))
    assert store.collect_garbage({kept.sha256}) == 1
    assert kept.path.exists() and young.path.exists() and not orphan.path.exists()
