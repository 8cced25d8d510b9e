"""``fabqueue storage gc``: files nothing refers to are removed; referenced and young
files never are. On SQLite with the folder store, and on PostgreSQL with the database
store (chunks, blobs and this node's cache)."""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import select

from fabqueue.clock import utcnow
from fabqueue.db import session_scope
from fabqueue.models import FileBlob, FileChunk, Job, StoredFile
from fabqueue.services.jobs import index_file
from fabqueue.services.storage_gc import collect
from fabqueue.settings import Settings
from fabqueue.states import JobState
from jobs.base import MachineKind
from tests.conftest import Api
from tests.support.cli import run_cli

HOUR = 3600.0


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def node(request: pytest.FixtureRequest, make_api: Any, settings: Settings) -> Iterator[Api]:
    update: dict[str, Any] = {"start_dispatcher": False}
    if request.param == "postgres":
        update |= {"db_url": request.getfixturevalue("pg_url"), "storage": "database"}
    yield make_api(settings.model_copy(update=update))


def save(api: Api, content: bytes, *, age_s: float, indexed: bool = True) -> str:
    """Store ``content`` as if it had been uploaded ``age_s`` seconds ago."""
    stored = api.ctx.store.save(io.BytesIO(content), limit=10_000_000)
    then = utcnow() - timedelta(seconds=age_s)
    os.utime(stored.path, (then.timestamp(), then.timestamp()))
    with session_scope(api.ctx.sessions) as session:
        if indexed:
            index_file(session, stored.sha256, stored.size, then)
        session.execute(
            text("UPDATE file_blob SET created_at = :t WHERE sha256 = :s"),
            {"t": then, "s": stored.sha256},
        )
    return stored.sha256


def give_a_job(api: Api, sha: str) -> None:
    now = utcnow()
    owner = api.token() and api.user_ids["staff"]
    with session_scope(api.ctx.sessions) as session:
        session.add(
            Job(
                kind=MachineKind.fdm_printer,
                owner_id=owner,
                title="kept",
                file_sha256=sha,
                file_name="kept.gcode",
                file_type="gcode",
                file_size=1,
                state=JobState.succeeded,
                created_at=now,
                updated_at=now,
            )
        )


def everywhere(api: Api, sha: str) -> dict[str, bool]:
    with api.ctx.read_sessions() as session:
        return {
            "index": session.get(StoredFile, sha) is not None,
            "blob": session.get(FileBlob, sha) is not None,
            "chunks": session.exec(select(FileChunk).where(FileChunk.sha256 == sha)).first()
            is not None,
            "folder": api.ctx.store.path_for(sha).is_file(),
        }


def test_orphans_go_referenced_and_young_files_stay(node: Api) -> None:
    database = node.ctx.store.name == "database"
    kept = save(node, b"G1 X1 ; referenced by a finished job\n", age_s=30 * 24 * HOUR)
    give_a_job(node, kept)
    young = save(node, b"G1 X2 ; uploaded a minute ago\n", age_s=60)
    orphan = save(node, b"G1 X3 ; its job was never made\n", age_s=2 * HOUR)
    refused = save(node, b"G1 X4 ; refused after saving\n", age_s=2 * HOUR, indexed=False)
    before = {sha: everywhere(node, sha) for sha in (kept, young, orphan, refused)}
    assert before[orphan]["blob"] is database and before[orphan]["folder"]

    with node.ctx.sessions() as session:
        dry = collect(session, node.ctx.store, now=utcnow(), min_age_s=HOUR)
    assert sorted(o.sha256 for o in dry.orphans) == sorted([orphan, refused])
    assert dry.young == 1 and not dry.applied
    assert {sha: everywhere(node, sha) for sha in before} == before  # a dry run removes nothing
    where = {o.sha256: o.where for o in dry.orphans}
    assert where[orphan] == ({"index", "folder", "database"} if database else {"index", "folder"})
    assert where[refused] == ({"folder", "database"} if database else {"folder"})

    with node.ctx.sessions() as session:
        done = collect(session, node.ctx.store, now=utcnow(), min_age_s=HOUR, apply=True)
    assert sorted(o.sha256 for o in done.orphans) == sorted([orphan, refused])
    nowhere = {"index": False, "blob": False, "chunks": False, "folder": False}
    assert everywhere(node, orphan) == nowhere
    assert everywhere(node, refused) == nowhere
    assert everywhere(node, kept) == before[kept]
    assert everywhere(node, young) == before[young]
    assert node.ctx.store.fetch(kept).read_bytes().startswith(b"G1 X1")


def test_storing_an_orphan_again_makes_it_young(node: Api) -> None:
    content = b"G1 X5 ; uploaded again just now\n"
    sha = save(node, content, age_s=2 * HOUR, indexed=False)
    node.ctx.store.save(io.BytesIO(content), limit=10_000)
    with node.ctx.sessions() as session:
        report = collect(session, node.ctx.store, now=utcnow(), min_age_s=HOUR, apply=True)
    assert report.orphans == [] and report.young == 1
    assert node.ctx.store.has(sha)


def test_the_command_lists_by_default_and_removes_with_apply(
    node: Api, settings: Settings, tmp_path: Path
) -> None:
    orphan = save(node, b"G1 X6 ; orphan\n", age_s=2 * HOUR)
    s = node.ctx.settings
    env = {
        "FABQUEUE_DB_URL": s.db_url,
        "FABQUEUE_DATA_DIR": str(s.data_dir),
        "FABQUEUE_STORAGE": s.storage,
        "FABQUEUE_PROFILES_DIR": str(s.profiles_dir),
    }
    listed = run_cli("storage", "gc", env=env)
    assert listed.returncode == 0, listed.stderr
    assert orphan in listed.stdout and "would be removed" in listed.stdout
    assert node.ctx.store.path_for(orphan).is_file()
    applied = run_cli("storage", "gc", "--apply", env=env)
    assert applied.returncode == 0, applied.stderr
    assert "1 file(s)" in applied.stdout and "removed;" in applied.stdout
    assert not everywhere(node, orphan)["folder"]
