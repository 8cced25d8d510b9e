"""Signed session cookies for the pages (the API keeps its bearer tokens).

The cookie holds who signed in, the CSRF token, the last time the person touched the
screen and whether the tablet is locked; it is signed, not encrypted (nothing secret in
it), HttpOnly, SameSite=Lax, and Secure when the request came over HTTPS.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from pathlib import Path
from typing import Any

from itsdangerous import BadSignature, URLSafeTimedSerializer
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

COOKIE = "fq_session"
MAX_AGE_S = 14 * 24 * 3600
SCOPE_KEY = "fabqueue.web_session"


@dataclass
class WebSession:
    user_id: int | None = None
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    seen: float = field(default_factory=time.time)
    locked: bool = False
    dirty: bool = False

    def sign_in(self, user_id: int) -> None:
        self.user_id = user_id
        # A new CSRF token at each sign-in: a token seen before it is worth nothing after.
        self.csrf = secrets.token_urlsafe(24)
        self.seen = time.time()
        self.locked = False
        self.dirty = True

    def sign_out(self) -> None:
        self.user_id = None
        self.locked = False
        self.csrf = secrets.token_urlsafe(24)
        self.dirty = True

    def touch(self) -> None:
        self.seen = time.time()
        self.dirty = True

    def dump(self) -> dict[str, Any]:
        return {"u": self.user_id, "c": self.csrf, "s": round(self.seen), "l": self.locked}

    @classmethod
    def load(cls, data: dict[str, Any]) -> WebSession:
        return cls(
            user_id=data.get("u"),
            csrf=str(data.get("c") or secrets.token_urlsafe(24)),
            seen=float(data.get("s") or 0),
            locked=bool(data.get("l")),
        )


def secret_key(configured: str | None, data_dir: Path) -> str:
    """The configured key, else one made once and kept beside the data (0600)."""
    if configured:
        return configured
    path = data_dir / "session-secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


class SessionMiddleware:
    """Loads the session for page requests and writes it back when it changed.

    Pure ASGI (no response buffering), so the pages' event stream flows through it.
    """

    def __init__(self, app: ASGIApp, *, key: str, secure: bool | None) -> None:
        self.app = app
        self.signer = URLSafeTimedSerializer(key, salt="fabqueue.session")
        self.secure = secure

    def _read(self, scope: Scope) -> WebSession:
        for name, value in scope.get("headers", []):
            if name != b"cookie":
                continue
            cookie: SimpleCookie = SimpleCookie()
            try:
                cookie.load(value.decode("latin-1"))
            except Exception:
                continue
            if COOKIE in cookie:
                try:
                    data = self.signer.loads(cookie[COOKIE].value, max_age=MAX_AGE_S)
                except BadSignature:
                    break
                return WebSession.load(data)
        return WebSession(dirty=True)

    def _cookie(self, scope: Scope, session: WebSession) -> str:
        secure = self.secure if self.secure is not None else scope.get("scheme") == "https"
        value = self.signer.dumps(session.dump())
        parts = [f"{COOKIE}={value}", "Path=/", f"Max-Age={MAX_AGE_S}", "HttpOnly"]
        parts.append("SameSite=Lax")
        if secure:
            parts.append("Secure")
        return "; ".join(parts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(("/api/", "/static/")):
            await self.app(scope, receive, send)
            return
        session = self._read(scope)
        scope[SCOPE_KEY] = session

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and session.dirty:
                # A copy: a replayed answer (idempotency) must not keep an old cookie.
                message = {**message, "headers": list(message.get("headers", []))}
                headers = MutableHeaders(scope=message)
                headers.append("Set-Cookie", self._cookie(scope, session))
            await send(message)

        await self.app(scope, receive, send_with_cookie)
