"""Pages' fixtures: a café's profiles with a fast simulated cutter, people who sign in."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.support.web import add_person, counter_profiles, sign_in


@pytest.fixture
def profiles_dir(tmp_path: Path) -> Path:
    return counter_profiles(tmp_path / "profiles")


@pytest.fixture
def web(make_api: Callable[..., Api]) -> Api:
    api = make_api()
    add_person(api.ctx.sessions, "camille", "facilitator")
    add_person(api.ctx.sessions, "momo", "member")
    return api


@pytest.fixture
def staff(web: Api) -> TestClient:
    """The app's client, signed in as the facilitator."""
    sign_in(web.client, "camille")
    return web.client
