"""The pool's waiting line, fair between the people who fill it.

A single first-in-first-out line let one person's burst of uploads (six arc bombs and
three files of zeros, each allowed its full CPU budget) occupy every worker and make a
different person's ordinary file wait minutes behind them. Here each owner has a line
of their own; the workers take from the owners in turn (round-robin), and one owner
never holds more than ``owner_cap`` workers at once, so, with a cap below the pool's
size, a worker is always left for somebody else's next file.

The cap is not work-conserving on purpose: on a two-worker pool one person's batch runs
one file at a time even when nobody else is waiting, because whoever comes next must
not wait for a file that may take its whole CPU budget.
"""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from typing import Generic, TypeVar

T = TypeVar("T")

ANYONE = ""
"""The owner of the server's own work (conversions of claimed jobs, CLI runs): it takes
its turn like anyone's but is not capped, since no visitor can fill it."""


class Full(Exception):
    """Every place of the line is taken."""


class Closed(Exception):
    """The line is closed: a worker waiting on it should stop."""


class FairQueue(Generic[T]):
    """At most ``maxsize`` items waiting in total, and at most half of them (or one) of
    any one owner, so one person cannot fill the line and have everybody else told
    the server is busy; each taken item counts against its owner until :meth:`done`."""

    def __init__(self, maxsize: int, owner_cap: int) -> None:
        if owner_cap < 1:
            raise ValueError("each owner must be allowed at least one worker")
        self.maxsize = maxsize
        self.owner_waiting_max = max(1, maxsize // 2)
        self.owner_cap = owner_cap
        self._lines: OrderedDict[str, deque[T]] = OrderedDict()
        """Owners with waiting items, in the order they are to be served next."""
        self._running: dict[str, int] = {}
        self._size = 0
        self._closed = False
        self._lock = threading.Lock()
        self._can_take = threading.Condition(self._lock)
        self._has_room = threading.Condition(self._lock)

    def put(self, item: T, owner: str = ANYONE, *, block: bool = False) -> None:
        with self._lock:
            while not self._closed and self._size >= self.maxsize:
                if not block:
                    raise Full
                self._has_room.wait()
            if self._closed:
                raise Closed
            line = self._lines.setdefault(owner, deque())
            if owner != ANYONE and len(line) >= self.owner_waiting_max:
                raise Full
            line.append(item)
            self._size += 1
            self._can_take.notify()

    def get(self) -> tuple[str, T]:
        """The next item of the first owner in turn who is under the cap, and its owner;
        blocks until there is one. Raises :class:`Closed` once the line is closed."""
        with self._lock:
            while True:
                if self._closed:
                    raise Closed
                taken = self._take()
                if taken is not None:
                    return taken
                self._can_take.wait()

    def _take(self) -> tuple[str, T] | None:
        for owner, line in self._lines.items():
            if owner != ANYONE and self._running.get(owner, 0) >= self.owner_cap:
                continue
            item = line.popleft()
            del self._lines[owner]
            if line:  # served: to the back of the turn
                self._lines[owner] = line
            self._running[owner] = self._running.get(owner, 0) + 1
            self._size -= 1
            self._has_room.notify()
            return owner, item
        return None

    def done(self, owner: str) -> None:
        """A worker is done with an item of ``owner``: their next one may be taken."""
        with self._lock:
            left = self._running.get(owner, 0) - 1
            if left > 0:
                self._running[owner] = left
            else:
                self._running.pop(owner, None)
            self._can_take.notify_all()

    def close(self) -> list[T]:
        """Close the line; wake every waiting worker; give back what was still waiting."""
        with self._lock:
            self._closed = True
            left = [item for line in self._lines.values() for item in line]
            self._lines.clear()
            self._size = 0
            self._can_take.notify_all()
            self._has_room.notify_all()
            return left

    def qsize(self) -> int:
        with self._lock:
            return self._size

    def running(self, owner: str) -> int:
        with self._lock:
            return self._running.get(owner, 0)
