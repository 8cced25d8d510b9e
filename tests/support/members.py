"""A café with opening hours and a booking policy whose people sign in to the pages:
a facilitator (« anim »), a member (« mia »), another member (« max »), on a clock the
test sets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient

from fabqueue.db import make_engine, make_session_factory
from fabqueue.settings import Settings
from tests.conftest import Api
from tests.support.bookings import NOW, Desk, SetClock, cafe_profiles
from tests.support.factories import make_user
from tests.support.web import add_person, sign_in


@dataclass
class MemberCafe:
    api: Api
    clock: SetClock
    desk: Desk
    ids: dict[str, int]

    @property
    def client(self) -> TestClient:
        return self.api.client

    def sign_in(self, name: str = "mia") -> TestClient:
        sign_in(self.api.client, name)
        return self.api.client

    def grant(self, who: str, machine: str, **kw: Any) -> int:
        return self.desk.grant(self.ids[who], machine, self.ids["anim"], at=kw.pop("at", NOW), **kw)


def member_cafe(
    make_api: Callable[..., Api],
    settings: Settings,
    tmp_path: Path,
    *,
    dispatcher: bool = False,
    member_jobs: str = "during_booking",
) -> MemberCafe:
    clock = SetClock(NOW)
    root = cafe_profiles(tmp_path / "cafe", member_jobs=member_jobs)
    update = {"profiles_dir": root, "start_dispatcher": dispatcher}
    api = make_api(settings.model_copy(update=update), clock=clock)
    ids = {
        name: add_person(api.ctx.sessions, name, role)
        for name, role in (("anim", "facilitator"), ("mia", "member"), ("max", "member"))
    }
    return MemberCafe(api, clock, Desk(api.ctx.sessions, api.ctx.profiles), ids)


class LiveCafe:
    """The café's app served by a real uvicorn in this process (tests/support/live.py), on
    a clock the test sets: the browser talks HTTP and the event stream to it, the
    dispatcher runs its simulated machines, the test moves time."""

    def __init__(self, settings: Settings, tmp_path: Path, member_jobs: str = "during_booking"):
        from fabqueue.app import create_app

        self.clock = SetClock(NOW)
        root = cafe_profiles(tmp_path / "cafe", member_jobs=member_jobs)
        settings = settings.model_copy(update={"profiles_dir": root})
        self.app = create_app(settings, clock=self.clock)
        # The app's context exists once it has started: people are made beforehand.
        engine = make_engine(settings.db_url)
        sessions = make_session_factory(engine, None)
        self.ids = {
            name: add_person(sessions, name, role)
            for name, role in (("anim", "facilitator"), ("mia", "member"), ("max", "member"))
        }
        _uid, self.token = make_user(sessions, "script", "facilitator")
        engine.dispose()
        self.url = ""

    @property
    def ctx(self) -> Any:
        return self.app.state.ctx

    @property
    def desk(self) -> Desk:
        return Desk(self.ctx.sessions, self.ctx.profiles)

    def grant(self, who: str, machine: str, **kw: Any) -> int:
        return self.desk.grant(self.ids[who], machine, self.ids["anim"], at=kw.pop("at", NOW), **kw)

    def api(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.token}"}
        return httpx.request(
            method, f"{self.url}/api/v1{path}", headers=headers, timeout=30, **kwargs
        )

    def submit(self, path: Path, **form: str) -> dict[str, Any]:
        with path.open("rb") as fh:
            r = self.api("POST", "/jobs", files={"file": (path.name, fh)}, data=form)
        assert r.status_code == 201, r.text
        data: dict[str, Any] = r.json()
        return data

    def job(self, job_id: int) -> dict[str, Any]:
        data: dict[str, Any] = self.api("GET", f"/jobs/{job_id}").json()
        return data
