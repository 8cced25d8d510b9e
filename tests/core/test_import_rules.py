"""The layering rules of design §2, checked on the source."""

from __future__ import annotations

import ast
from pathlib import Path

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


def test_drivers_never_import_fabqueue() -> None:
    # A driver knows its config, JobTicket and the Clock protocol of drivers/base.py.
    banned = ("fabqueue", "sqlmodel", "sqlalchemy", "fastapi")
    assert offenders("drivers", banned) == []


def test_only_dispatch_and_the_profile_loader_reach_drivers() -> None:
    """API, services, quotes and pages never hold a driver: they write through services
    and wake the dispatcher. A new package (the web pages) is covered without listing it."""
    allowed = (
        "fabqueue/dispatch/",  # joins drivers and the database
        "fabqueue/profiles/",  # validates [driver] tables, knows capabilities
        "fabqueue/cli/",  # check-profiles --probe, simulate (no database)
        "fabqueue/clock.py",  # implements the drivers' Clock protocol
    )
    reaching = [o for o in offenders("fabqueue", ("drivers",)) if not o.startswith(allowed)]
    assert reaching == []


def test_pages_never_reach_the_dispatcher() -> None:
    """Pages call services, like the API: the dispatcher is woken through the event bus."""
    assert offenders("fabqueue/web", ("drivers", "fabqueue.dispatch")) == []


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def fabqueue_import_graph() -> dict[str, set[str]]:
    """Module -> the fabqueue modules it imports, lazily or not (a function-level import
    only hides a cycle), including the packages Python runs on the way."""
    paths = list((REPO / "fabqueue").rglob("*.py"))
    modules = {module_name(p) for p in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        targets: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                for alias in node.names:
                    sub = f"{node.module}.{alias.name}"
                    targets.add(sub if sub in modules else node.module)
        edges: set[str] = set()
        for target in targets:
            while target in modules or "." in target:
                if target in modules:
                    edges.add(target)
                target = target.rpartition(".")[0]
        me = module_name(path)
        edges.discard(me)
        # A package's own submodules run after it: importing them is not a cycle back.
        graph[me] = {t for t in edges if not me.startswith(t + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state and (found := visit(nxt)):
                return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (found := visit(node)):
            return found
    return None


def test_no_import_cycle_between_fabqueue_modules() -> None:
    assert find_cycle(fabqueue_import_graph()) is None


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_source_file_is_over_1000_lines() -> None:
    # A smoke alarm only: function complexity (ruff C901) is what keeps code readable.
    long = [
        f"{p.relative_to(REPO)}: {n}"
        for pkg in ("fabqueue", "drivers", "jobs")
        for p in (REPO / pkg).rglob("*.py")
        if (n := len(p.read_text().splitlines())) > 1000
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


def test_routers_never_commit() -> None:
    """Services own the unit of work; a router parses, calls a service and answers."""
    committing = [
        f"{path.relative_to(REPO)}:{node.lineno}"
        for path in (REPO / "fabqueue" / "api").rglob("*.py")
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("commit", "rollback")
    ]
    assert committing == []


def test_tests_share_helpers_through_tests_support_only() -> None:
    # The vinyl tests' XML bomb is moved to tests/support on the vinyl branch.
    known = {"tests/jobs/vinyl/test_api.py: tests.jobs.vinyl.test_svg_robustness"}
    borrowing = [
        o
        for o in offenders("tests", ("tests.",))
        if not o.split(": ")[1].startswith(("tests.support", "tests.conftest")) and o not in known
    ]
    assert borrowing == []
