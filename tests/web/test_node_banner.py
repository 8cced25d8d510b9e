"""The board marks the machines of an offline node and lets staff take its work back.

The app runs no dispatcher: the node owning ``plotter`` (``test-node``) holds no lease
here, and the test writes its lease row to make it alive or dead.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from fabqueue.db import session_scope
from fabqueue.models import MachineEvent, MachineRecord, NodeLeaseRecord, RunnerState, User
from fabqueue.settings import Settings
from tests.conftest import Api
from tests.support.web import add_person, csrf_of, idem_of, sign_in, text_of

NODE = "test-node"


@pytest.fixture
def web(make_api: Callable[..., Api], settings: Settings) -> Api:
    api = make_api(
        settings.model_copy(update={"start_dispatcher": False, "node_offline_after_s": 30.0})
    )
    add_person(api.ctx.sessions, "camille", "facilitator")
    return api


def heartbeat(api: Api, age_s: float) -> None:
    at = api.ctx.clock.now() - timedelta(seconds=age_s)
    with session_scope(api.ctx.sessions) as session:
        session.merge(
            NodeLeaseRecord(node=NODE, pid=77, host="atelier", started_at=at, heartbeat_at=at)
        )


def take_back_form(client: TestClient) -> dict[str, str]:
    html = client.get("/").text
    assert f'action="/nodes/{NODE}/take-back"' in html
    return {"csrf": csrf_of(html), "idem": idem_of(html)}


def runner_state(api: Api) -> RunnerState:
    with api.ctx.read_sessions() as session:
        record = session.get(MachineRecord, "plotter")
        assert record is not None
        return record.runner_state


def test_no_banner_while_the_node_is_alive(staff: TestClient, web: Api) -> None:
    heartbeat(web, 5)
    board = text_of(staff.get("/").text)
    assert "hors ligne" not in board
    assert "Reprendre son travail" not in board


def test_an_offline_node_s_machines_carry_the_banner_and_the_work_is_taken_back(
    staff: TestClient, web: Api
) -> None:
    heartbeat(web, 120)
    html = staff.get("/").text
    board = text_of(html)
    assert f"Café {NODE} hors ligne depuis" in board
    assert "État inconnu" in board
    assert "Reprendre son travail" in board
    assert f"Oui, reprendre le travail de {NODE}" in board

    r = staff.post(f"/nodes/{NODE}/take-back", data=take_back_form(staff))
    assert r.status_code == 200, r.text
    assert runner_state(web) == RunnerState.awaiting_operator
    with web.ctx.read_sessions() as session:
        camille = session.exec(select(User).where(User.name == "camille")).one()
        events = session.exec(select(MachineEvent)).all()
    assert [(e.action, e.actor) for e in events] == [("take_back", f"user:{camille.id}")]


def test_a_node_that_came_back_meanwhile_is_not_taken_back(staff: TestClient, web: Api) -> None:
    heartbeat(web, 120)
    form = take_back_form(staff)
    heartbeat(web, 1)  # it came back while the page was open
    r = staff.post(f"/nodes/{NODE}/take-back", data=form)
    assert r.status_code == 409
    assert "est en ligne" in text_of(r.text)
    assert runner_state(web) == RunnerState.accepting


def test_taking_back_needs_the_csrf_token(staff: TestClient, web: Api) -> None:
    heartbeat(web, 120)
    r = staff.post(f"/nodes/{NODE}/take-back", data={"idem": "x"})
    assert r.status_code in (400, 403)
    assert runner_state(web) == RunnerState.accepting


@pytest.fixture
def staff(web: Api) -> TestClient:
    sign_in(web.client, "camille")
    return web.client
