"""Page.act, the one way a page route changes something: the CSRF token before anything,
the action once per idempotency key, the service's refusal shown the page's way."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from sqlalchemy import text
from sqlmodel import Session, create_engine
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from fabqueue.services.errors import Conflict, NotFound, ServiceError
from fabqueue.web.errors import BadForm, FormError
from fabqueue.web.guards import Idempotency
from fabqueue.web.page import Page
from fabqueue.web.sessions import WebSession


@pytest.fixture()
def page() -> Iterator[Page]:
    engine = create_engine("sqlite://")
    request = Request(
        {"type": "http", "method": "POST", "path": "/things", "headers": [], "query_string": b""}
    )
    ctx: Any = SimpleNamespace(sessions=lambda: Session(engine))
    web: Any = SimpleNamespace(idempotency=Idempotency())
    user: Any = SimpleNamespace(id=7)
    yield Page(request, ctx, web, WebSession(csrf="token"), user, "fr")
    engine.dispose()


def shown(exc: ServiceError) -> Response:
    return HTMLResponse(f"refused: {exc.message}", status_code=exc.status_code)


def test_a_bad_token_is_refused_before_the_action_runs(page: Page) -> None:
    ran: list[Session] = []
    with pytest.raises(BadForm):
        page.act("stale", "key-1", ran.append, "/done", shown)
    assert ran == []


def test_the_action_gets_a_session_and_its_result_makes_the_answer(page: Page) -> None:
    def change(session: Session) -> int:
        return int(session.execute(text("select 41 + 1")).scalar_one())

    answer = page.act("token", "key-2", change, lambda n: HTMLResponse(f"made {n}"))
    assert answer.body == b"made 42"
    going = page.act("token", "key-3", change, "/things/42")
    assert (going.status_code, going.headers["location"]) == (303, "/things/42")


def test_a_double_tap_runs_the_action_once_and_gets_the_first_answer(page: Page) -> None:
    ran: list[int] = []

    def change(_: Session) -> int:
        ran.append(len(ran) + 1)
        return ran[-1]

    first = page.act("token", "key-4", change, lambda n: HTMLResponse(f"number {n}"))
    again = page.act("token", "key-4", change, lambda n: HTMLResponse(f"number {n}"))
    assert ran == [1]
    assert again is first
    other = page.act("token", "key-5", change, lambda n: HTMLResponse(f"number {n}"))
    assert other.body == b"number 2"


def test_a_refusal_is_shown_by_the_page_and_kept_for_the_key(page: Page) -> None:
    def change(_: Session) -> None:
        raise Conflict("déjà fait")

    answer = page.act("token", "key-6", change, "/done", shown)
    assert (answer.status_code, answer.body) == (409, "refused: déjà fait".encode())
    assert page.act("token", "key-6", change, "/done", shown) is answer


def test_an_unreadable_value_is_a_422_refusal_like_the_services_ones(page: Page) -> None:
    def change(_: Session) -> None:
        raise FormError("Donnez une date.")

    answer = page.act("token", "key-7", change, "/done", shown)
    assert (answer.status_code, answer.body) == (422, b"refused: Donnez une date.")


def test_without_a_refusal_page_the_error_goes_up_and_the_key_is_free_again(
    page: Page,
) -> None:
    tries: list[int] = []

    def change(_: Session) -> None:
        tries.append(1)
        if len(tries) == 1:
            raise NotFound("no such thing")

    with pytest.raises(NotFound):
        page.act("token", "key-8", change, "/done")
    retried = page.act("token", "key-8", change, "/done")
    assert retried.status_code == 303 and len(tries) == 2
