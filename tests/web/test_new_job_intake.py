"""The new-job page with files as people bring them: a model sliced and priced, a logo
from a PDF page or a photo traced (the threshold previewed as it moves), a cutter job's
own mirror and weeding border carried to the machine, and the job page's outcome."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from fabqueue.models import Job
from fabqueue.services.analysis import CHOICES_KEY
from fabqueue.states import JobState
from tests.conftest import Api
from tests.support.intake import LOGO, binary_stl, box_triangles, filled, logo_pdf, render_png
from tests.support.waiting import wait_for
from tests.support.web import STICKER, csrf_of, idem_of, intake_profiles, text_of

HX = {"HX-Request": "true", "HX-Target": "understood"}


@pytest.fixture
def profiles_dir(tmp_path: Path) -> Path:
    return intake_profiles(tmp_path / "profiles")


def _form(client: TestClient, path: str = "/jobs/new") -> dict[str, str]:
    html = client.get(path).text
    return {"csrf": csrf_of(html), "idem": idem_of(html)}


def _jobs(api: Api) -> list[Job]:
    with api.ctx.read_sessions() as session:
        return list(session.exec(select(Job).order_by(Job.id)))  # type: ignore[arg-type]


def _price_ht(html: str) -> Decimal:
    found = re.search(r"([\d  ]+,\d\d) € HT", text_of(html))
    assert found, text_of(html)[:1500]
    return Decimal(found.group(1).replace(" ", "").replace(",", "."))


def _duration_s(html: str) -> int:
    found = re.search(r'id="duration">([^<]+)<', html)
    assert found, html[:1500]
    hours = re.search(r"(\d+) h", found.group(1))
    minutes = re.search(r"(\d+) min|h (\d+)", found.group(1))
    total = int(hours.group(1)) * 3600 if hours else 0
    if minutes:
        total += int(next(g for g in minutes.groups() if g)) * 60
    return total


def _post(client: TestClient, url: str, path: Path, name: str, **fields: Any) -> Any:
    field = fields.pop("field", "file")
    return client.post(
        url,
        headers=fields.pop("headers", HX),
        data={"copies": "1", **fields},
        files={field: (name, path.read_bytes(), "application/octet-stream")},
    )


@pytest.fixture
def box(tmp_path: Path) -> Path:
    return binary_stl(tmp_path / "cube.stl", box_triangles(20, 20, 12))


@pytest.mark.slow
@pytest.mark.usefixtures("tool_prusa_slicer")
def test_a_model_is_sliced_and_priced_before_it_is_queued(
    staff: TestClient, web: Api, box: Path
) -> None:
    form = _form(staff)
    draft = _post(staff, "/jobs/new/understand", box, "cube.stl", csrf=form["csrf"],
                  material="pla-noir", preset="brouillon")  # fmt: skip
    assert draft.status_code == 200, draft.text
    words = text_of(draft.text)
    assert "Découpage du modèle" in words and "découpé par PrusaSlicer" in words, words[:1500]
    assert re.search(r"Filament \d+,\d g", words), words
    fine = _post(staff, "/jobs/new/understand", box, "cube.stl", csrf=form["csrf"],
                 material="pla-noir", preset="fin")  # fmt: skip
    assert _duration_s(fine.text) > _duration_s(draft.text), "fine layers take longer"
    assert _price_ht(fine.text) > _price_ht(draft.text) > 0
    assert _jobs(web) == [], "understanding a model queues nothing"
    r = _post(staff, "/jobs/new", box, "cube.stl", headers={}, **form, material="pla-noir",
              preset="fin", hold="1")  # fmt: skip
    assert r.status_code == 200, text_of(r.text)[:800]
    (job,) = _jobs(web)
    assert job.file_type == "gcode" and job.file_name == "cube.gcode"
    assert job.analysis["details"]["made_from"]["preset"] == "fin"


@pytest.mark.slow
@pytest.mark.usefixtures("tool_prusa_slicer")
def test_a_model_larger_than_the_bed_is_offered_a_scale_never_scaled_silently(
    staff: TestClient, tmp_path: Path
) -> None:
    big = binary_stl(tmp_path / "big.stl", box_triangles(500, 100, 20))
    form = _form(staff)
    r = _post(staff, "/jobs/new/understand", big, "big.stl", csrf=form["csrf"])
    words = text_of(r.text)
    assert "ne tient pas" in words and "plateau" in words, words[:1500]
    offered = re.search(r'name="scale_to" value="([\d.]+)"', r.text)
    assert offered and 0 < float(offered.group(1)) < 1
    scaled = _post(staff, "/jobs/new/understand", big, "big.stl", csrf=form["csrf"],
                   scale_to=offered.group(1))  # fmt: skip
    assert "Ce que fabqueue a compris" in text_of(scaled.text), text_of(scaled.text)[:1500]


@pytest.mark.usefixtures("tool_prusa_slicer")
def test_a_model_drawn_in_inches_is_explained_in_french(staff: TestClient, tmp_path: Path) -> None:
    tiny = binary_stl(tmp_path / "tiny.stl", box_triangles(1.2, 1.0, 0.8))
    r = _post(staff, "/jobs/new/understand", tiny, "tiny.stl", csrf=_form(staff)["csrf"])
    words = text_of(r.text)
    assert "pouces" in words and "25,4" in words, words[:1500]
    assert 'name="scale_to" value="25.4"' in r.text


@pytest.fixture
def logo_png(tmp_path: Path) -> Path:
    pdf = logo_pdf(tmp_path / "logo.pdf", filled(LOGO, tmp_path / "filled.svg"), width_mm=100)
    return render_png(pdf, tmp_path / "logo", 800)


@pytest.mark.usefixtures("tool_potrace", "tool_pdftocairo")
def test_a_photographed_logo_is_traced_with_a_live_threshold_and_queued(
    staff: TestClient, web: Api, logo_png: Path
) -> None:
    form = _form(staff)
    assert 'capture="environment"' in staff.get("/jobs/new").text
    preview = {"HX-Request": "true", "HX-Target": "trace-preview"}
    light = _post(staff, "/jobs/new/trace-preview", logo_png, "logo.png", field="photo",
                  headers=preview, csrf=form["csrf"], threshold="40")  # fmt: skip
    dark = _post(staff, "/jobs/new/trace-preview", logo_png, "logo.png", field="photo",
                 headers=preview, csrf=form["csrf"], threshold="250")  # fmt: skip
    assert light.status_code == dark.status_code == 200
    assert 'id="trace-preview"' in light.text and "data:image/svg+xml;base64," in light.text
    assert light.text != dark.text, "the threshold changes what is traced"
    understood = _post(staff, "/jobs/new/understand", logo_png, "logo.png", field="photo",
                       csrf=form["csrf"], material="vinyle-noir", threshold="128")  # fmt: skip
    words = text_of(understood.text)
    assert "Tracé de l’image" in words and "prise de biais" in words, words[:1500]
    assert _price_ht(understood.text) > 0
    r = _post(staff, "/jobs/new", logo_png, "logo.png", field="photo", headers={}, **form,
              material="vinyle-noir", hold="1")  # fmt: skip
    assert r.status_code == 200, text_of(r.text)[:800]
    (job,) = _jobs(web)
    assert job.file_type == "svg" and job.analysis["details"]["made_from"]["traced"] is True


@pytest.mark.usefixtures("tool_pdftocairo")
def test_a_pdf_of_several_pages_asks_which_page(staff: TestClient, tmp_path: Path) -> None:
    pdf = logo_pdf(tmp_path / "two.pdf", filled(LOGO, tmp_path / "f.svg"), width_mm=80, pages=2)
    form = _form(staff)
    asked = _post(staff, "/jobs/new/understand", pdf, "two.pdf", csrf=form["csrf"])
    words = text_of(asked.text)
    assert "2 pages" in words and "choisissez la page" in words.lower(), words[:1500]
    assert '<select id="page" name="page">' in asked.text
    chosen = _post(staff, "/jobs/new/understand", pdf, "two.pdf", csrf=form["csrf"], page="2")
    assert "Ce que fabqueue a compris" in text_of(chosen.text), text_of(chosen.text)[:1500]
    assert '<option value="2" selected>' in chosen.text


def test_flex_is_mirrored_by_default_and_the_jobs_choices_are_kept(
    staff: TestClient, web: Api
) -> None:
    form = _form(staff)
    sticker = {"files": {"file": (STICKER.name, STICKER.read_bytes(), "image/svg+xml")}}
    first = staff.post(
        "/jobs/new/understand", headers=HX, data={"csrf": form["csrf"], "material": "flex-blanc"},
        **sticker,
    )  # fmt: skip
    mirror = re.search(r'<input type="checkbox" name="mirror" value="1"( checked)?>', first.text)
    assert mirror and mirror.group(1), "flex is mirrored unless the facilitator says otherwise"
    key = re.search(r'name="choices_for" value="([^"]*)"', first.text)
    assert key
    bordered = staff.post(
        "/jobs/new/understand", headers=HX, **sticker,
        data={"csrf": form["csrf"], "material": "flex-blanc", "choices_for": key.group(1),
              "weeding_border": "1"},
    )  # fmt: skip
    assert '<input type="checkbox" name="mirror" value="1">' in bordered.text, "unticked"
    r = staff.post(
        "/jobs/new", follow_redirects=False, **sticker,
        data={**form, "material": "flex-blanc", "choices_for": key.group(1),
              "weeding_border": "1", "hold": "1"},
    )  # fmt: skip
    assert r.status_code == 303
    (job,) = _jobs(web)
    assert job.analysis["details"][CHOICES_KEY] == {"mirror": False, "weeding_border": True}


def test_the_job_page_asks_good_or_redo_when_its_machine_waits(staff: TestClient, web: Api) -> None:
    form = _form(staff)
    staff.post(
        "/jobs/new",
        data={**form, "material": "vinyle-noir"},
        files={"file": (STICKER.name, STICKER.read_bytes(), "image/svg+xml")},
    )
    (job,) = _jobs(web)

    def state() -> JobState:
        with web.ctx.read_sessions() as session:
            found = session.get(Job, job.id)
            assert found is not None
            return found.state

    wait_for(lambda: state() == JobState.awaiting_operator, timeout=30, what="the cut ends")
    page = staff.get(f"/jobs/{job.id}")
    words = text_of(page.text)
    assert "Vinyle échenillé ?" in words and "Bonne" in words and "À refaire" in words
    r = staff.post(
        "/machines/plotter/outcome",
        data={**_form(staff, f"/jobs/{job.id}"), "outcome": "good", "next": f"/jobs/{job.id}"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == f"/jobs/{job.id}"
    assert state() == JobState.succeeded


def test_without_the_tools_the_page_says_slicing_and_tracing_are_unavailable(
    staff: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from dataclasses import replace

    from jobs import registry

    for file_type in ("stl", "3mf", "obj", "png", "jpg", "jpeg"):
        spec = registry.SOURCES[file_type]
        monkeypatch.setitem(registry.SOURCES, file_type, replace(spec, available=lambda: False))
    page = text_of(staff.get("/jobs/new").text)
    assert "Le découpage des modèles 3D (STL, 3MF, OBJ) est indisponible" in page
    assert "La vectorisation des images (PNG, JPEG) est indisponible" in page
    assert "Prendre une photo" not in page, "no camera when nothing can trace its picture"
    cube = binary_stl(tmp_path / "cube.stl", box_triangles(20, 20, 12))
    r = _post(staff, "/jobs/new/understand", cube, "cube.stl", csrf=_form(staff)["csrf"])
    words = text_of(r.text)
    assert "prusa-slicer n’est pas installé" in words, words[:1500]
