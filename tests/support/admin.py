"""Helpers for the admin pages' tests: the clock's start, a page's form keys, the
one-time password shown."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient

from tests.support.web import csrf_of

START = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
"""A Monday, 10:30 in Paris."""


def form_keys(client: TestClient, path: str) -> dict[str, str]:
    """The session's CSRF token (read from the page at ``path``) and a fresh
    idempotency key, as a form on that page would send them."""
    return {"csrf": csrf_of(client.get(path).text), "idem": uuid.uuid4().hex}


def shown_password(html: str) -> str:
    marker = 'id="password"><code>'
    start = html.index(marker) + len(marker)
    return html[start : html.index("</code>", start)]


class HandClock:
    """The service's clock for browser tests served in-process: ``now()`` moves only
    when the test says so, while background loops sleep in real time (so they neither
    spin nor stall)."""

    def __init__(self, start: datetime = START) -> None:
        self.at = start

    def now(self) -> datetime:
        return self.at

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(seconds, 0))

    def advance(self, **delta: float) -> None:
        self.at += timedelta(**delta)
