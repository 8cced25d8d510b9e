"""The quote desk: a shopkeeper's request becomes a priced, numbered devis, then jobs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.support.quotes import BENCHY, add_design, make_client, quote_profiles
from tests.support.web import add_person, csrf_of, idem_of, sign_in, text_of


@pytest.fixture
def profiles_dir(tmp_path: Path) -> Path:
    return quote_profiles(tmp_path / "profiles", "normal")


def _form(client: TestClient, path: str) -> dict[str, str]:
    html = client.get(path).text
    return {"csrf": csrf_of(html), "idem": idem_of(html)}


def test_a_request_is_priced_sent_accepted_and_turned_into_jobs(
    make_api: object, settings: object
) -> None:
    api: Api = make_api()  # type: ignore[operator]
    add_person(api.ctx.sessions, "camille", "facilitator")
    _org, client = make_client(api)
    q = api.client.post("/api/v1/quotes", headers=client, json={"title": "Bateaux"}).json()
    assert add_design(api, q["id"], BENCHY, client, quantity=2).status_code == 201
    desk = api.client
    sign_in(desk, "camille")

    listing = text_of(desk.get("/quotes").text)
    assert "Devis (1)" in listing and "demandé" in listing and "Boulangerie Céleste" in listing

    page = f"/quotes/{q['id']}"
    r = desk.post(f"{page}/do/draft", data=_form(desk, page))
    words = text_of(r.text)
    assert "brouillon" in words and "Règles de prix appliquées" in words
    assert re.search(r"\d+,\d\d € HT · \d+,\d\d € TTC", words), words[:1500]

    sent = desk.post(f"{page}/do/send", data=_form(desk, page))
    words = text_of(sent.text)
    number = re.search(r"DEV-\d{4}-\d{4}", words)
    assert number, words[:800]
    link = re.search(r'<code id="quote-link">(http://[^<]+)/devis/([\w-]+)</code>', sent.text)
    assert link and "envoyé" in words
    assert 'class="segno"' in sent.text, "the link's QR code is shown with it"
    assert re.search(r"valable jusqu’au \d{1,2} \w+ 20\d\d", words), words[:600]
    pdf = desk.get(f"{page}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")

    accepted = api.client.post(
        f"/api/v1/quotes/link/{link[2]}/accept", json={"signer_name": "Céleste", "agree": True}
    )
    assert accepted.status_code == 200, accepted.text
    converted = desk.post(f"{page}/do/convert", data=_form(desk, page))
    words = text_of(converted.text)
    assert "converti en travaux" in words
    assert len(re.findall(r'href="/jobs/\d+"', converted.text)) == 2


@pytest.mark.slow
@pytest.mark.usefixtures("tool_potrace", "tool_pdftocairo", "tool_prusa_slicer")
def test_the_desk_builds_lines_from_a_model_and_a_photographed_logo(
    make_api: object, tmp_path: Path
) -> None:
    from tests.support.intake import (
        LOGO,
        binary_stl,
        box_triangles,
        filled,
        logo_pdf,
        render_png,
        with_slicing,
    )

    api: Api = make_api()  # type: ignore[operator]
    with_slicing(api.ctx.settings.profiles_dir)
    add_person(api.ctx.sessions, "camille", "facilitator")
    _org, client = make_client(api)
    q = api.client.post("/api/v1/quotes", headers=client, json={"title": "Enseigne"}).json()
    desk = api.client
    sign_in(desk, "camille")
    page = f"/quotes/{q['id']}"
    assert "Un modèle 3D, un logo en PDF ou une image" in text_of(desk.get(page).text)

    pdf = logo_pdf(tmp_path / "logo.pdf", filled(LOGO, tmp_path / "filled.svg"), width_mm=100)
    png = render_png(pdf, tmp_path / "logo", 600)
    cube = binary_stl(tmp_path / "cube.stl", box_triangles(20, 20, 12))
    for path, fields in ((png, {"threshold": "100"}), (cube, {"preset": "brouillon"})):
        r = desk.post(
            f"{page}/designs",
            data={**_form(desk, page), **fields, "page": ""},
            files={"file": (path.name, path.read_bytes(), "application/octet-stream")},
        )
        assert r.status_code == 200, text_of(r.text)[:800]
    lines = api.client.get(f"/api/v1/quotes/{q['id']}", headers=client).json()["lines"]
    made = {line["file_name"]: line for line in lines if line.get("file_name")}
    assert set(made) == {"logo.svg", "cube.gcode"}, lines

    two = logo_pdf(tmp_path / "two.pdf", filled(LOGO, tmp_path / "f2.svg"), width_mm=80, pages=2)
    refused = desk.post(
        f"{page}/designs",
        data=_form(desk, page),
        files={"file": ("two.pdf", two.read_bytes(), "application/pdf")},
    )
    assert refused.status_code == 422 and "choisissez la page" in text_of(refused.text).lower()
