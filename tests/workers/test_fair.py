"""The pool's waiting line: owners served in turn, none holding every worker."""

from __future__ import annotations

import threading

import pytest

from fabqueue.workers.fair import ANYONE, Closed, FairQueue, Full


def test_owners_are_served_in_turn_not_in_arrival_order() -> None:
    q: FairQueue[str] = FairQueue(maxsize=10, owner_cap=10)
    for i in range(3):
        q.put(f"eve{i}", "eve")
    q.put("marie0", "marie")
    q.put("eve3", "eve")
    q.put("paul0", "paul")
    taken = [q.get() for _ in range(6)]
    assert [item for _, item in taken] == ["eve0", "marie0", "paul0", "eve1", "eve2", "eve3"]


def test_an_owner_at_the_cap_waits_while_others_are_served() -> None:
    q: FairQueue[str] = FairQueue(maxsize=10, owner_cap=1)
    for i in range(3):
        q.put(f"eve{i}", "eve")
    assert q.get() == ("eve", "eve0")
    q.put("marie0", "marie")
    # eve1 was first in line, but eve already holds her one worker.
    assert q.get() == ("marie", "marie0")
    assert q.running("eve") == 1 and q.running("marie") == 1
    taker: list[tuple[str, str]] = []
    worker = threading.Thread(target=lambda: taker.append(q.get()))
    worker.start()
    worker.join(0.2)
    assert worker.is_alive() and taker == []  # only eve's work waits, and she is at her cap
    q.done("eve")
    worker.join(10)
    assert taker == [("eve", "eve1")]


def test_the_servers_own_work_is_not_capped() -> None:
    q: FairQueue[str] = FairQueue(maxsize=10, owner_cap=1)
    q.put("convert-a")
    q.put("convert-b")
    assert q.get() == (ANYONE, "convert-a")
    assert q.get() == (ANYONE, "convert-b")


def test_the_line_is_bounded_in_total_and_says_so() -> None:
    q: FairQueue[str] = FairQueue(maxsize=2, owner_cap=1)
    q.put("a", "eve")
    q.put("b", "marie")
    with pytest.raises(Full):
        q.put("c", "paul")
    assert q.qsize() == 2
    q.get()
    q.put("c", "paul")
    assert q.qsize() == 2


def test_a_blocking_put_waits_for_room() -> None:
    q: FairQueue[str] = FairQueue(maxsize=1, owner_cap=1)
    q.put("a", "eve")
    putter = threading.Thread(target=lambda: q.put("b", "dispatch", block=True))
    putter.start()
    putter.join(0.2)
    assert putter.is_alive()
    assert q.get() == ("eve", "a")
    putter.join(10)
    assert not putter.is_alive() and q.get() == ("dispatch", "b")


def test_closing_hands_back_what_waits_and_stops_the_workers() -> None:
    q: FairQueue[str] = FairQueue(maxsize=5, owner_cap=1)
    q.put("a", "eve")
    q.put("b", "eve")
    q.get()
    errors: list[BaseException] = []

    def work() -> None:
        try:
            q.get()
        except Closed as exc:
            errors.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    assert sorted(q.close()) == ["b"]
    worker.join(10)
    assert len(errors) == 1 and isinstance(errors[0], Closed)
    with pytest.raises(Closed):
        q.put("c", "marie")


def test_one_owner_cannot_fill_the_whole_line() -> None:
    q: FairQueue[str] = FairQueue(maxsize=4, owner_cap=1)
    q.put("eve0", "eve")
    q.put("eve1", "eve")
    with pytest.raises(Full):
        q.put("eve2", "eve")
    q.put("marie0", "marie")
    q.put("convert", ANYONE)
    assert q.qsize() == 4
    assert [q.get()[1] for _ in range(3)] == ["eve0", "marie0", "convert"]
