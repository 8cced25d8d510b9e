"""A café with opening hours and a booking policy whose people sign in to the pages:
a facilitator (« anim »), a member (« mia »), another member (« max »), on a clock the
test sets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from fabqueue.settings import Settings
from tests.conftest import Api
from tests.support.bookings import NOW, Desk, SetClock, cafe_profiles
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
