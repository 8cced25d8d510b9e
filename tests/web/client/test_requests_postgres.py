"""The public request on PostgreSQL: the form's account made once (a savepoint when two
first requests race), attach by e-mail whatever its case, SIRET found."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlmodel import select

from fabqueue.models import Organisation, Quote, User
from fabqueue.quotes.public_requests import FORM_USER
from fabqueue.settings import Settings
from tests.conftest import Api
from tests.support.quotes import SetClock
from tests.support.shopkeeper import post_request
from tests.support.workers import InlineWorkers

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


@pytest.fixture
def pg_api(make_api: object, settings: Settings, pg_url: str, tmp_path: Path) -> Api:
    from tests.support.quotes import quote_profiles

    root = quote_profiles(tmp_path / "qprofiles", "normal")
    update = {"db_url": pg_url, "profiles_dir": root, "start_dispatcher": False}
    return make_api(  # type: ignore[operator,no-any-return]
        settings.model_copy(update=update), clock=SetClock(), workers=InlineWorkers()
    )


def test_requests_on_postgresql(pg_api: Api) -> None:
    answers: list[int] = []
    pg_api.client.get("/demande-de-devis")  # one session (and CSRF token) for the threads

    def ask(n: int) -> None:
        r = post_request(pg_api.client, organisation=f"Commerce {n}", email=f"c{n}@x.example")
        answers.append(r.status_code)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert answers == [303, 303, 303]
    r = post_request(pg_api.client, organisation="Encore", email="C1@X.example", siret="")
    assert r.status_code == 303
    with pg_api.ctx.read_sessions() as session:
        users = session.exec(select(User).where(User.name == FORM_USER)).all()
        assert len(users) == 1 and users[0].active is False
        assert len(session.exec(select(Organisation)).all()) == 3, "the 4th attached by e-mail"
        assert len(session.exec(select(Quote)).all()) == 4
