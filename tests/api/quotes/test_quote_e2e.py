"""End to end with the dispatcher and a simulated printer: an accepted quote's jobs run,
wait for the operator, and their machine time reaches the estimates report."""

from __future__ import annotations

import statistics
from pathlib import Path
from typing import Any

import pytest

from fabqueue.settings import Settings
from jobs.base import MachineKind
from jobs.registry import ANALYZERS, AnalyzerSpec
from tests.conftest import Api
from tests.support.api import confirm, wait_state
from tests.support.quotes import (
    BENCHY,
    add_design,
    fixed_gcode_analysis,
    make_client,
    quote_profiles,
    staff,
)
from tests.support.workers import InlineWorkers


@pytest.fixture
def live(make_api: Any, settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Api:
    monkeypatch.setitem(
        ANALYZERS, "gcode", AnalyzerSpec(MachineKind.fdm_printer, fixed_gcode_analysis)
    )
    root = quote_profiles(tmp_path / "live-profiles", "franchise_293B")
    return make_api(  # type: ignore[no-any-return]
        settings.model_copy(update={"profiles_dir": root}), workers=InlineWorkers()
    )


def test_quote_jobs_run_and_report_their_time(live: Api) -> None:
    _org, client = make_client(live)
    q = live.client.post("/api/v1/quotes", headers=client, json={"title": "Bateaux"}).json()
    add_design(live, q["id"], BENCHY, client, quantity=2)
    live.client.post(f"/api/v1/quotes/{q['id']}/draft", headers=staff(live))
    sent = live.client.post(f"/api/v1/quotes/{q['id']}/send", headers=staff(live)).json()
    live.client.post(
        f"/api/v1/quotes/{q['id']}/accept",
        headers=client,
        json={"signer_name": "Céleste", "agree": True},
    )
    r = live.client.post(f"/api/v1/quotes/{q['id']}/convert", headers=staff(live), json={})
    assert r.status_code == 200, r.text
    first, second = r.json()["job_ids"]
    assert sent["totals"]["vat"] == []

    # The jobs ask for the default filament: they wait until it is on the printer.
    assert live.client.get(f"/api/v1/jobs/{first}", headers=client).json()["material"] == "pla-noir"
    r = live.client.put(
        "/api/v1/machines/printer/material", headers=staff(live), json={"material": "pla-noir"}
    )
    assert r.status_code == 200, r.text
    done = wait_state(live, first, "awaiting_operator")
    assert done["actual_duration_s"] > 0
    # The second copy waits for the operator to clear the bed.
    assert live.client.get(f"/api/v1/jobs/{second}", headers=client).json()["state"] == "queued"
    assert confirm(live, "good").status_code == 200
    done2 = wait_state(live, second, "awaiting_operator")
    assert confirm(live, "good").status_code == 200

    jobs = live.client.get(f"/api/v1/quotes/{q['id']}/jobs", headers=client).json()["data"]
    assert [j["state"] for j in jobs] == ["succeeded", "succeeded"]
    [fdm] = live.client.get("/api/v1/reports/estimates", headers=staff(live)).json()
    ratios = [done["actual_duration_s"] / 2323, done2["actual_duration_s"] / 2323]
    assert fdm["duration"]["count"] == 2
    assert fdm["duration"]["median"] == pytest.approx(statistics.median(ratios))
