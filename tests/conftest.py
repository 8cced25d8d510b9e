"""Fixtures: a fresh database per test (SQLite copied from a migrated template, or a new
PostgreSQL database), settings in tmp_path, the app with its dispatcher, users."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text

from fabqueue.app import create_app
from fabqueue.db import make_engine, make_session_factory, upgrade
from fabqueue.settings import Settings
from tests.support import leaks, pg
from tests.support.factories import REPO, make_user, sim_printer, write_profiles
from tests.support.tools import PACKAGES, require


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Migrations run once; each test copies the result (fast, and tests the migrations)."""
    path = tmp_path_factory.mktemp("template") / "template.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture
def sqlite_url(tmp_path: Path, sqlite_template: Path) -> str:
    db = tmp_path / "fabqueue.db"
    shutil.copy(sqlite_template, db)
    return f"sqlite:///{db}"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[pg.PgServer]:
    server = pg.start()
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server: pg.PgServer) -> Iterator[str]:
    """A new, migrated database on the session's PostgreSQL server."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(pg_server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = pg_server.database_url(name)
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def profiles_dir(tmp_path: Path) -> Path:
    """One fast simulated printer; tests that need others write their own."""
    return write_profiles(tmp_path / "profiles", {"printer": sim_printer()})


@pytest.fixture
def settings(tmp_path: Path, sqlite_url: str, profiles_dir: Path) -> Settings:
    return Settings(
        db_url=sqlite_url,
        data_dir=tmp_path / "data",
        profiles_dir=profiles_dir,
        node="test-node",
        dispatch_poll_s=0.1,
        progress_write_interval_s=0.05,
        offline_grace_s=1.0,
    )


class Api:
    """A TestClient bound to the app, with users made on demand."""

    def __init__(self, client: TestClient) -> None:
        self.client = client
        self.ctx = client.app.state.ctx  # type: ignore[attr-defined]
        self._tokens: dict[str, str] = {}
        self.user_ids: dict[str, int] = {}

    def token(self, name: str = "staff", role: str = "facilitator") -> str:
        if name not in self._tokens:
            uid, tok = make_user(self.ctx.sessions, name, role)
            self._tokens[name] = tok
            self.user_ids[name] = uid
        return self._tokens[name]

    def headers(self, name: str = "staff", role: str = "facilitator") -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token(name, role)}"}


@pytest.fixture
def make_api(settings: Settings) -> Iterator[Callable[..., Api]]:
    clients: list[TestClient] = []

    def factory(s: Settings | None = None, **kwargs: object) -> Api:
        client = TestClient(create_app(s or settings, **kwargs))  # type: ignore[arg-type]
        client.__enter__()
        clients.append(client)
        return Api(client)

    yield factory
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def api(make_api: Callable[..., Api]) -> Api:
    return make_api()


@pytest.fixture
def sessions(settings: Settings) -> Iterator[object]:
    engine = make_engine(settings.db_url)
    yield make_session_factory(engine, None)
    engine.dispose()


__all__ = ["REPO", "Api"]


def _tool_fixture(tool: str):  # type: ignore[no-untyped-def]
    @pytest.fixture
    def fixture() -> None:
        require(tool)

    return fixture


for _tool in PACKAGES:
    globals()[f"tool_{_tool.replace('-', '_')}"] = _tool_fixture(_tool)


@pytest.fixture(autouse=True)
def no_driver_left() -> Iterator[None]:
    """No machine driver outlives its test (see tests/support/leaks.py)."""
    before = leaks.driver_processes()
    yield
    left = leaks.left_behind(before)
    assert not left, f"machine drivers left running after the test: {left}"
