"""Removing stored files nothing refers to any more (``fabqueue storage gc``).

A file is referenced while a job or a quote line names it. Orphans come from uploads
refused after they were saved, quote lines removed, and cached copies of files another
node purged. Young files are never touched, whatever refers to them: a submission may
be between saving its file and recording its job (saving a file already stored makes it
young again, see the stores' ``save``). Each removal re-checks, in its own transaction,
that nothing refers to the file; on PostgreSQL the foreign keys of ``job`` and
``quote_line`` on ``stored_file`` make a job recorded meanwhile win.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import ColumnElement, delete, exists, not_, select
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from fabqueue.models import FileBlob, FileChunk, Job, QuoteLine, StoredFile
from fabqueue.storage import FileStore

_blob = FileBlob.__table__  # type: ignore[attr-defined]
_chunk = FileChunk.__table__  # type: ignore[attr-defined]
_stored = StoredFile.__table__  # type: ignore[attr-defined]
_job = Job.__table__  # type: ignore[attr-defined]
_line = QuoteLine.__table__  # type: ignore[attr-defined]

DEFAULT_MIN_AGE_S = 3600.0


@dataclass
class Orphan:
    sha256: str
    size: int = 0
    where: set[str] = field(default_factory=set)
    """``database`` (blob and chunks), ``index`` (the ``stored_file`` row), ``folder``
    (this node's data folder or cache)."""


@dataclass
class GcReport:
    orphans: list[Orphan]
    young: int
    """Unreferenced files left because they are younger than the age guard."""
    loose_chunks: int
    """Chunks of no complete file (none in normal operation)."""
    applied: bool

    @property
    def size(self) -> int:
        return sum(o.size for o in self.orphans)


def referenced(session: Session) -> set[str]:
    jobs = session.execute(select(_job.c.file_sha256).distinct()).scalars()
    lines = session.execute(
        select(_line.c.file_sha256).where(_line.c.file_sha256.is_not(None)).distinct()
    ).scalars()
    return set(jobs) | set(lines)


def _not_referenced(sha256: str) -> list[ColumnElement[bool]]:
    return [
        not_(exists().where(_job.c.file_sha256 == sha256)),
        not_(exists().where(_line.c.file_sha256 == sha256)),
    ]


@dataclass
class _Seen:
    orphans: dict[str, Orphan] = field(default_factory=dict)
    young: set[str] = field(default_factory=set)

    def note(self, sha: str, size: int, at: datetime, cutoff: datetime, where: str) -> None:
        if at >= cutoff:
            self.young.add(sha)
            return
        orphan = self.orphans.setdefault(sha, Orphan(sha))
        orphan.size = max(orphan.size, size)
        orphan.where.add(where)


def find_orphans(
    session: Session, store: FileStore, *, now: datetime, min_age_s: float
) -> tuple[list[Orphan], int, int]:
    """(orphans older than the guard, count of young unreferenced files, loose chunks)."""
    cutoff = now - timedelta(seconds=min_age_s)
    keep = referenced(session)
    seen = _Seen()
    for sha, size, at in session.execute(select(_blob.c.sha256, _blob.c.size, _blob.c.created_at)):
        if sha not in keep:
            seen.note(sha, size, _aware(at), cutoff, "database")
    for sha, size, at in session.execute(
        select(_stored.c.sha256, _stored.c.size, _stored.c.created_at)
    ):
        if sha not in keep:
            seen.note(sha, size, _aware(at), cutoff, "index")
    for sha, size, mtime in store.local_files():
        if sha not in keep:
            seen.note(sha, size, datetime.fromtimestamp(mtime, UTC), cutoff, "folder")
    # A file young in one place is young everywhere: it may be being stored right now.
    orphans = [o for sha, o in sorted(seen.orphans.items()) if sha not in seen.young]
    loose = session.execute(
        select(_chunk.c.sha256)
        .where(not_(exists().where(_blob.c.sha256 == _chunk.c.sha256)))
        .distinct()
    ).all()
    return orphans, len(seen.young), len(loose)


def collect(
    session: Session,
    store: FileStore,
    *,
    now: datetime,
    min_age_s: float = DEFAULT_MIN_AGE_S,
    apply: bool = False,
) -> GcReport:
    """What would go (``apply=False``, the default), or remove it. Commits each file."""
    orphans, young, loose = find_orphans(session, store, now=now, min_age_s=min_age_s)
    session.rollback()  # end the read: each removal is its own short transaction
    if not apply:
        return GcReport(orphans, young, loose, applied=False)
    cutoff = now - timedelta(seconds=min_age_s)
    removed = [o for o in orphans if _remove(session, store, o, cutoff)]
    if loose:
        session.execute(
            delete(_chunk).where(not_(exists().where(_blob.c.sha256 == _chunk.c.sha256)))
        )
        session.commit()
    return GcReport(removed, young, loose, applied=True)


def _remove(session: Session, store: FileStore, orphan: Orphan, cutoff: datetime) -> bool:
    """Remove one file everywhere, unless something came to refer to it meanwhile."""
    sha = orphan.sha256
    guard = _not_referenced(sha)
    try:
        session.execute(
            delete(_stored).where(_stored.c.sha256 == sha, _stored.c.created_at < cutoff, *guard)
        )
    except IntegrityError:  # a job naming it was recorded meanwhile
        session.rollback()
        return False
    still_indexed = session.execute(select(_stored.c.sha256).where(_stored.c.sha256 == sha))
    if still_indexed.first() is not None:
        session.rollback()
        return False
    gone = session.execute(
        delete(_blob).where(_blob.c.sha256 == sha, _blob.c.created_at < cutoff, *guard)
    )
    session.execute(
        delete(_chunk).where(_chunk.c.sha256 == sha, not_(exists().where(_blob.c.sha256 == sha)))
    )
    session.commit()
    if "database" in orphan.where and not getattr(gone, "rowcount", 0):
        return False  # stored again meanwhile: young now
    if "folder" in orphan.where:
        store.forget_local(sha, older_than=cutoff.timestamp())
    return True


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)
