"""The real service process: a node without the optional tools starts and says what it
cannot take; with them, `fabqueue submit` slices a model and `fabqueue machines` shows
the slicer URLs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from tests.support.factories import sim_printer, write_profiles
from tests.support.intake import binary_stl, box_triangles, with_slicing
from tests.support.service import Service
from tests.support.tools import needs

pytestmark = pytest.mark.slow


def _service(tmp_path: Path, path_env: str) -> Service:
    profiles = with_slicing(write_profiles(tmp_path / "profiles", {"printer": sim_printer()}))
    svc = Service(
        {
            "FABQUEUE_DB_URL": f"sqlite:///{tmp_path}/var/fabqueue.db",
            "FABQUEUE_DATA_DIR": str(tmp_path / "var" / "data"),
            "FABQUEUE_PROFILES_DIR": str(profiles),
            "PATH": path_env,
        },
        tmp_path / "service.log",
    )
    assert svc.cli("db", "upgrade").returncode == 0
    return svc


def test_without_the_optional_tools_the_service_starts_and_says_so(tmp_path: Path) -> None:
    # Only the Python interpreter's folder: no prusa-slicer, pdftocairo or potrace.
    svc = _service(tmp_path, str(Path(sys.executable).parent))
    svc.start()
    try:
        token = svc.cli("user", "add", "Camille", "--role", "facilitator").stdout.split()[-1]
        model = binary_stl(tmp_path / "box.stl", box_triangles(20, 20, 10))
        out = svc.cli("submit", str(model), "--url", svc.url, "--token", token)
        assert out.returncode != 0
        assert "prusa-slicer is not installed" in out.stderr + out.stdout
    finally:
        svc.stop()
    log = (tmp_path / "service.log").read_text()
    assert "3MF, OBJ, STL files are refused: prusa-slicer is not installed" in log
    assert "JPEG, JPG, PNG files are refused: potrace is not installed" in log
    assert "AI, PDF files are refused: poppler-utils is not installed" in log


@needs("prusa-slicer")
def test_submit_slices_a_model_and_machines_shows_the_slicer_urls(tmp_path: Path) -> None:
    svc = _service(tmp_path, os.environ["PATH"])
    svc.start()
    try:
        token = svc.cli("user", "add", "Camille", "--role", "facilitator").stdout.split()[-1]
        conn = ["--url", svc.url, "--token", token]
        model = binary_stl(tmp_path / "box.stl", box_triangles(20, 20, 10))
        out = svc.cli("submit", str(model), "--option", "preset=fin", "--hold", *conn)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith("job 1 held (fdm_printer, about ")
        listing = svc.cli("machines", *conn).stdout
        assert f"{svc.url}/octoprint/printer" in listing
        assert f"{svc.url}/octoprint/any" in listing
    finally:
        svc.stop()
