"""The event stream over real HTTP: who may open it (bearer, one-use ticket, the old
?access_token=), and what each role sees."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fabqueue.api.events import visible
from fabqueue.app import create_app
from fabqueue.auth import StreamTickets
from fabqueue.events import Message
from fabqueue.models import Role, User
from fabqueue.settings import Settings
from tests.support.factories import make_user, tiny_gcode
from tests.support.live import live_server

Event = tuple[str, dict[str, Any]]


class Live:
    def __init__(self, url: str, app: Any) -> None:
        self.url = url
        self.ctx = app.state.ctx
        self.tokens: dict[str, str] = {}

    def user(self, name: str, role: str) -> str:
        self.tokens[name] = make_user(self.ctx.sessions, name, role)[1]
        return self.tokens[name]

    def h(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    def authorise(self, member: str, machine_or_kind: str, by: str) -> None:
        """A member may only submit on machines they are trained for (docs/bookings.md)."""
        me = httpx.get(f"{self.url}/api/v1/users/me", headers=self.h(member)).json()
        r = httpx.post(
            f"{self.url}/api/v1/users/{me['id']}/authorisations",
            headers=self.h(by),
            json={"machine": machine_or_kind},
        )
        assert r.status_code == 201, r.text


@pytest.fixture
def live(settings: Settings) -> Iterator[Live]:
    app = create_app(settings)
    with live_server(app) as url:
        yield Live(url, app)


def listen(
    url: str, until: Callable[[Event], bool], **kwargs: Any
) -> tuple[threading.Event, list[Event], threading.Thread]:
    """Collect (topic, payload) from the stream in a thread until ``until`` says so."""
    ready, seen = threading.Event(), []

    def run() -> None:
        with httpx.stream("GET", f"{url}/api/v1/events", timeout=30, **kwargs) as r:
            assert r.status_code == 200
            topic = ""
            for line in r.iter_lines():
                if line.startswith(": connected"):
                    ready.set()
                elif line.startswith("event: "):
                    topic = line[7:]
                elif line.startswith("data: "):
                    seen.append((topic, json.loads(line[6:])))
                    if until(seen[-1]):
                        return

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert ready.wait(10), "the stream did not open"
    return ready, seen, thread


def submit(live: Live, who: str, path: Path, **data: str) -> dict[str, Any]:
    with path.open("rb") as fh:
        r = httpx.post(
            f"{live.url}/api/v1/jobs",
            headers=live.h(who),
            data={"machine": "printer", **data},
            files={"file": (path.name, fh)},
        )
    assert r.status_code == 201, r.text
    return r.json()  # type: ignore[no-any-return]


def running(job: dict[str, Any]) -> Callable[[Event], bool]:
    return lambda e: (
        e[0] == "job:state_changed" and e[1]["job_id"] == job["id"] and e[1]["to"] == "running"
    )


def test_members_see_their_jobs_and_anonymous_machines(live: Live, tmp_path: Path) -> None:
    live.user("boss", "facilitator")
    live.user("mia", "member")
    live.user("max", "member")
    for member in ("mia", "max"):
        live.authorise(member, "fdm_printer", by="boss")
    ticket = httpx.post(f"{live.url}/api/v1/events/ticket", headers=live.h("mia")).json()
    assert ticket["ticket"].startswith("fqt_") and ticket["expires_in_s"] == 60
    other = submit(live, "max", tiny_gcode(tmp_path, "other.gcode"), hold="true")
    # The queue is empty but for mia's job: both streams end when it runs.
    holder: dict[str, Any] = {}

    def mia_running(e: Event) -> bool:
        return "job" in holder and running(holder["job"])(e)

    _, mine, t1 = listen(live.url, mia_running, params={"ticket": ticket["ticket"]})
    _, staff, t2 = listen(live.url, mia_running, headers=live.h("boss"))
    httpx.post(f"{live.url}/api/v1/jobs/{other['id']}/cancel", headers=live.h("boss"))
    holder["job"] = submit(live, "mia", tiny_gcode(tmp_path, "mine.gcode"))
    t1.join(30)
    t2.join(30)
    job_ids = {p.get("job_id") for topic, p in mine if topic.startswith("job:")}
    assert job_ids == {holder["job"]["id"]}
    assert any(topic == "job:state_changed" and p["job_id"] == other["id"] for topic, p in staff)
    statuses = [p for topic, p in mine if topic == "machine:status"]
    assert statuses, "members see the machines' states"
    for p in statuses:
        assert set(p["status"]) <= {"state", "temperatures", "at", "job"}
        assert p["status"]["job"] is None or set(p["status"]["job"]) <= {
            "phase",
            "progress",
            "eta_s",
        }
    staff_jobs = [
        p["status"]["job"] for t, p in staff if t == "machine:status" and p["status"]["job"]
    ]
    assert staff_jobs and "ref" in staff_jobs[0]


def test_a_ticket_opens_one_connection(live: Live) -> None:
    live.user("mia", "member")
    ticket = httpx.post(f"{live.url}/api/v1/events/ticket", headers=live.h("mia")).json()["ticket"]
    with httpx.stream(
        "GET", f"{live.url}/api/v1/events", params={"ticket": ticket}, timeout=10
    ) as r:
        assert r.status_code == 200
    again = httpx.get(f"{live.url}/api/v1/events", params={"ticket": ticket}, timeout=10)
    assert again.status_code == 401
    assert (
        httpx.get(f"{live.url}/api/v1/events", params={"ticket": "fqt_forged"}).status_code == 401
    )
    # A ticket is for the stream only.
    assert httpx.get(f"{live.url}/api/v1/jobs", params={"ticket": ticket}).status_code == 401


def test_access_token_in_the_url_only_opens_the_stream(live: Live) -> None:
    token = live.user("mia", "member")
    assert httpx.get(f"{live.url}/api/v1/jobs", params={"access_token": token}).status_code == 401
    assert (
        httpx.get(f"{live.url}/api/v1/users/me", params={"access_token": token}).status_code == 401
    )
    with httpx.stream(
        "GET", f"{live.url}/api/v1/events", params={"access_token": token}, timeout=10
    ) as r:
        assert r.status_code == 200


def test_tickets_expire_and_are_spent() -> None:
    tickets = StreamTickets(ttl_s=60)
    user = User(id=1, name="mia", role=Role.member, created_at=None)  # type: ignore[arg-type]
    t = tickets.issue(user, now=100.0)
    assert tickets.take(t, now=161.0) is None
    t = tickets.issue(user, now=100.0)
    assert tickets.take(t, now=159.0) is user
    assert tickets.take(t, now=159.0) is None


@pytest.mark.asyncio
async def test_what_a_member_sees_of_each_topic() -> None:
    mia = User(id=7, name="mia", role=Role.member, created_at=None)  # type: ignore[arg-type]
    boss = User(id=1, name="boss", role=Role.facilitator, created_at=None)  # type: ignore[arg-type]

    async def owner_of(job_id: int) -> int | None:
        return {10: 7, 11: 8}.get(job_id)

    mine = Message(1, "job:progress", {"job_id": 10, "progress": 0.5})
    theirs = Message(
        2, "job:state_changed", {"job_id": 11, "actor": "user:1", "reason": "hold by boss"}
    )
    status = Message(
        3,
        "machine:status",
        {
            "machine": "printer",
            "status": {
                "state": "busy",
                "message": "job 11 for max",
                "at": "t",
                "job": {
                    "ref": "fq-11",
                    "phase": "running",
                    "progress": 0.2,
                    "message": "x",
                    "checkpoint": {"a": 1},
                },
            },
        },
    )
    quote = Message(4, "quote:sent", {"quote_id": 3})
    assert await visible(mine, mia, owner_of) == mine.payload
    assert await visible(theirs, mia, owner_of) is None
    assert await visible(status, mia, owner_of) == {
        "machine": "printer",
        "status": {"state": "busy", "at": "t", "job": {"phase": "running", "progress": 0.2}},
    }
    assert await visible(quote, mia, owner_of) is None
    for m in (mine, theirs, status, quote):
        assert await visible(m, boss, owner_of) == m.payload
