"""Profiles: the shipped ones are valid; a bad one gets every error, with file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from fabqueue.profiles import ProfileErrors, load_profiles
from jobs.base import MachineKind
from tests.support.cli import run_cli
from tests.support.factories import REPO, sim_printer, write_profiles


def test_shipped_profiles_are_valid_and_simulated() -> None:
    profiles = load_profiles(REPO / "profiles")
    kinds = sorted(m.kind for m in profiles.machines.values())
    assert kinds == sorted(MachineKind)
    assert {m.driver_type for m in profiles.machines.values()} == {"sim"}
    for machine in profiles.machines.values():
        assert not machine.auto_advance  # a person clears each machine by default
        assert machine.materials, machine.slug
    assert "gcode" in profiles.file_types(profiles.machines["imprimante-sim"])


def test_every_error_is_reported_at_once(tmp_path: Path) -> None:
    root = write_profiles(
        tmp_path,
        {
            "good": sim_printer(),
            "typo": sim_printer().replace(
                'kind = "fdm_printer"', 'kind = "fdm_printer"\nauto_advence = true'
            ),
            "baddriver": sim_printer().replace('type = "sim"', 'type = "telepathy"'),
            "badknob": sim_printer(extra="speed_up = 3"),
            "wrongsection": """
                name = "x"
                kind = "vinyl_cutter"
                [driver]
                type = "sim"
                [printer]
                build_x_mm = 10
            """,
            "notoml": 'name = "unterminated\n',
            "UPPER": sim_printer(),
            "nomaterial": sim_printer(top='materials = ["unobtainium", "vinyle-noir"]'),
        },
    )
    with pytest.raises(ProfileErrors) as caught:
        load_profiles(root)
    text = str(caught.value)
    all_errors = caught.value.errors
    errors = {(e.file, e.field) for e in all_errors}
    assert ("machines/typo.toml", "auto_advence") in errors
    assert ("machines/baddriver.toml", "driver.type") in errors
    assert ("machines/badknob.toml", "driver.speed_up") in errors
    assert any(f == "machines/wrongsection.toml" for f, _ in errors)
    assert any(f == "machines/notoml.toml" for f, _ in errors)
    assert ("machines/UPPER.toml", "slug") in errors
    assert ("machines/nomaterial.toml", "materials") in errors
    assert len([e for e in all_errors if e.file == "machines/nomaterial.toml"]) == 2
    assert not any(f == "machines/good.toml" for f, _ in errors)
    assert "unknown driver 'telepathy'" in text


def test_check_profiles_command(tmp_path: Path) -> None:
    ok = run_cli("check-profiles", env={"FABQUEUE_PROFILES_DIR": str(REPO / "profiles")})
    assert ok.returncode == 0, ok.stderr
    assert "3 machine(s)" in ok.stdout
    bad = write_profiles(tmp_path, {"p": sim_printer(extra="fail_at = 2.0")})
    out = run_cli("check-profiles", env={"FABQUEUE_PROFILES_DIR": str(bad)})
    assert out.returncode == 1
    assert "machines/p.toml: driver.fail_at" in out.stdout


def test_serve_refuses_bad_profiles_with_a_message(tmp_path: Path) -> None:
    bad = write_profiles(tmp_path, {"p": sim_printer(extra="fail_at = 2.0")})
    out = run_cli(
        "serve",
        "--port",
        "1",
        env={"FABQUEUE_PROFILES_DIR": str(bad), "FABQUEUE_DB_URL": f"sqlite:///{tmp_path}/x.db"},
    )
    assert out.returncode == 2
    assert "machines/p.toml: driver.fail_at" in out.stderr
    assert "Traceback" not in out.stderr


def test_serve_refuses_an_old_schema(tmp_path: Path) -> None:
    out = run_cli(
        "serve",
        "--port",
        "1",
        env={
            "FABQUEUE_PROFILES_DIR": str(REPO / "profiles"),
            "FABQUEUE_DB_URL": f"sqlite:///{tmp_path}/empty.db",
            "FABQUEUE_DATA_DIR": str(tmp_path / "data"),
        },
    )
    assert out.returncode == 2
    assert "fabqueue db upgrade" in out.stderr
