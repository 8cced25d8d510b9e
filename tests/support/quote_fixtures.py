"""Fixtures of the quote, client, report and invoice API tests (imported by their conftest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from fabqueue.settings import Settings
from jobs.base import MachineKind
from jobs.registry import ANALYZERS, AnalyzerSpec
from tests.conftest import Api
from tests.support.quotes import SetClock, fixed_gcode_analysis, quote_profiles
from tests.support.workers import InlineWorkers


@pytest.fixture
def clock() -> SetClock:
    return SetClock()


@pytest.fixture
def regime() -> str:
    return "normal"


@pytest.fixture
def qapi(
    make_api: Any,
    settings: Settings,
    tmp_path: Path,
    clock: SetClock,
    regime: str,
    monkeypatch: pytest.MonkeyPatch,
) -> Api:
    """The API with three machines, prices, a site of the ``regime`` fixture's VAT regime,
    a hand-moved clock, and no dispatcher (jobs stay where the API puts them)."""
    monkeypatch.setitem(
        ANALYZERS, "gcode", AnalyzerSpec(MachineKind.fdm_printer, fixed_gcode_analysis)
    )
    root = quote_profiles(tmp_path / "qprofiles", regime)
    return make_api(  # type: ignore[no-any-return]
        settings.model_copy(update={"profiles_dir": root, "start_dispatcher": False}),
        clock=clock,
        workers=InlineWorkers(),
    )
