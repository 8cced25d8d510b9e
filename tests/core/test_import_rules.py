"""The layering rules of design §2, checked on the source."""

from __future__ import annotations

import ast

from tests.support.factories import REPO


def imports_of(package: str) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for path in (REPO / package).rglob("*.py"):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                names.add(node.module)
        found[str(path.relative_to(REPO))] = names
    return found


def offenders(package: str, banned: tuple[str, ...]) -> list[str]:
    return [
        f"{file}: {name}"
        for file, names in imports_of(package).items()
        for name in names
        if name.startswith(banned)
    ]


def test_jobs_is_pure() -> None:
    assert offenders("jobs", ("fabqueue", "drivers", "sqlmodel", "sqlalchemy", "fastapi")) == []


def test_drivers_know_no_database_or_api() -> None:
    banned = (
        "fabqueue.api",
        "fabqueue.services",
        "fabqueue.models",
        "fabqueue.db",
        "sqlmodel",
        "sqlalchemy",
        "fastapi",
    )
    assert offenders("drivers", banned) == []


def test_api_never_calls_a_driver() -> None:
    assert offenders("fabqueue/api", ("drivers",)) == []
    # Pages neither: they call services, like the API.
    assert offenders("fabqueue/web", ("drivers", "fabqueue.dispatch")) == []
    assert (
        offenders(
            "fabqueue/services",
            (
                "drivers.sim",
                "drivers.marlin",
                "drivers.octoprint.driver",
                "drivers.hpgl",
                "drivers.embroidery",
            ),
        )
        == []
    )


def test_no_source_file_is_over_600_lines() -> None:
    long = [
        f"{p.relative_to(REPO)}: {n}"
        for pkg in ("fabqueue", "drivers", "jobs")
        for p in (REPO / pkg).rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 600
    ]
    assert long == []


def test_nothing_is_read_from_the_environment_at_import() -> None:
    # Settings() is built by the CLI and tests, never at module level.
    for file, _ in imports_of("fabqueue").items():
        tree = ast.parse((REPO / file).read_text())
        for node in tree.body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call):
                func = node.value.func
                name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")
                assert name not in ("Settings", "create_engine", "make_engine"), file
