"""The café page (hours, closures, blocked machine time, machines in or out of service)
and the read-only profiles page with ``check-profiles`` problems."""

from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient
from sqlmodel import select

from fabqueue.models import BlockedTime, MachineRecord
from tests.conftest import Api
from tests.support.admin import form_keys
from tests.support.web import csrf_of, sign_in, text_of


def _staff(desk: Api) -> TestClient:
    sign_in(desk.client, "camille")
    return desk.client


def _block(client: TestClient, **fields: str) -> object:
    data = {
        **form_keys(client, "/admin/cafe"),
        "machine": "plotter",
        "day": "2026-03-03",
        "start": "14:00",
        "end": "16:00",
        "reason": "Atelier école",
        **fields,
    }
    return client.post("/admin/cafe/blocks", data=data, follow_redirects=False)


def test_hours_are_shown_as_the_site_sets_them(desk: Api) -> None:
    page = text_of(_staff(desk).get("/admin/cafe").text)
    assert "Mercredi 10:00 – 12:30, 14:00 – 19:00" in page
    assert "Lundi fermé" in page
    assert "Europe/Paris" in page


def test_staff_block_machine_time_and_free_it(desk: Api) -> None:
    client = _staff(desk)
    r = _block(client)
    assert r.status_code == 303  # type: ignore[attr-defined]
    page = text_of(client.get("/admin/cafe").text)
    assert "Atelier école" in page and "14:00" in page
    with desk.ctx.read_sessions() as session:
        (row,) = session.exec(select(BlockedTime)).all()
        assert row.created_by == desk.user_ids["camille"]
        assert row.starts_at.hour == 13  # 14:00 in Paris, winter time
    r = client.post(
        f"/admin/cafe/blocks/{row.id}/remove",
        data=form_keys(client, "/admin/cafe"),
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "Aucun créneau machine bloqué" in text_of(client.get("/admin/cafe").text)
    with desk.ctx.read_sessions() as session:
        kept = session.get(BlockedTime, row.id)
        assert kept is not None and kept.cancelled_at is not None  # nothing is deleted


def test_a_block_without_reason_or_with_a_bad_time_says_why(desk: Api) -> None:
    client = _staff(desk)
    r = _block(client, reason=" ")
    assert r.status_code == 422  # type: ignore[attr-defined]
    assert "Indiquez le motif" in text_of(r.text)  # type: ignore[attr-defined]
    r = _block(client, start="16:00", end="14:00")
    assert "La fin est avant le début" in text_of(r.text)  # type: ignore[attr-defined]
    r = _block(client, day="mardi")
    assert "Indiquez une date et une heure" in text_of(r.text)  # type: ignore[attr-defined]
    with desk.ctx.read_sessions() as session:
        assert session.exec(select(BlockedTime)).first() is None


def test_a_machine_goes_out_of_service_with_its_reason_and_back(desk: Api) -> None:
    client = _staff(desk)
    path = "/admin/cafe/machines/plotter/service"
    r = client.post(
        path, data={**form_keys(client, "/admin/cafe"), "in_service": "0", "reason": ""}
    )
    assert r.status_code == 422 and "Indiquez le motif" in text_of(r.text)
    r = client.post(
        path,
        data={**form_keys(client, "/admin/cafe"), "in_service": "0", "reason": "Lame cassée"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "hors service (Lame cassée)" in text_of(client.get("/admin/cafe").text)
    with desk.ctx.read_sessions() as session:
        record = session.get(MachineRecord, "plotter")
        assert record is not None and record.out_of_service
    client.post(path, data={**form_keys(client, "/admin/cafe"), "in_service": "1"})
    with desk.ctx.read_sessions() as session:
        record = session.get(MachineRecord, "plotter")
        assert record is not None and not record.out_of_service


def test_a_member_cannot_block_time_nor_stop_a_machine(desk: Api) -> None:
    sign_in(desk.client, "momo")
    assert desk.client.get("/admin/cafe").status_code == 403
    csrf = csrf_of(desk.client.get("/login").text)
    r = desk.client.post(
        "/admin/cafe/blocks",
        data={
            "csrf": csrf,
            "machine": "plotter",
            "day": "2026-03-03",
            "start": "14:00",
            "end": "15:00",
            "reason": "x",
        },
    )
    assert r.status_code == 403
    r = desk.client.post(
        "/admin/cafe/machines/plotter/service",
        data={"csrf": csrf, "in_service": "0", "reason": "x"},
    )
    assert r.status_code == 403
    with desk.ctx.read_sessions() as session:
        assert session.exec(select(BlockedTime)).first() is None
        record = session.get(MachineRecord, "plotter")
        assert record is not None and not record.out_of_service


def test_the_profiles_page_shows_machines_prices_and_no_problem(admin: TestClient) -> None:
    page = text_of(admin.get("/admin/profiles").text)
    assert "Plotter" in page and "aucun problème" in page
    assert "30,00 € HT de l'heure" in page  # labour, from prices.toml


def test_a_broken_profile_file_is_shown_with_its_problem(
    admin: TestClient, profiles_dir: Path
) -> None:
    (profiles_dir / "materials" / "pla-rose.toml").write_text(
        'name = "PLA rose"\nkind = "fdm_printer"\n'
    )
    r = admin.get("/admin/profiles")
    page = text_of(r.text)
    assert "Les fichiers ont" in page and "materials/pla-rose.toml" in page
    # The running service keeps the profiles it started with.
    assert "Plotter" in page


def test_every_admin_page_speaks_english_when_asked(admin: TestClient, desk: Api) -> None:
    english = {"Accept-Language": "en"}
    uid = desk.user_ids["momo"]
    expected = {
        "/admin": "Running the café",
        "/admin/people": "New person",
        f"/admin/people/{uid}": "Download their data (JSON)",
        "/admin/trainings": "New training",
        "/admin/cafe": "Blocked machine time",
        "/admin/profiles": "Problems in the files",
    }
    for path, words in expected.items():
        r = admin.get(path, headers=english)
        assert r.status_code == 200, path
        assert words in text_of(r.text), path
        assert "Formations" not in r.text, path
