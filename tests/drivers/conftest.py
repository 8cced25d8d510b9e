"""Fixtures for the driver tests that need a real OctoPrint."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import octoprint
from tests.support.peers import OCTOPRINT_KEY_ENV


@pytest.fixture(scope="session")
def octoprint_server() -> Iterator[octoprint.OctoPrintServer]:
    """OctoPrint 1.11.8 with its Virtual Printer, once per session (installed into its own
    virtualenv on first use)."""
    server = octoprint.shared()
    yield server
    octoprint.stop_shared()


@pytest.fixture
def octoprint_peer(
    octoprint_server: octoprint.OctoPrintServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[octoprint.OctoPrintServer]:
    """The shared server, reset (no job, printer disconnected, no uploads), with its key in
    the environment variable the profiles name."""
    octoprint.reset(octoprint_server)
    monkeypatch.setenv(OCTOPRINT_KEY_ENV, octoprint_server.api_key)
    yield octoprint_server
    octoprint.reset(octoprint_server)
