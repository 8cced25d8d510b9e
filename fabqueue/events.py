"""In-process event bus: ``job:state_changed``, ``machine:status`` and friends.

Publishers may be on any thread (API handlers run in a thread pool); subscribers are
asyncio consumers (SSE streams, the dispatcher) and always receive messages on their
own event loop. A subscriber that stops reading loses messages rather than holding
memory: its queue is bounded and the oldest messages are dropped.
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlmodel import Session


@dataclass(frozen=True)
class Message:
    id: int
    topic: str
    payload: dict[str, Any]


@dataclass
class _Subscriber:
    loop: asyncio.AbstractEventLoop
    topics: frozenset[str] | None
    queue: asyncio.Queue[Message] = field(default_factory=lambda: asyncio.Queue(maxsize=1000))
    dropped: int = 0

    def wants(self, topic: str) -> bool:
        return self.topics is None or topic in self.topics or topic.split(":")[0] in self.topics

    def offer(self, message: Message) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(message)


Listener = Callable[[Message], None]


class EventBus:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[_Subscriber] = []
        self._listeners: list[tuple[asyncio.AbstractEventLoop, Listener]] = []
        self._ids = itertools.count(1)

    def publish(self, topic: str, payload: dict[str, Any]) -> None:
        with self._lock:
            message = Message(next(self._ids), topic, payload)
            subscribers = [s for s in self._subscribers if s.wants(topic)]
            listeners = list(self._listeners)
        for sub in subscribers:
            _call_in_loop(sub.loop, sub.offer, message)
        for loop, listener in listeners:
            _call_in_loop(loop, listener, message)

    def add_listener(self, listener: Listener) -> Callable[[], None]:
        """Call ``listener(message)`` on the current event loop for every message."""
        entry = (asyncio.get_running_loop(), listener)
        with self._lock:
            self._listeners.append(entry)

        def remove() -> None:
            with self._lock:
                if entry in self._listeners:
                    self._listeners.remove(entry)

        return remove

    @asynccontextmanager
    async def subscribe(
        self, topics: Iterable[str] | None = None
    ) -> AsyncIterator[asyncio.Queue[Message]]:
        """A queue of the messages on ``topics`` (a topic or its domain, e.g. ``job``)."""
        sub = _Subscriber(asyncio.get_running_loop(), frozenset(topics) if topics else None)
        with self._lock:
            self._subscribers.append(sub)
        try:
            yield sub.queue
        finally:
            with self._lock:
                self._subscribers.remove(sub)


def _call_in_loop(
    loop: asyncio.AbstractEventLoop, fn: Callable[[Message], None], m: Message
) -> None:
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    if running is loop:
        fn(m)
    elif not loop.is_closed():
        loop.call_soon_threadsafe(fn, m)


PENDING_EVENTS_KEY = "fabqueue.pending_events"
"""Session.info key: bus messages published once the transaction commits."""


def queue_bus_event(session: Session, topic: str, payload: dict[str, Any]) -> None:
    """Publish ``topic`` on the event bus after this session commits (dropped on rollback)."""
    session.info.setdefault(PENDING_EVENTS_KEY, []).append((topic, payload))
