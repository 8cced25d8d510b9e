"""Invoice numbers: one gap-free series per prefix and year, allocated in the issuing
transaction, under 50 concurrent issues (PDF and Factur-X included), on SQLite and
PostgreSQL; a failed issue uses no number; each café's prefix keeps its own series."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import Session, select

from fabqueue.db import make_engine, make_session_factory, session_scope
from fabqueue.invoices import books, issuing
from fabqueue.models import User
from fabqueue.models.invoices import Invoice, InvoiceLine, InvoiceSequence, InvoiceState
from fabqueue.profiles import ProfileSet, load_profiles
from fabqueue.services.errors import Conflict
from fabqueue.storage import FileStore
from tests.support.invoices import draft_rows
from tests.support.quotes import quote_profiles

ISSUERS = 50
AT = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)


@pytest.fixture
def profiles(tmp_path: Path) -> ProfileSet:
    return load_profiles(quote_profiles(tmp_path / "p", "normal"))


def _issue_all(db_url: str, profiles: ProfileSet, store: FileStore) -> list[str]:
    engine = make_engine(db_url, pool_size=ISSUERS)
    sessions = make_session_factory(engine, None)
    try:
        staff_id, ids = draft_rows(sessions, ISSUERS, AT)
        start = threading.Barrier(ISSUERS)

        def issue(invoice_id: int) -> str:
            start.wait(timeout=60)
            with session_scope(sessions) as s:
                user = s.get(User, staff_id)
                assert user is not None
                inv = issuing.issue(
                    session=s,
                    user=user,
                    invoice_id=invoice_id,
                    profiles=profiles,
                    store=store,
                    at=AT,
                )
                assert inv.number is not None
                return inv.number

        with ThreadPoolExecutor(ISSUERS) as pool:
            numbers = list(pool.map(issue, ids))
        with sessions() as s:
            seq = s.get(InvoiceSequence, ("FAC", 2026))
            assert seq is not None and seq.last == ISSUERS
            assert all(i.state == InvoiceState.issued for i in s.exec(select(Invoice)))
            # The chain follows the numbers, whatever order the threads committed in.
            assert books.verify(s, store) == []
        return numbers
    finally:
        engine.dispose()


def _check(numbers: list[str]) -> None:
    assert len(set(numbers)) == ISSUERS, "duplicate numbers"
    assert sorted(numbers) == [f"FAC-2026-{i:04d}" for i in range(1, ISSUERS + 1)]


@pytest.mark.slow
def test_fifty_concurrent_issues_sqlite(
    sqlite_url: str, profiles: ProfileSet, tmp_path: Path
) -> None:
    _check(_issue_all(sqlite_url, profiles, FileStore(tmp_path / "store")))


@pytest.mark.slow
@pytest.mark.postgres
def test_fifty_concurrent_issues_postgresql(
    pg_url: str, profiles: ProfileSet, tmp_path: Path
) -> None:
    _check(_issue_all(pg_url, profiles, FileStore(tmp_path / "store")))


def _issue(
    sessions: object, staff_id: int, invoice_id: int, profiles: ProfileSet, **kw: object
) -> Invoice:
    with session_scope(sessions) as s:  # type: ignore[arg-type]
        user = s.get(User, staff_id)
        assert user is not None
        return issuing.issue(
            session=s,
            user=user,
            invoice_id=invoice_id,
            profiles=profiles,
            at=AT,
            **kw,  # type: ignore[arg-type]
        )


def test_a_failed_issue_uses_no_number(
    sqlite_url: str, profiles: ProfileSet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The number is taken inside the issuing transaction: an issue that fails after
    taking it rolls it back with the rest, and the draft stays a draft."""
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine, None)
    store = FileStore(tmp_path / "store")
    try:
        staff_id, ids = draft_rows(sessions, 2, AT)

        def refuse(*_args: object) -> None:
            raise Conflict("the client's record cannot be printed")

        with monkeypatch.context() as patch:
            # Fails after the number was allocated, before the commit.
            patch.setattr(issuing, "check_xml", refuse)
            with pytest.raises(Conflict):
                _issue(sessions, staff_id, ids[0], profiles, store=store)
        second = _issue(sessions, staff_id, ids[1], profiles, store=store)
        assert second.number == "FAC-2026-0001"
        with sessions() as s:
            first = s.get(Invoice, ids[0])
            assert first is not None and first.state == InvoiceState.draft
            assert first.number is None
    finally:
        engine.dispose()


def test_a_pdf_not_archived_is_reported_then_made_again(
    sqlite_url: str, profiles: ProfileSet, tmp_path: Path
) -> None:
    """The PDF is made after the commit (a few hundred ms outside the write lock): if
    that fails, the invoice keeps its number, verify reports it, and archiving again
    makes the document from what the record froze."""
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine, None)
    store = FileStore(tmp_path / "store")
    try:
        staff_id, ids = draft_rows(sessions, 1, AT)

        def broken(_s: Session, _i: Invoice, _l: list[InvoiceLine]) -> bytes:
            raise OSError("No space left on device")

        with pytest.raises(OSError):
            _issue(sessions, staff_id, ids[0], profiles, store=store, render=broken)
        with sessions() as s:
            assert books.verify(s, store) == [
                f"FAC-2026-0001: its PDF was never archived (`fabqueue invoices pdf {ids[0]}`)"
            ]
            sha = issuing.archive_pdf(
                session=s,
                invoice_id=ids[0],
                store=store,
                render=issuing.default_renderer(profiles),
                actor="test",
                at=AT,
            )
            assert store.path_for(sha).read_bytes().startswith(b"%PDF-")
            assert books.verify(s, store) == []
    finally:
        engine.dispose()


def test_each_cafe_prefix_keeps_its_own_series(sqlite_url: str, tmp_path: Path) -> None:
    """Two cafés sharing one database: each prefix is numbered from 1 without a gap."""
    port = load_profiles(quote_profiles(tmp_path / "port", "normal"))
    site = tmp_path / "tilleuls"
    quote_profiles(site, "normal")
    with (site / "site.toml").open("a") as fh:
        fh.write('invoice_prefix = "TIL"\n')
    tilleuls = load_profiles(site)
    engine = make_engine(sqlite_url)
    sessions = make_session_factory(engine, None)
    store = FileStore(tmp_path / "store")
    try:
        staff_id, ids = draft_rows(sessions, 4, AT)
        got = [
            _issue(sessions, staff_id, inv_id, prof, store=store).number
            for inv_id, prof in zip(ids, [port, tilleuls, tilleuls, port], strict=True)
        ]
        assert got == ["FAC-2026-0001", "TIL-2026-0001", "TIL-2026-0002", "FAC-2026-0002"]
    finally:
        engine.dispose()
