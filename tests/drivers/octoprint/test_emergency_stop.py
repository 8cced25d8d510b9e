"""The OctoPrint driver's emergency stop is what OctoPrint's own button sends:
``M112`` through ``POST /api/printer/command``. Checked against a stand-in HTTP server
that records what it is sent (the real OctoPrint's answer to M112 is a dead printer)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar

import pytest

from drivers.base import DriverUnavailable, MachineState
from drivers.octoprint.driver import OctoPrintConfig, OctoPrintDriver
from fabqueue.clock import FakeClock

pytestmark = pytest.mark.asyncio


class Recorder(BaseHTTPRequestHandler):
    seen: ClassVar[list[tuple[str, str, str | None, Any]]] = []
    status = 204

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.seen.append(
            (self.command, self.path, self.headers.get("X-Api-Key"), json.loads(body or b"null"))
        )
        self.send_response(self.status)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def octoprint(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[str, type[Recorder]]]:
    monkeypatch.setenv("TEST_OCTOPRINT_KEY", "secret-key")
    handler = type("Handler", (Recorder,), {"seen": [], "status": 204})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def make(url: str) -> OctoPrintDriver:
    config = OctoPrintConfig(url=url, api_key_env="TEST_OCTOPRINT_KEY", timeout_s=5)
    return OctoPrintDriver("op1", config, on_status=lambda s: None, clock=FakeClock())


async def test_emergency_stop_posts_m112_as_octoprints_button_does(
    octoprint: tuple[str, type[Recorder]],
) -> None:
    url, handler = octoprint
    driver = make(url)
    said = await driver.emergency_stop()
    # OctoPrint's API takes one command as {"command": …} or a list as {"commands": […]}.
    assert handler.seen == [("POST", "/api/printer/command", "secret-key", {"command": "M112"})]
    assert said.startswith("M112 sent through OctoPrint")
    assert driver.status.state == MachineState.error
    assert driver.status.job is None


async def test_a_refused_emergency_stop_is_said(octoprint: tuple[str, type[Recorder]]) -> None:
    url, handler = octoprint
    handler.status = 409  # OctoPrint: the printer is not operational
    with pytest.raises(DriverUnavailable, match="did not take the emergency stop"):
        await make(url).emergency_stop()
