"""Uploads at the edge: refused with 413 while they stream in, before they fill a disk,
and spooled in the data dir's own temp folder, not the system's (RAM on many small
computers, where a 200 MB upload would eat the memory the machines need)."""

from __future__ import annotations

import json
import tempfile
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import starlette.formparsers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

FORM_SLACK = 1024 * 1024
"""Room for the multipart framing and the small form fields around the file."""

_spool_dir: ContextVar[Path | None] = ContextVar("fabqueue_spool_dir", default=None)


def _spooled_file(*args: Any, **kwargs: Any) -> tempfile.SpooledTemporaryFile[bytes]:
    kwargs.setdefault("dir", _spool_dir.get())
    return tempfile.SpooledTemporaryFile(*args, **kwargs)


def install_spooling() -> None:
    """Starlette's form parser names ``SpooledTemporaryFile`` with no folder and no way to
    pass one: give it a factory that uses the folder of the request being parsed."""
    setattr(starlette.formparsers, "SpooledTemporaryFile", _spooled_file)  # noqa: B010


class _BodyTooLarge(Exception):
    pass


class UploadLimitMiddleware:
    def __init__(self, app: ASGIApp, *, limit: int, spool_dir: Path | None = None) -> None:
        self.app = app
        self.limit = limit + FORM_SLACK
        self.spool_dir = spool_dir
        if spool_dir is not None:
            spool_dir.mkdir(parents=True, exist_ok=True)
            install_spooling()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(send)
            return
        _spool_dir.set(self.spool_dir)
        await self._counted(scope, receive, send)

    async def _counted(self, scope: Scope, receive: Receive, send: Send) -> None:
        """A body without a length (chunked) is counted as it arrives. Whatever the app
        makes of the interruption (FastAPI answers 400 "error parsing the body"), the
        client is told the truth: 413."""
        seen = 0
        too_large = False
        started = False

        async def counted() -> Message:
            nonlocal seen, too_large
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    too_large = True
                    raise _BodyTooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if too_large:
                if message["type"] == "http.response.start" and not started:
                    started = True
                    await self._refuse(send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except _BodyTooLarge:
            if not started:
                await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        mb = (self.limit - FORM_SLACK) // (1024 * 1024)
        body = json.dumps({"detail": f"the upload is larger than the {mb} MB limit"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    (b"connection", b"close"),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
