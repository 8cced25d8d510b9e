"""A real SMTP server for tests (aiosmtpd, on its own thread): it keeps every message
it receives, parsed, and can refuse them (a server that is "down" for mail)."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Mailbox:
    """What the server received; ``refuse`` answers 451 (try later) instead."""

    messages: list[EmailMessage] = field(default_factory=list)
    refuse: bool = False
    arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.refuse:
            return "451 4.3.0 mailbox busy, try again later"
        msg = message_from_bytes(envelope.content, policy=default)
        assert isinstance(msg, EmailMessage)
        with self.arrived:
            self.messages.append(msg)
            self.arrived.notify_all()
        return "250 OK"

    def wait_for(self, count: int, timeout: float = 15.0) -> list[EmailMessage]:
        """Block until ``count`` messages arrived (the sender runs on another thread)."""
        with self.arrived:
            ok = self.arrived.wait_for(lambda: len(self.messages) >= count, timeout)
        assert ok, f"{len(self.messages)} message(s) arrived, {count} expected"
        return list(self.messages)


@dataclass
class SmtpServer:
    host: str
    port: int
    mailbox: Mailbox


@contextmanager
def smtp_server() -> Iterator[SmtpServer]:
    mailbox = Mailbox()
    port = free_port()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, mailbox)
    finally:
        controller.stop()


def parts(msg: EmailMessage) -> tuple[str, str]:
    """The plain-text and HTML bodies of a message."""
    text = msg.get_body(preferencelist=("plain",))
    html = msg.get_body(preferencelist=("html",))
    assert text is not None and html is not None, "both parts are expected"
    return str(text.get_content()), str(html.get_content())


def attachments(msg: EmailMessage) -> list[tuple[str, bytes]]:
    return [
        (str(p.get_filename()), bytes(p.get_content()))
        for p in msg.iter_attachments()
        if p.get_filename()
    ]
