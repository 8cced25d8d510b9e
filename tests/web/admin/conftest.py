"""The admin pages' fixtures: an admin, a facilitator and a member who sign in, on a
clock the test moves by hand."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from fabqueue.settings import Settings
from tests.conftest import Api
from tests.support.admin import START
from tests.support.quotes import SetClock
from tests.support.web import add_person, sign_in


@pytest.fixture
def clock() -> SetClock:
    return SetClock(START)


@pytest.fixture
def desk(make_api: Callable[..., Api], settings: Settings, clock: SetClock) -> Api:
    api = make_api(settings.model_copy(update={"start_dispatcher": False}), clock=clock)
    for name, role in (("ines", "admin"), ("camille", "facilitator"), ("momo", "member")):
        api.user_ids[name] = add_person(api.ctx.sessions, name, role)
    return api


@pytest.fixture
def admin(desk: Api) -> TestClient:
    sign_in(desk.client, "ines")
    return desk.client
