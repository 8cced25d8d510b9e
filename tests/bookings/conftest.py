from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from fabqueue.clock import FakeClock
from fabqueue.db import SessionFactory, make_engine, make_session_factory, session_scope
from fabqueue.profiles import ProfileSet, load_profiles
from fabqueue.services.machines import register_local
from fabqueue.settings import Settings
from tests.conftest import Api
from tests.support.bookings import NOW, Cafe, Desk, cafe_profiles

N = 50


def _cafe(make_api: Callable[..., Api], settings: Settings, tmp_path: Path, **kw: object) -> Cafe:
    root = cafe_profiles(tmp_path / "cafe-profiles", **kw)  # type: ignore[arg-type]
    clock = FakeClock(NOW)
    s = settings.model_copy(update={"profiles_dir": root, "start_dispatcher": False})
    api = make_api(s, clock=clock)
    ctx = api.ctx
    for name, role in (("anim", "facilitator"), ("mia", "member"), ("max", "member")):
        api.token(name, role)
    staff, mia, mx = (api.user_ids[n] for n in ("anim", "mia", "max"))
    desk = Desk(ctx.sessions, ctx.profiles)
    mia_auth = desk.grant(mia, "plotter", staff, at=NOW)
    desk.grant(mx, "plotter", staff, at=NOW)
    desk.grant(mx, "printer", staff, at=NOW)
    return Cafe(api, desk, clock, staff, mia, mx, mia_auth)


@pytest.fixture
def cafe(make_api: Callable[..., Api], settings: Settings, tmp_path: Path) -> Cafe:
    return _cafe(make_api, settings, tmp_path)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[SessionFactory, ProfileSet]]:
    """The café's machines on a bare database, SQLite or PostgreSQL (no app)."""
    url = request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")
    engine = make_engine(url, pool_size=N // 2)
    sessions = make_session_factory(engine, None)
    profiles = load_profiles(cafe_profiles(tmp_path / "profiles"))
    with session_scope(sessions) as s:
        register_local(session=s, profiles=profiles, node="n1", at=NOW)
    yield sessions, profiles
    engine.dispose()
