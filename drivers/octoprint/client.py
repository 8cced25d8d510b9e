"""octorest, with what it gets wrong put right (research/printers.md §5).

* No network call when built: octorest's constructor fetches ``/api/version`` when given
  a key, so the key is set on the session instead.
* Every request has a timeout: octorest passes none, and a dead host would block forever.
* Errors are typed from the HTTP status (octorest raises a bare ``RuntimeError`` whose
  message ends in ``(<status>)``): 401/403 → :class:`AuthError`, 409 → :class:`Conflict`,
  404 → :class:`NotFound`, no answer → :class:`Unreachable`.
* Uploads are a real multipart form: octorest's ``upload(select=, print=, path=)`` sends
  those as a JSON body that ``requests`` drops next to ``files=``, so they were silently
  ignored; folders are made with form fields, not JSON.

Blocking, like octorest: call it from a worker thread (``asyncio.to_thread``).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import requests
from octorest import OctoRest

T = TypeVar("T")

_STATUS = re.compile(r"\((\d{3})\)\s*$")


class OctoPrintError(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class Unreachable(OctoPrintError):
    """No answer (refused, timed out, DNS): OctoPrint or its host is down."""


class AuthError(OctoPrintError):
    """The API key was refused (OctoPrint answers 403 for a wrong key)."""


class Conflict(OctoPrintError):
    """The printer is not in a state for that (not operational, not printing…)."""


class NotFound(OctoPrintError):
    pass


def _error_for(status: int | None, message: str) -> OctoPrintError:
    if status in (401, 403):
        return AuthError(message, status)
    if status == 409:
        return Conflict(message, status)
    if status == 404:
        return NotFound(message, status)
    return OctoPrintError(message, status)


def _reason(body: str) -> str:
    """OctoPrint's ``{"error": "..."}`` text, or the body itself."""
    m = re.search(r'"error"\s*:\s*"((?:[^"\\]|\\.)*)"', body)
    return m.group(1) if m else body.strip()[:300]


class _TimeoutSession(requests.Session):
    def __init__(self, timeout: tuple[float, float]) -> None:
        super().__init__()
        self._timeout = timeout

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


class OctoPrintClient:
    def __init__(self, url: str, api_key: str, *, timeout_s: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.session = _TimeoutSession((min(3.05, timeout_s), timeout_s))
        self.session.headers["X-Api-Key"] = api_key
        self.rest = OctoRest(url=self.url, session=self.session)

    def close(self) -> None:
        self.session.close()

    def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except requests.RequestException as exc:
            raise Unreachable(f"OctoPrint at {self.url} does not answer: {exc}") from exc
        except RuntimeError as exc:
            text = str(exc)
            m = _STATUS.search(text)
            status = int(m.group(1)) if m else None
            body = text.split(" was not OK: ", 1)[-1]
            body = _STATUS.sub("", body)
            raise _error_for(status, f"OctoPrint: {_reason(body)} ({status})") from exc

    def _raw(self, method: str, path: str, **kwargs: Any) -> Any:
        try:
            response = self.session.request(method, f"{self.url}{path}", **kwargs)
        except requests.RequestException as exc:
            raise Unreachable(f"OctoPrint at {self.url} does not answer: {exc}") from exc
        if not 200 <= response.status_code < 300:
            raise _error_for(
                response.status_code,
                f"OctoPrint: {_reason(response.text)} ({response.status_code})",
            )
        return response.json() if response.content else None

    # --- what octorest does right -------------------------------------------------------

    def version(self) -> dict[str, Any]:
        return self._call(self.rest.get_version)

    def connection(self) -> dict[str, Any]:
        return self._call(self.rest.connection_info)

    def connect(self, port: str | None, baudrate: int | None, profile: str | None) -> None:
        self._call(self.rest.connect, port=port, baudrate=baudrate, printer_profile=profile)

    def disconnect(self) -> None:
        self._call(self.rest.disconnect)

    def printer(self) -> dict[str, Any] | None:
        """``/api/printer``; None while the printer is not operational (409)."""
        try:
            state: dict[str, Any] = self._call(self.rest.printer)
        except Conflict:
            return None
        return state

    def job(self) -> dict[str, Any]:
        return self._call(self.rest.job_info)

    def start(self) -> None:
        self._call(self.rest.start)

    def pause(self) -> None:
        self._call(self.rest.pause)

    def resume(self) -> None:
        self._call(self.rest.resume)

    def cancel(self) -> None:
        self._call(self.rest.cancel)

    def select(self, path: str, *, start: bool) -> None:
        self._call(self.rest.select, f"local/{path}", print=start)

    def gcode(self, commands: list[str]) -> None:
        self._call(self.rest.gcode, commands)

    def file_info(self, path: str) -> dict[str, Any]:
        return self._call(self.rest.files_info, "local", path)

    def delete(self, path: str) -> None:
        self._call(self.rest.delete, f"local/{path}")

    # --- what it gets wrong ---------------------------------------------------------------

    def ensure_folder(self, folder: str) -> None:
        """Make ``folder`` (one level) in OctoPrint's local storage if it is not there."""
        with contextlib.suppress(Conflict):  # it exists already
            self._raw("POST", "/api/files/local", data={"foldername": folder, "path": ""})

    def upload(
        self, local: Path, remote_path: str, *, select: bool = False, start: bool = False
    ) -> dict[str, Any]:
        """Upload ``local`` as ``remote_path`` (``folder/name.gcode``), as one multipart
        form with its ``path``, ``select`` and ``print`` fields."""
        folder, _, name = remote_path.rpartition("/")
        with local.open("rb") as fh:
            result = self._raw(
                "POST",
                "/api/files/local",
                files={"file": (name, fh, "application/octet-stream")},
                data={
                    "path": folder,
                    "select": "true" if select or start else "false",
                    "print": "true" if start else "false",
                },
            )
        return result if isinstance(result, dict) else {}
