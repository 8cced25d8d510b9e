"""The command line, run as a user would run it."""

from __future__ import annotations

import json
from pathlib import Path

from tests.support.cli import run_cli
from tests.support.factories import CORPUS, REPO


def test_user_add_prints_a_working_token_last(tmp_path: Path, sqlite_url: str) -> None:
    env = {"FABQUEUE_DB_URL": sqlite_url}
    out = run_cli("user", "add", "Camille", "--role", "facilitator", env=env)
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip().splitlines()[-1]
    assert token.startswith("fq_") and len(token) > 40
    again = run_cli("user", "add", "Camille", "--role", "member", env=env)
    assert again.returncode == 2 and "already a user" in again.stderr
    listed = run_cli("user", "list", env=env)
    assert "facilitator  Camille" in listed.stdout
    bad = run_cli("user", "add", "X", "--role", "king", env=env)
    assert bad.returncode == 2

    from fabqueue.auth import user_for_token
    from fabqueue.db import make_engine, make_session_factory

    engine = make_engine(sqlite_url)
    with make_session_factory(engine, None)() as s:
        user = user_for_token(s, token)
        assert user is not None and user.name == "Camille"
        assert user_for_token(s, token + "x") is None
    engine.dispose()


def test_analyze_json() -> None:
    out = run_cli("analyze", str(CORPUS / "gcode" / "cura-puzzle.gcode"), "--json", env={})
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["kind"] == "fdm_printer"
    assert data["counts"]["lines"] > 30000


def test_analyze_refuses_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "x.gcode"
    bad.write_bytes(b"\x00\x01\x02")
    out = run_cli("analyze", str(bad), env={})
    assert out.returncode == 1
    assert "binary" in out.stderr


def test_db_upgrade_creates_the_schema(tmp_path: Path) -> None:
    env = {"FABQUEUE_DB_URL": f"sqlite:///{tmp_path}/new/fabqueue.db"}
    out = run_cli("db", "upgrade", env=env)
    assert out.returncode == 0, out.stderr
    assert "database at revision" in out.stdout
    assert (tmp_path / "new" / "fabqueue.db").exists()


def test_help_lists_every_command() -> None:
    out = run_cli("--help", env={})
    for cmd in (
        "serve",
        "user",
        "submit",
        "jobs",
        "machines",
        "analyze",
        "check-profiles",
        "db",
        "simulate",
    ):
        assert cmd in out.stdout
    assert REPO.exists()


def test_check_profiles_probe(tmp_path: Path) -> None:
    from tests.support.factories import sim_printer, write_profiles

    good = run_cli(
        "check-profiles", "--probe", env={"FABQUEUE_PROFILES_DIR": str(REPO / "profiles")}
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert "imprimante-sim" in good.stdout and "idle" in good.stdout
    off = write_profiles(tmp_path, {"off": sim_printer(extra="offline = true")})
    bad = run_cli("check-profiles", "--probe", env={"FABQUEUE_PROFILES_DIR": str(off)})
    assert bad.returncode == 1
    assert "off" in bad.stdout and "offline" in bad.stdout
