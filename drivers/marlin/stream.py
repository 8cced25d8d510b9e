"""The host side of Marlin's numbered-line protocol, as a state machine without I/O.

Feed it the printer's replies and the passing of time; it says which frames to write and
which line the printer has acknowledged. Keeping it pure lets the tests drive every
resend, lost ``ok`` and stale request by hand.

Two ways to stream, chosen from what the firmware shows in its reply to ``M110``:

* **windowed** (``ok N<n> P<planner> B<buffer>``, Marlin's ADVANCED_OK): up to ``window``
  lines in flight (the firmware's free command slots, i.e. BUFSIZE − 1); each ``ok N<n>``
  acknowledges every line up to ``n``.
* **one line in flight** otherwise: a plain ``ok`` frees the line; acknowledgements are
  paired with transmissions in order.

Correctness never rests on the host's bookkeeping: the firmware refuses any line whose
number is not the one it expects, so a line cannot run twice or out of order. The host's
job is to keep the line moving: answer ``Resend:`` from its history, ignore the echoes of
lines sent before it went back, and send a fresh numbered line (a "tickle") when the
printer has gone quiet, which makes the firmware say where it is.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from drivers.marlin.protocol import LineError, Reply, ReplyKind, frame

HISTORY_MARGIN = 64
"""Acknowledged lines kept for a garbled resend request that names an old line."""


class StreamBroken(Exception):
    """The protocol cannot go on (the printer wants a line we no longer have, or keeps
    refusing one): the job must stop."""


@dataclass
class StreamStats:
    transmitted: int = 0
    retransmitted: int = 0
    bytes_sent: int = 0
    resends: int = 0
    """Resend requests acted on."""
    stale_resends: int = 0
    """Resend requests recognised as echoes of lines already being re-sent."""
    ignored_replies: int = 0
    """Acknowledgements or requests that could not be right (garbled on the line)."""
    tickles: int = 0


@dataclass
class _Line:
    frame: bytes
    meta: Any
    transmitted: bool = False


@dataclass
class LineStream:
    windowed: bool
    window: int = 1
    """Lines in flight when windowed (the firmware's free command slots)."""
    calm_lines: int = 0
    """After a resend, stream one line at a time for this many lines (see docs/printers.md:
    an error on a line can cut the next one in two inside the firmware)."""
    max_same_resend: int = 10
    resend_ok_wait_s: float = 0.3
    """How long to wait, once, for the ``ok`` some firmware sends after ``Resend:``."""
    byte_s: float = 0.0
    """Time one byte takes on the line (10 / baud). After a resend request, the lines
    already on their way are let through before the first one goes again: each of them
    makes Marlin empty its receive buffer, which would cut the re-sent line short."""
    stats: StreamStats = field(default_factory=StreamStats)

    def __post_init__(self) -> None:
        self._lines: dict[int, _Line] = {}
        self.next_number = 1
        """Number the next added line gets (line 0 was the ``M110 N0`` handshake)."""
        self.cursor = 1
        """Next number to transmit."""
        self.sent_hi = 0
        self.acked = 0
        self._pruned = 0
        self._resync: int | None = None
        self._stale_budget = 0
        self._calm_until = 0
        self._last_resend = 0
        self._same_resend = 0
        self._hold_until: float | None = None
        # One line in flight: credits and the order of transmissions waiting for an ok.
        self._credit = True
        self._waiting: deque[int] = deque()
        self.ok_after_resend: bool | None = None
        self._swallow_ok = False
        self._swallow_deadline: float | None = None
        # M105's reply ("ok T:…") never carries a line number, even with ADVANCED_OK.
        self._m105: deque[int] = deque()

    # --- what to send ------------------------------------------------------------------

    def add(self, command: bytes, meta: Any = None) -> int:
        number = self.next_number
        self._lines[number] = _Line(frame(number, command), meta)
        self.next_number += 1
        if command.startswith(b"M105"):
            self._m105.append(number)
        return number

    @property
    def in_flight(self) -> int:
        return max(0, self.cursor - 1 - self.acked)

    @property
    def outstanding(self) -> bool:
        """Lines transmitted and not yet acknowledged (what a timeout is about)."""
        return self.acked < self.sent_hi

    @property
    def idle(self) -> bool:
        """Everything added has been transmitted and acknowledged."""
        return self.acked >= self.next_number - 1

    def _effective_window(self) -> int:
        if self._resync is not None or self.acked < self._calm_until:
            return 1
        return self.window

    def can_transmit(self) -> bool:
        if self._hold_until is not None:
            return False
        if self.windowed:
            return self.in_flight < self._effective_window()
        return self._credit and not self._swallow_ok

    def wants_line(self) -> bool:
        """True when a new line added now would be transmitted at once."""
        return self.cursor >= self.next_number and self.can_transmit()

    def take(self) -> list[bytes]:
        """Frames to write now (retransmissions first, then new lines), in order."""
        out: list[bytes] = []
        while self.cursor < self.next_number and self.can_transmit():
            line = self._lines[self.cursor]
            if line.transmitted:
                self.stats.retransmitted += 1
            line.transmitted = True
            self.stats.transmitted += 1
            self.stats.bytes_sent += len(line.frame)
            out.append(line.frame)
            if not self.windowed:
                self._credit = False
                self._waiting.append(self.cursor)
                while len(self._waiting) > 2:  # a lost ok leaves a stale entry: forget it
                    self._waiting.popleft()
            self.sent_hi = max(self.sent_hi, self.cursor)
            self.cursor += 1
        return out

    def meta(self, number: int) -> Any:
        line = self._lines.get(number)
        return line.meta if line is not None else None

    # --- what the printer says -----------------------------------------------------------

    def on_reply(self, reply: Reply, now: float, last_error: LineError | None = None) -> bool:
        """Take one reply; True when the acknowledged line moved on. ``last_error`` is the
        kind of the ``Error:`` line that came just before a ``Resend:`` (if any)."""
        if reply.kind == ReplyKind.ok:
            return self._on_ok(reply, now)
        if reply.kind == ReplyKind.resend and reply.number is not None:
            return self._on_resend(reply.number, now, last_error)
        return False

    def _ack(self, number: int) -> bool:
        if number <= self.acked:
            return False
        self.acked = number
        if self._resync is not None and number >= self._resync:
            self._resync = None
            self._stale_budget = 0
        if number > self._last_resend:
            self._same_resend = 0
        if self.acked - HISTORY_MARGIN > self._pruned + HISTORY_MARGIN:
            for n in range(self._pruned + 1, self.acked - HISTORY_MARGIN + 1):
                self._lines.pop(n, None)
            self._pruned = self.acked - HISTORY_MARGIN
        return True

    def _on_ok(self, reply: Reply, now: float) -> bool:
        if self.windowed:
            n = reply.number
            if n is None and reply.temperatures:
                return self._ack_m105()
            # A plain ok follows an error here; an N beyond what we sent was garbled.
            if n is None:
                return False
            if n > self.sent_hi:
                self.stats.ignored_replies += 1
                return False
            return self._ack(n)
        if self._swallow_ok:
            # The ok some firmware sends right after "Resend:": it frees the line but
            # acknowledges nothing.
            self._swallow_ok = False
            self._swallow_deadline = None
            if self.ok_after_resend is None:
                self.ok_after_resend = True
            self._credit = True
            return False
        self._credit = True
        if not self._waiting:
            return False
        return self._ack(self._waiting.popleft())

    def _ack_m105(self) -> bool:
        while self._m105 and self._m105[0] <= self.acked:
            self._m105.popleft()
        if self._m105 and self._m105[0] < self.cursor:
            return self._ack(self._m105.popleft())
        return False

    def _on_resend(self, n: int, now: float, cause: LineError | None) -> bool:
        if n < 1 or n > self.sent_hi + 1:
            self.stats.ignored_replies += 1
            return False
        if n == self.next_number:
            # It has every line we sent (a duplicate or a tickle it had already seen).
            if not self.windowed:
                self._expect_resend_ok(now)
            return self._ack(n - 1)
        if n not in self._lines:
            if n <= self.acked:
                self.stats.ignored_replies += 1
                return False
            raise StreamBroken(f"the printer asked again for line {n}, no longer in history")
        if n == self._resync and cause == LineError.line_number and self._stale_budget > 0:
            # A line sent before we went back reached the firmware after the bad one.
            self._stale_budget -= 1
            self.stats.stale_resends += 1
            return False
        if n == self._last_resend:
            self._same_resend += 1
        else:
            self._last_resend, self._same_resend = n, 1
        if self._same_resend > self.max_same_resend:
            raise StreamBroken(
                f"the printer refused line {n} {self.max_same_resend} times: "
                "check the cable, the baud rate and the line's length"
            )
        self.stats.resends += 1
        self._stale_budget = max(0, self.sent_hi - n)
        if self.windowed and self.byte_s and self._stale_budget:
            on_the_way = sum(len(self._lines[k].frame) for k in range(n, self.sent_hi + 1))
            self._hold_until = now + on_the_way * self.byte_s + 0.005
        self._resync = n
        self.cursor = n
        moved = n - 1 != self.acked
        self.acked = n - 1
        if self.calm_lines:
            self._calm_until = max(self._calm_until, n + self.calm_lines)
        if not self.windowed:
            self._expect_resend_ok(now)
        return moved

    def _expect_resend_ok(self, now: float) -> None:
        self._waiting.clear()
        if self.ok_after_resend is False:
            self._credit = True
        else:
            self._credit = False
            self._swallow_ok = True
            if self.ok_after_resend is None:
                self._swallow_deadline = now + self.resend_ok_wait_s

    # --- time -----------------------------------------------------------------------------

    def next_deadline(self) -> float | None:
        deadlines = [d for d in (self._swallow_deadline, self._hold_until) if d is not None]
        return min(deadlines) if deadlines else None

    def tick(self, now: float) -> None:
        """Let internal timers run out (the wait for an ok after a resend)."""
        if self._hold_until is not None and now >= self._hold_until:
            self._hold_until = None
        if self._swallow_deadline is not None and now >= self._swallow_deadline:
            # This firmware does not follow "Resend:" with an ok: stop waiting for one.
            self._swallow_deadline = None
            self._swallow_ok = False
            self.ok_after_resend = False
            self._credit = True

    def timeout(self) -> None:
        """The printer has been quiet too long with lines unanswered: send the oldest of
        them again. If the firmware already had it, it answers ``Resend:`` with the line
        it wants; either way it says where it stands, and no line can run twice."""
        self.stats.tickles += 1
        if not self.outstanding:
            return
        n = self.acked + 1
        self.cursor = n
        self._resync = n
        self._stale_budget = 0
        self._hold_until = None
        if not self.windowed:
            self._waiting.clear()
            self._swallow_ok = False
            self._swallow_deadline = None
            self._credit = True
