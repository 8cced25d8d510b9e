"""No credential reaches a log line: tokens, tickets, URL parameters, headers."""

from __future__ import annotations

import io
import logging
from collections.abc import Iterator

import httpx
import pytest
from uvicorn.logging import AccessFormatter

from fabqueue import redaction
from fabqueue.app import create_app
from fabqueue.settings import Settings
from tests.support.factories import make_user
from tests.support.live import live_server

TOKEN = "fq_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8S9t0U1v"


@pytest.mark.parametrize(
    ("line", "kept"),
    [
        (f"GET /api/v1/events?access_token={TOKEN}&topics=job", "topics=job"),
        (f"GET /api/v1/events?topics=job&ticket=fqt_{'x' * 32}", "topics=job"),
        (f"headers: {{'authorization': 'Bearer {TOKEN}'}}", "authorization"),
        ("Authorization: Bearer abc.def-ghi", "Authorization: Bearer"),
        (f"x-api-key: {TOKEN[3:]}", "x-api-key"),
        (f"token {TOKEN} of mia", "of mia"),
    ],
)
def test_redact(line: str, kept: str) -> None:
    out = redaction.redact(line)
    assert TOKEN not in out and TOKEN[3:] not in out and "x" * 32 not in out
    assert "abc.def-ghi" not in out
    assert redaction.REDACTED in out and kept in out


def test_every_logger_is_redacted(caplog: pytest.LogCaptureFixture) -> None:
    redaction.install()
    redaction.install()  # idempotent: one layer, not two
    with caplog.at_level(logging.INFO):
        logging.getLogger("anything.at.all").info("got %s with %r", TOKEN, {"key": TOKEN})
    assert TOKEN not in caplog.text and caplog.text.count(redaction.REDACTED) == 2


def test_tracebacks_are_redacted(caplog: pytest.LogCaptureFixture) -> None:
    redaction.install()
    try:
        raise RuntimeError(f"GET http://cafe/api/v1/events?access_token={TOKEN} failed")
    except RuntimeError:
        logging.getLogger("fabqueue.test").exception("stream failed")
    assert "RuntimeError" in caplog.text and "access_token=[redacted]" in caplog.text
    assert TOKEN not in caplog.text and TOKEN[3:] not in caplog.text


@pytest.fixture
def access_log(settings: Settings) -> Iterator[tuple[str, str, io.StringIO]]:
    app = create_app(settings.model_copy(update={"start_dispatcher": False}))
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(AccessFormatter('%(client_addr)s - "%(request_line)s" %(status_code)s'))
    with live_server(app, access_log=True, log_level="info") as url:
        logger = logging.getLogger("uvicorn.access")
        logger.addHandler(handler)
        try:
            _, token = make_user(app.state.ctx.sessions, "mia", "member")
            yield url, token, out
        finally:
            logger.removeHandler(handler)


def test_the_access_log_shows_no_token(access_log: tuple[str, str, io.StringIO]) -> None:
    url, token, out = access_log
    auth = {"Authorization": f"Bearer {token}"}
    ticket = httpx.post(f"{url}/api/v1/events/ticket", headers=auth).json()["ticket"]
    httpx.get(f"{url}/api/v1/jobs", params={"access_token": token})
    with httpx.stream("GET", f"{url}/api/v1/events", params={"ticket": ticket}, timeout=10) as r:
        assert r.status_code == 200
    with httpx.stream("GET", f"{url}/api/v1/events", params={"access_token": token}) as r:
        assert r.status_code == 200
    assert httpx.get(f"{url}/api/v1/jobs", headers=auth).status_code == 200
    logged = out.getvalue()
    assert logged.count("/api/v1/") >= 4, logged
    assert token not in logged and ticket not in logged
    assert token[3:11] not in logged  # not even the part a list shows
    assert "access_token=[redacted]" in logged and "ticket=[redacted]" in logged
