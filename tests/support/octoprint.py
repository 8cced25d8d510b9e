"""A real OctoPrint 1.11.8 for the tests (and the serial benchmark), run as a process.

OctoPrint is AGPL: it is installed into its own virtualenv, outside the repository, and
only ever run — never imported. Recipe: research/printers.md §6. The virtualenv is made
once (``~/.cache/fabqueue/octoprint-1.11.8``, or ``$FABQUEUE_OCTOPRINT_VENV``; about
15 s with pip's cache); each server gets a fresh base dir, an offline configuration, an
app key written before it starts, and the bundled Virtual Printer.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERSION = "1.11.8"
API_KEY = "FABQUEUETESTKEY0123456789ABCDEF"
USER = "fabqueue"

# Bundled plugins that phone home or broadcast: off, so the server stays on loopback.
_DISABLED = [
    "discovery",
    "announcements",
    "softwareupdate",
    "pluginmanager",
    "tracking",
    "errortracking",
    "health_check",
]


def venv_dir() -> Path:
    env = os.environ.get("FABQUEUE_OCTOPRINT_VENV")
    if env:
        return Path(env)
    return Path.home() / ".cache" / "fabqueue" / f"octoprint-{VERSION}"


def ensure_installed() -> Path:
    """The ``octoprint`` executable, installing it first if needed (idempotent, and safe
    when two test sessions ask at once)."""
    venv = venv_dir()
    ready = venv / ".fabqueue-ready"
    exe = venv / "bin" / "octoprint"
    if ready.exists() and exe.exists():
        return exe
    venv.parent.mkdir(parents=True, exist_ok=True)
    with (venv.parent / f".{venv.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready.exists() and exe.exists():
            return exe
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
        result = subprocess.run(
            [str(venv / "bin" / "pip"), "install", "--quiet", f"octoprint=={VERSION}"],
            capture_output=True,
            text=True,
            timeout=900,
        )
        if result.returncode != 0:
            raise RuntimeError(f"installing octoprint=={VERSION} failed:\n{result.stderr[-3000:]}")
        ready.write_text(VERSION)
    return exe


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _config(additional_ports: list[str]) -> str:
    # JSON is YAML: no YAML writer needed here.
    config: dict[str, Any] = {
        "server": {
            "firstRun": False,
            "onlineCheck": {"enabled": False},
            "pluginBlacklist": {"enabled": False},
        },
        "plugins": {"_disabled": _DISABLED, "virtual_printer": {"enabled": True}},
        "serial": {"autoconnect": False, "additionalPorts": additional_ports},
    }
    return json.dumps(config, indent=2)


@dataclass
class OctoPrintServer:
    url: str
    api_key: str
    basedir: Path
    process: subprocess.Popen[bytes]
    _log: Any = field(repr=False, default=None)

    def api(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        """A plain HTTP call (for test set-up, independent of the code under test)."""
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            f"{self.url}{path}",
            data=data,
            method=method,
            headers={"X-Api-Key": self.api_key, "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            raw = response.read()
        return json.loads(raw) if raw else None

    def log_tail(self, chars: int = 4000) -> str:
        path = self.basedir / "logs" / "octoprint.log"
        return path.read_text(errors="replace")[-chars:] if path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        if self._log is not None:
            self._log.close()
        shutil.rmtree(self.basedir, ignore_errors=True)


def start(additional_ports: list[str] | None = None, timeout_s: float = 60.0) -> OctoPrintServer:
    exe = ensure_installed()
    base = Path(tempfile.mkdtemp(prefix="fabqueue-octoprint-"))
    (base / "config.yaml").write_text(_config(additional_ports or []))
    subprocess.run(
        [
            str(exe),
            "--basedir",
            str(base),
            "user",
            "add",
            "--password",
            "fabqueue-test",
            "--admin",
            USER,
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )
    keys = base / "data" / "appkeys"
    keys.mkdir(parents=True, exist_ok=True)
    (keys / "keys.yaml").write_text(f"{USER}:\n- app_id: fabqueue-tests\n  api_key: {API_KEY}\n")
    port = _free_port()
    log = (base / "serve.log").open("wb")
    process = subprocess.Popen(
        [str(exe), "serve", "--basedir", str(base), "--host", "127.0.0.1", "--port", str(port)]
        + (["--iknowwhatimdoing"] if os.geteuid() == 0 else []),
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = OctoPrintServer(f"http://127.0.0.1:{port}", API_KEY, base, process, log)
    deadline = time.monotonic() + timeout_s
    # An "intermediary" server answers 404 while OctoPrint boots: wait for a real 200.
    while True:
        if process.poll() is not None:
            server.stop()
            raise RuntimeError(f"octoprint serve exited ({process.returncode})")
        with contextlib.suppress(OSError, ValueError, http.client.HTTPException):
            if server.api("GET", "/api/version").get("server"):
                return server
        if time.monotonic() > deadline:
            tail = server.log_tail()
            server.stop()
            raise RuntimeError(f"OctoPrint did not come up in {timeout_s:.0f} s:\n{tail}")
        time.sleep(0.1)


_shared: OctoPrintServer | None = None
_shared_lock = threading.Lock()


def shared() -> OctoPrintServer:
    """One server for the whole test session, started on first use."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared.process.poll() is not None:
            _shared = start()
            atexit.register(stop_shared)
        return _shared


def stop_shared() -> None:
    global _shared
    with _shared_lock:
        if _shared is not None:
            _shared.stop()
            _shared = None


def reset(server: OctoPrintServer) -> None:
    """Between tests: no job, printer disconnected, our uploads gone."""
    with contextlib.suppress(urllib.error.HTTPError):
        server.api("POST", "/api/job", {"command": "cancel"})
    with contextlib.suppress(urllib.error.HTTPError):
        server.api("POST", "/api/connection", {"command": "disconnect"})
    with contextlib.suppress(urllib.error.HTTPError):
        server.api("DELETE", "/api/files/local/fabqueue")


class TcpProxy:
    """A TCP relay in front of OctoPrint that a test can cut and restore, to play a
    network that goes down (the server itself keeps running)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = _free_port()
        self._listener: socket.socket | None = None
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(16)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_RDWR)

    def cut(self) -> None:
        if self._listener is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone would not.
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()
            self._listener = None
        with self._lock:
            conns, self._conns = self._conns, []
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def restore(self) -> None:
        self.start()
