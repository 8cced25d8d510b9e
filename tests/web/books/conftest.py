"""Fixtures of the money pages: the quote tests' API (prices, a site, a hand-moved clock,
no dispatcher), a facilitator signed in, a member who is not."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Api
from tests.support.quote_fixtures import clock, qapi, regime
from tests.support.web import add_person, sign_in

__all__ = ["clock", "desk", "qapi", "regime"]


@pytest.fixture
def desk(qapi: Api) -> TestClient:
    """The app's client, signed in as Camille, a facilitator."""
    add_person(qapi.ctx.sessions, "camille", "facilitator")
    add_person(qapi.ctx.sessions, "momo", "member")
    sign_in(qapi.client, "camille")
    return qapi.client
