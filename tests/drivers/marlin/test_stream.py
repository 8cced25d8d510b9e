"""The host side of the numbered-line protocol, driven reply by reply."""

from __future__ import annotations

import pytest

from drivers.marlin.protocol import LineError, frame, parse_reply
from drivers.marlin.stream import LineStream, StreamBroken


def numbers(frames: list[bytes]) -> list[int]:
    return [int(f[1 : f.index(b" ")]) for f in frames]


def fill(stream: LineStream, count: int) -> None:
    for i in range(count):
        stream.add(b"G1 X%d" % i, meta=i)


def reply(stream: LineStream, text: str, now: float = 0.0, cause: LineError | None = None) -> bool:
    return stream.on_reply(parse_reply(text), now, cause)


def test_windowed_keeps_the_window_full_and_acks_cumulate() -> None:
    s = LineStream(windowed=True, window=3)
    fill(s, 6)
    assert numbers(s.take()) == [1, 2, 3]
    assert s.take() == []
    assert reply(s, "ok N1 P15 B2")
    assert numbers(s.take()) == [4]
    # The ok for line 2 was lost on the wire: the one for 3 covers it.
    assert reply(s, "ok N3 P14 B2")
    assert s.acked == 3 and s.meta(3) == 2
    assert numbers(s.take()) == [5, 6]
    # An N beyond anything sent is a garbled reply.
    assert not reply(s, "ok N93 P14 B2")
    assert s.acked == 3 and s.stats.ignored_replies == 1
    # A plain ok (the one after an error) acknowledges nothing here.
    assert not reply(s, "ok")


def test_windowed_resend_waits_for_lines_on_their_way_then_ignores_their_echoes() -> None:
    s = LineStream(windowed=True, window=3, byte_s=10 / 115200)
    fill(s, 5)
    sent = s.take()
    assert numbers(sent) == [1, 2, 3]
    reply(s, "ok N1 P15 B2")
    assert numbers(s.take()) == [4]
    # Line 2 arrived garbled; 3 and 4 are on their way and will be refused too.
    assert not reply(s, "Resend: 2", now=10.0, cause=LineError.checksum)  # 1 stays acked
    assert s.acked == 1
    assert s.take() == []  # let 3 and 4 land first: each makes Marlin empty its buffer
    deadline = s.next_deadline()
    assert deadline is not None and 10.0 < deadline < 10.02
    s.tick(deadline)
    assert numbers(s.take()) == [2]  # one line at a time until the firmware has it
    assert s.take() == []
    # Echoes of 3 and 4: "Line Number is not Last Line Number+1", then "Resend: 2".
    assert not reply(s, "Resend: 2", cause=LineError.line_number)
    assert not reply(s, "Resend: 2", cause=LineError.line_number)
    assert s.stats.stale_resends == 2 and s.stats.resends == 1
    assert reply(s, "ok N2 P15 B2")
    assert numbers(s.take()) == [3, 4, 5]
    assert s.stats.retransmitted == 3


def test_a_resent_line_garbled_again_is_sent_again() -> None:
    s = LineStream(windowed=True, window=3)
    fill(s, 3)
    s.take()
    reply(s, "Resend: 1", cause=LineError.checksum)
    assert numbers(s.take()) == [1]
    # This time it is a checksum error, not an echo: go again.
    reply(s, "Resend: 1", cause=LineError.checksum)
    assert numbers(s.take()) == [1]
    assert s.stats.resends == 2


def test_resend_of_an_acknowledged_line_corrects_the_count() -> None:
    s = LineStream(windowed=True, window=3)
    fill(s, 4)
    s.take()
    reply(s, "ok N3 P15 B2")  # a garbled N (really 2) made us think 3 was done
    reply(s, "Resend: 3", cause=LineError.checksum)
    assert s.acked == 2
    assert numbers(s.take()) == [3]


def test_resend_of_every_line_sent_means_all_were_taken() -> None:
    s = LineStream(windowed=True, window=3)
    fill(s, 2)
    s.take()
    # e.g. a duplicate the firmware refused: it wants 3, so 1 and 2 are done.
    assert reply(s, "Resend: 3", cause=LineError.line_number)
    assert s.acked == 2 and s.idle


