"""Models and logos through the ordinary job API: made, analysed, priced, kept; the live
trace preview; and a node without the tools says so."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from fabqueue.services import intake as intake_service
from fabqueue.settings import Settings
from fabqueue.workers import MODELS_LANE
from jobs.models3d import slice as slicing
from tests.conftest import Api
from tests.support.api import submit, with_profiles
from tests.support.factories import sim_printer
from tests.support.intake import (
    LOGO,
    binary_stl,
    box_triangles,
    filled,
    logo_pdf,
    render_png,
    with_slicing,
)
from tests.support.tools import needs

CUTTER = """
name = "Plotter"
kind = "vinyl_cutter"
materials = ["vinyle-noir"]
[driver]
type = "sim"
speed = 3600.0
[cutter]
roll_width_mm = 610
"""


@pytest.fixture
def api(make_api: Callable[..., Api], settings: Settings, tmp_path: Path) -> Api:
    custom = with_profiles(settings, tmp_path, {"printer": sim_printer(), "plotter": CUTTER})
    with_slicing(custom.profiles_dir)
    return make_api(custom)


@needs("prusa-slicer")
def test_a_model_too_big_for_the_bed_is_offered_a_scale_never_scaled_silently(
    api: Api, tmp_path: Path
) -> None:
    big = binary_stl(tmp_path / "big.stl", box_triangles(500, 100, 20))
    refused = submit(api, big)
    assert refused.status_code == 422
    # (250 mm - room for the skirt on both sides) / 500 mm: the offer must fit once sliced.
    assert "scale=0.468" in refused.json()["detail"]
    assert "never scaled without asking" in refused.json()["detail"]
    made = submit(api, big, scale="0.468")
    assert made.status_code == 201, made.text
    box = made.json()["analysis"]["bounds"]
    assert box["max_z"] == pytest.approx(20 * 0.468, abs=0.3)
    assert 233 < box["max_x"] - box["min_x"] <= 250  # 500 mm × 0.468, and the skirt around it


def test_a_missing_tool_is_said_at_submission_and_in_health(
    api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(slicing, "SLICER", "prusa-slicer-not-installed")
    model = binary_stl(tmp_path / "box.stl", box_triangles(20, 20, 10))
    refused = submit(api, model)
    assert refused.status_code == 422
    assert (
        "STL files cannot be taken on this node: prusa-slicer is not installed"
        in (refused.json()["detail"])
    )
    said = api.client.get("/api/v1/health").json()["unavailable"]
    assert "3MF, OBJ, STL files are refused: prusa-slicer is not installed" in said
    assert intake_service.unavailable() == said


@needs("pdftocairo")
def test_a_pdf_logo_becomes_a_vinyl_job_and_a_multi_page_one_asks(api: Api, tmp_path: Path) -> None:
    made = submit(api, logo_pdf(tmp_path / "logo.pdf"), material="vinyle-noir")
    assert made.status_code == 201, made.text
    body = made.json()
    assert body["file_type"] == "svg" and body["file_name"] == "logo.svg"
    assert body["analysis"]["counts"]["pieces"] == 64
    assert body["analysis"]["details"]["made_from"]["file_type"] == "pdf"
    two = logo_pdf(tmp_path / "two.pdf", pages=2)
    asked = submit(api, two)
    assert asked.status_code == 422 and "choose which one to cut (page=1 to 2)" in asked.text
    assert submit(api, two, page="2").status_code == 201


@needs("potrace")
def test_the_trace_preview_follows_the_threshold(api: Api, tmp_path: Path) -> None:
    png = render_png(
        logo_pdf(tmp_path / "f.pdf", filled(LOGO, tmp_path / "f.svg")), tmp_path / "f", 800
    )

    def preview(threshold: int) -> str:
        with png.open("rb") as fh:
            answer = api.client.post(
                "/api/v1/intake/trace-preview",
                headers=api.headers(),
                files={"file": ("logo.png", fh)},
                data={"threshold": str(threshold), "width_mm": "100"},
            )
        assert answer.status_code == 200, answer.text
        assert answer.headers["content-type"] == "image/svg+xml"
        return answer.text

    assert preview(128).count("M") >= 64
    with png.open("rb") as fh:
        none = api.client.post(
            "/api/v1/intake/trace-preview",
            headers=api.headers(),
            files={"file": ("logo.png", fh)},
            data={"threshold": "0"},
        )
    assert none.status_code == 422 and "raise it" in none.json()["detail"]
    made = submit(api, png, material="vinyle-noir", threshold="128", width_mm="100")
    assert made.status_code == 201, made.text
    details = made.json()["analysis"]["details"]["made_from"]
    assert details["traced"] is True and details["threshold"] == 128


@needs("prusa-slicer")
def test_an_open_mesh_is_sliced_and_the_counter_is_told_what_prusaslicer_found(
    api: Api, tmp_path: Path
) -> None:
    holed = binary_stl(tmp_path / "holed.stl", box_triangles(20, 20, 10)[:-1])
    lane = api.ctx.pool.lane(MODELS_LANE)
    assert lane is not api.ctx.pool and lane.started == 0
    made = submit(api, holed, hold="true")
    assert made.status_code == 201, made.text
    assert lane.started == 1  # sliced in the models' lane, not by the file workers
    analysis = made.json()["analysis"]
    said = analysis["details"]["made_from"]["mesh"]
    assert said["manifold"] is False and said["repaired"]["edges_fixed"] > 0
    assert (
        "the mesh is not closed (1 open edge(s) left); PrusaSlicer repaired it"
        in (analysis["warnings"][-1])
    )
