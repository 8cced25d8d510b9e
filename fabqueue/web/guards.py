"""What every page POST passes: the CSRF token, and an idempotency key so that a
double tap (or a retry on shaky Wi-Fi) does the thing once."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field

from starlette.responses import Response


@dataclass
class _Entry:
    owner: int | None
    done: threading.Event = field(default_factory=threading.Event)
    response: Response | None = None
    at: float = field(default_factory=time.monotonic)


class Idempotency:
    """Keys seen in the last ``ttl_s``, with the answer given the first time.

    A second request with the same key waits for the first to finish and gets the same
    answer; it never runs the action again.
    """

    def __init__(self, ttl_s: float = 3600.0, max_entries: int = 10_000) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        self._lock = threading.Lock()

    def _expire(self, now: float) -> None:
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if now - entry.at < self.ttl_s and len(self._entries) <= self.max_entries:
                break
            del self._entries[key]

    def begin(self, key: str, owner: int | None) -> tuple[bool, _Entry]:
        """(True, entry) for the first request with ``key``; (False, entry) after."""
        now = time.monotonic()
        with self._lock:
            self._expire(now)
            entry = self._entries.get(f"{owner}:{key}")
            if entry is not None:
                return False, entry
            entry = _Entry(owner)
            self._entries[f"{owner}:{key}"] = entry
            return True, entry

    def finish(self, entry: _Entry, response: Response | None) -> None:
        entry.response = response
        entry.done.set()

    def forget(self, key: str, owner: int | None) -> None:
        """The first try failed before doing anything: a retry may run."""
        with self._lock:
            self._entries.pop(f"{owner}:{key}", None)


def new_key() -> str:
    return secrets.token_urlsafe(16)


def same_token(given: str | None, expected: str) -> bool:
    return given is not None and secrets.compare_digest(given.encode(), expected.encode())


def local_path(target: str | None) -> str:
    """Only a path of this site (else the board): a ``next`` in a link or a form must
    not send anyone elsewhere."""
    if not target or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target
