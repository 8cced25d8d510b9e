"""G-code through the API: fit refusals, previews, material grams, learnt corrections."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlmodel import select

from fabqueue.db import session_scope
from fabqueue.models import Job, MachineRecord
from fabqueue.settings import Settings
from fabqueue.states import JobState
from tests.conftest import Api
from tests.support.api import submit
from tests.support.factories import CORPUS
from tests.support.jobs import run_job

GCODE = CORPUS / "gcode"


@pytest.fixture
def held_api(make_api, settings: Settings) -> Api:
    return make_api(settings.model_copy(update={"start_dispatcher": False}))


def part(tmp_path: Path, body: str, name: str = "part.gcode") -> Path:
    path = tmp_path / name
    path.write_text("G21\nG90\nM83\nG1 Z0.2 F600\n" + body)
    return path


def test_extrusion_beyond_the_bed_is_refused_naming_axis_and_overshoot(
    held_api: Api, tmp_path: Path
) -> None:
    # The test printer: 250 x 210 x 210 mm, Y from -4.
    r = submit(held_api, part(tmp_path, "G1 X10 Y10 E1 F1200\nG1 X10 Y215 E5\n"), machine="printer")
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "does not fit printer: Y reaches 215.0 mm, 9.0 mm beyond the 206 mm build volume"
    )
    r = submit(held_api, part(tmp_path, "G1 Z212\nG1 X10 Y10 E1 F1200\n"), machine="printer")
    assert r.status_code == 422
    assert "Z reaches 212.0 mm, 2.0 mm beyond the 210 mm build volume" in r.json()["detail"]


def test_travel_may_go_a_little_beyond_but_not_far(held_api: Api, tmp_path: Path) -> None:
    body = "G1 X10 Y10 E1 F1200\nG1 X{x} Y10\n"
    near = submit(held_api, part(tmp_path, body.format(x=255)), machine="printer")
    assert near.status_code == 201, near.text  # 5 mm past X, within the 10 mm margin
    far = submit(held_api, part(tmp_path, body.format(x=275)), machine="printer")
    assert far.status_code == 422
    assert far.json()["detail"] == (
        "does not fit printer: travel moves: X reaches 275.0 mm, 25.0 mm beyond the 250 mm "
        "build volume"
    )


def test_the_analysis_carries_our_estimate_and_the_slicer_s(held_api: Api) -> None:
    r = submit(held_api, GCODE / "prusaslicer-plant-sign.gcode", machine="printer")
    assert r.status_code == 201, r.text
    a = r.json()["analysis"]
    assert a["analyzer"] == "gcode-planner"
    d = a["details"]
    assert d["slicer_duration_s"] == 27 * 60 + 14
    assert a["duration_s"] == pytest.approx(d["motion_s"] + d["dwell_s"])
    assert a["duration_s"] == pytest.approx(27 * 60 + 14, rel=0.03)
    assert d["heatup_s"] > 0 and d["overhead_s"] > 0
    assert a["material"]["filament_mm"] == pytest.approx(1645.0, rel=0.005)
    assert "correction_factor" not in d  # a simulated printer teaches nothing


def test_previews(held_api: Api) -> None:
    h = held_api.headers()
    png = submit(held_api, GCODE / "prusaslicer-screw.gcode", machine="printer").json()
    got = held_api.client.get(f"/api/v1/jobs/{png['id']}/preview", headers=h)
    assert got.status_code == 200
    assert got.headers["content-type"] == "image/png"
    assert got.content.startswith(b"\x89PNG")
    svg = submit(held_api, GCODE / "cura-puzzle.gcode", machine="printer").json()
    got = held_api.client.get(f"/api/v1/jobs/{svg['id']}/preview", headers=h)
    assert got.status_code == 200
    assert got.headers["content-type"].startswith("image/svg+xml")
    assert b"94.2 \xc3\x97 64.4" in got.content


def test_grams_come_from_the_chosen_material(held_api: Api) -> None:
    path = GCODE / "slic3r-duplo-tracks.gcode"  # the file gives no density
    plain = submit(held_api, path, machine="printer").json()["analysis"]
    petg = submit(held_api, path, machine="printer", material="petg-bleu").json()["analysis"]
    length = petg["material"]["filament_mm"]
    assert length == plain["material"]["filament_mm"]
    assert petg["material"]["filament_g"] == pytest.approx(
        length * 3.14159265 * 0.875**2 * 1.27 / 1000, abs=0.002
    )
    assert petg["details"]["material_density_g_cm3"] == 1.27
    assert any("no filament density" in w for w in plain["warnings"])
    assert not any("no filament density" in w for w in petg["warnings"])


def test_a_learnt_correction_is_stored_beside_the_raw_estimate(
    held_api: Api, tmp_path: Path
) -> None:
    sessions = held_api.ctx.sessions
    # Three finished prints on this printer took 10 % longer than estimated, once heat-up
    # and homing are taken out.
    for _ in range(3):
        job = submit(held_api, GCODE / "prusaslicer-vase.gcode", machine="printer").json()
        d = job["analysis"]["details"]
        actual = job["analysis"]["duration_s"] * 1.1 + d["heatup_s"] + d["homing_s"]
        with session_scope(sessions) as s:
            row = s.get(Job, job["id"])
            assert row is not None
            run_job(
                s,
                job["id"],
                JobState.succeeded,
                machine="printer",
                at=row.created_at,
                values={
                    "actual_duration_s": actual,
                    "finished_at": row.created_at + timedelta(hours=2),
                },
            )
    # The test printer is simulated: its times teach nothing...
    raw = submit(held_api, GCODE / "prusaslicer-screw.gcode", machine="printer").json()
    assert "correction_factor" not in raw["analysis"]["details"]
    # ...a real one's do.
    with session_scope(sessions) as s:
        record = s.exec(select(MachineRecord).where(MachineRecord.slug == "printer")).one()
        record.driver = "marlin_serial"
        s.add(record)
    held_api.ctx.machines.forget()  # the catalog rereads machines every 2 s; not wait
    job = submit(held_api, GCODE / "prusaslicer-screw.gcode", machine="printer").json()
    a = job["analysis"]
    assert a["duration_s"] == raw["analysis"]["duration_s"]  # the raw estimate is kept
    assert a["details"]["correction_factor"] == pytest.approx(1.1)
    assert a["details"]["correction_samples"] == 3
    assert a["details"]["duration_corrected_s"] == pytest.approx(a["duration_s"] * 1.1, abs=0.1)