def test_requests_that_cannot_be_right_are_ignored() -> None:
    s = LineStream(windowed=True, window=2)
    fill(s, 300)
    while s.acked < 250:
        s.take()
        reply(s, f"ok N{s.sent_hi} P15 B2")
    assert s.meta(1) is None  # old acknowledged lines are let go
    assert not reply(s, "Resend: 3", cause=LineError.checksum)  # garbled: long done
    assert not reply(s, "Resend: 290")  # never sent
    assert s.stats.ignored_replies == 2
    assert s.acked == 250


def test_a_line_refused_over_and_over_stops_the_stream() -> None:
    s = LineStream(windowed=False, max_same_resend=3)
    s.ok_after_resend = False
    fill(s, 1)
    s.take()
    for _ in range(3):
        reply(s, "Resend: 1", cause=LineError.checksum)
        s.take()
    with pytest.raises(StreamBroken, match="refused line 1 3 times"):
        reply(s, "Resend: 1", cause=LineError.checksum)


def test_timeout_sends_the_oldest_unacknowledged_line_again() -> None:
    s = LineStream(windowed=True, window=3)
    fill(s, 3)
    s.take()
    reply(s, "ok N1 P15 B2")
    s.timeout()
    assert numbers(s.take()) == [2]
    # The firmware had 2 and 3 already (their oks were lost): it asks for 4.
    assert reply(s, "Resend: 4", cause=LineError.line_number)
    assert s.idle


def test_one_line_in_flight_and_the_ok_after_a_resend() -> None:
    s = LineStream(windowed=False)
    fill(s, 3)
    assert numbers(s.take()) == [1]
    assert s.take() == []
    assert reply(s, "ok")
    assert s.acked == 1
    assert numbers(s.take()) == [2]
    reply(s, "Resend: 2", now=5.0, cause=LineError.checksum)
    assert s.take() == []  # is an ok coming after the request? wait for it, once
    assert not reply(s, "ok", now=5.01)  # it is: it frees the line, acknowledges nothing
    assert s.ok_after_resend is True and s.acked == 1
    assert numbers(s.take()) == [2]
    assert reply(s, "ok")
    assert s.acked == 2


def test_firmware_without_ok_after_resend() -> None:
    s = LineStream(windowed=False, resend_ok_wait_s=0.3)
    fill(s, 2)
    s.take()
    reply(s, "Resend: 1", now=1.0, cause=LineError.checksum)
    assert s.take() == []
    s.tick(1.31)
    assert s.ok_after_resend is False
    assert numbers(s.take()) == [1]
    reply(s, "ok")
    assert s.acked == 1


def test_a_late_ok_after_a_timeout_does_not_run_ahead() -> None:
    s = LineStream(windowed=False)
    s.ok_after_resend = True
    fill(s, 3)
    s.take()  # line 1
    s.timeout()
    assert numbers(s.take()) == [1]  # again
    reply(s, "ok")  # the late ok of the first copy
    assert s.acked == 1
    assert numbers(s.take()) == [2]
    # The firmware refuses the second copy of 1 and wants 2 (already on its way).
    reply(s, "Resend: 2", cause=LineError.line_number)
    reply(s, "ok")  # swallowed
    assert s.acked == 1
    assert numbers(s.take()) == [2]
    reply(s, "Resend: 3", cause=LineError.line_number)  # the copy of 2 we just sent
    reply(s, "ok")
    assert s.acked == 2


def test_m105_answers_without_a_number_even_with_advanced_ok() -> None:
    s = LineStream(windowed=True, window=3)
    s.add(b"G1 X1")
    s.add(b"M105")
    s.take()
    reply(s, "ok N1 P15 B2")
    assert reply(s, "ok T:20.0 /0.0 B:20.0 /0.0 @:0 B@:0")
    assert s.acked == 2 and s.idle


def test_frames_are_what_marlin_reads() -> None:
    s = LineStream(windowed=False)
    s.add(b"M115")
    assert s.take() == [frame(1, b"M115")]
