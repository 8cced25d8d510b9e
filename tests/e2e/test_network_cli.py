"""The command line of one café's node works on the network's files, as its server
does: with ``FABQUEUE_STORAGE=database`` an invoice's PDF archived by one café is
verified and written out at another, one issued from the command line reaches the
database, and the retention purge removes a file from the database, not only from this
node's cache."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import update

from fabqueue.cli import main
from fabqueue.clock import utcnow
from fabqueue.db import make_engine
from fabqueue.models import FileChunk, Job, StoredFile
from fabqueue.settings import Settings
from fabqueue.states import JobState
from fabqueue.storage.postgres import DatabaseStore
from tests.conftest import Api
from tests.support.api import submit
from tests.support.factories import tiny_gcode
from tests.support.invoices import accepted_quote, convert, succeed
from tests.support.quote_fixtures import clock, qapi, regime
from tests.support.quotes import staff

__all__ = ["clock", "qapi", "regime"]

pytestmark = [pytest.mark.postgres]


@pytest.fixture
def settings(tmp_path: Path, pg_url: str, profiles_dir: Path) -> Settings:
    """Café A's node (the API under test), on PostgreSQL with the database store."""
    return Settings(
        db_url=pg_url,
        data_dir=tmp_path / "cafe-a" / "data",
        profiles_dir=profiles_dir,
        node="cafe-a",
        storage="database",
    )


@pytest.fixture
def cafe_b(qapi: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``fabqueue`` commands run at café B: same database, its own empty data folder."""
    s = qapi.ctx.settings
    data = tmp_path / "cafe-b" / "data"
    for name, value in (
        ("DB_URL", s.db_url),
        ("PROFILES_DIR", str(s.profiles_dir)),
        ("DATA_DIR", str(data)),
        ("STORAGE", "database"),
        ("NODE", "cafe-b"),
    ):
        monkeypatch.setenv(f"FABQUEUE_{name}", value)
    qapi.token("treso", "admin")
    return data


def drafted(api: Api) -> dict[str, Any]:
    quote = accepted_quote(api, copies=2, extra=(("Conception", "1", "36.00"),))
    succeed(api, *convert(api, quote["id"]))
    r = api.client.post(
        "/api/v1/invoices/from-quote", headers=staff(api), json={"quote_id": quote["id"]}
    )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def test_an_invoice_issued_at_one_cafe_is_verified_and_written_at_the_other(
    qapi: Api, cafe_b: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = drafted(qapi)
    r = qapi.client.post(f"/api/v1/invoices/{draft['id']}/issue", headers=staff(qapi))
    assert r.status_code == 200, r.text
    sha = r.json()["pdf_sha256"]
    issued_pdf = qapi.client.get(f"/api/v1/invoices/{draft['id']}/pdf", headers=staff(qapi))
    assert issued_pdf.status_code == 200
    assert main(["books", "verify"]) == 0
    assert "books: OK" in capsys.readouterr().out
    out = tmp_path / "copy.pdf"
    assert main(["invoices", "pdf", str(draft["id"]), "-o", str(out)]) == 0
    assert out.read_bytes() == issued_pdf.content
    # The database's copy is the archive: an edit there is caught from any café.
    engine = make_engine(qapi.ctx.settings.db_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                update(FileChunk)
                .where(FileChunk.sha256 == sha, FileChunk.seq == 0)  # type: ignore[arg-type]
                .values(data=issued_pdf.content[:-8] + b"%edited\n")
            )
    finally:
        engine.dispose()
    assert main(["books", "verify"]) == 1
    assert "its archived PDF was altered" in capsys.readouterr().out


def test_an_invoice_issued_from_one_cafes_command_line_is_read_at_the_other(
    qapi: Api, cafe_b: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    draft = drafted(qapi)
    assert main(["invoices", "issue", str(draft["id"]), "--by", "treso"]) == 0
    capsys.readouterr()
    r = qapi.client.get(f"/api/v1/invoices/{draft['id']}/pdf", headers=staff(qapi))
    assert r.status_code == 200, r.text
    assert r.content.startswith(b"%PDF-")
    report = qapi.client.get("/api/v1/books/verify", headers=staff(qapi)).json()
    assert report["ok"] is True, report


def test_the_purge_at_one_cafe_removes_an_old_file_from_the_database(
    qapi: Api, cafe_b: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sent = submit(qapi, tiny_gcode(tmp_path, "old.gcode"), machine="printer", kind="fdm_printer")
    assert sent.status_code == 201, sent.text
    long_ago = utcnow() - timedelta(days=2000)
    with qapi.ctx.sessions() as s:
        job = s.get(Job, sent.json()["id"])
        assert job is not None
        job.state, job.created_at = JobState.cancelled, long_ago
        stored = s.get(StoredFile, job.file_sha256)
        assert stored is not None
        stored.created_at = long_ago
        s.add_all([job, stored])
        s.commit()
        sha = job.file_sha256
    store = qapi.ctx.store
    assert isinstance(store, DatabaseStore) and store.has(sha)
    assert main(["purge"]) == 0
    assert "removed 1 uploaded file(s)" in capsys.readouterr().out
    assert not store.has(sha)  # no café can fetch it any more
