"""What a job's end on the machine means for the job and the machine. Pure."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from drivers.base import JobPhase
from fabqueue.models import Outcome, RunnerState
from fabqueue.states import ACTIVE_STATES, JobState


@dataclass(frozen=True)
class Ending:
    to: JobState
    expected: frozenset[JobState]
    reason: str
    runner: RunnerState | None
    """New runner state (None: unchanged)."""
    values: dict[str, Any] = field(default_factory=dict)


def ending_for(phase: JobPhase, message: str | None, *, auto_advance: bool, ran: bool) -> Ending:
    """The job's end, from the machine's final phase.

    Whatever is left on a machine after it worked (finished part, failed print, half a
    cut) waits for a person: the runner stops taking jobs until the operator confirms.
    Only a job that finished with ``auto_advance`` set goes straight to ``succeeded``.
    """
    leaves_something = RunnerState.awaiting_operator if ran else None
    if phase == JobPhase.done:
        if message:
            # A warning from the machine ("check the part") is for a person to read:
            # never confirmed automatically.
            return Ending(
                JobState.awaiting_operator,
                frozenset({JobState.running}),
                f"finished with a warning: {message}",
                RunnerState.awaiting_operator,
                {"message": message},
            )
        if auto_advance:
            return Ending(
                JobState.succeeded,
                frozenset({JobState.running}),
                "finished (auto-advance)",
                None,
                {"outcome": Outcome.good},
            )
        return Ending(
            JobState.awaiting_operator,
            frozenset({JobState.running}),
            "finished; waiting for the operator",
            RunnerState.awaiting_operator,
        )
    if phase == JobPhase.failed:
        return Ending(
            JobState.failed,
            ACTIVE_STATES,
            message or "the machine reported a failure",
            leaves_something,
            {"message": message},
        )
    if phase == JobPhase.cancelled:
        return Ending(JobState.cancelled, ACTIVE_STATES, message or "cancelled", leaves_something)
    if phase == JobPhase.lost:
        return Ending(
            JobState.interrupted,
            ACTIVE_STATES,
            message or "the machine lost the job",
            RunnerState.awaiting_operator,
            {"message": (message or "the machine lost the job")[:500]},
        )
    raise ValueError(f"{phase.value} is not a final phase")
