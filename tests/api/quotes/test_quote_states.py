"""Quote states: one table of allowed moves, one guarded ``move`` that writes the event,
and nothing else in the code that changes a quote's state."""

from __future__ import annotations

import ast
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlmodel import select

from fabqueue.auth import create_user
from fabqueue.db import SessionFactory, session_scope
from fabqueue.models import Quote, QuoteEvent, QuoteState, Role
from fabqueue.models.clients import OrganisationIn
from fabqueue.models.quote_public import QuoteIn
from fabqueue.profiles import load_profiles
from fabqueue.quotes import states
from fabqueue.quotes import workflow as quotes
from fabqueue.quotes.states import ALLOWED_MOVES, QuoteMoveRefused, move
from fabqueue.services.clients import create_organisation
from fabqueue.services.errors import Conflict
from tests.support.factories import REPO
from tests.support.quotes import quote_profiles

AT = datetime(2026, 6, 15, 10, 0, tzinfo=UTC)
STATES_MODULE = Path(states.__file__).resolve()


def _assigns_state(tree: ast.AST) -> list[int]:
    """Lines that set a ``.state`` attribute, or write ``state`` with an UPDATE of quote."""
    lines = []
    for node in ast.walk(tree):
        targets: list[ast.expr] = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        lines += [t.lineno for t in targets if isinstance(t, ast.Attribute) and t.attr == "state"]
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "setattr"
            and len(node.args) > 1
            and isinstance(node.args[1], ast.Constant)
            and node.args[1].value == "state"
        ):
            lines.append(node.lineno)
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Name)
            and node.func.id == "update"
            and node.args
            and isinstance(node.args[0], ast.Name)
            and node.args[0].id == "Quote"
        ):
            lines.append(node.lineno)
    return lines


def test_no_module_but_the_states_one_changes_a_quotes_state() -> None:
    """Every module that knows quotes (imports Quote or a quote module) leaves their state
    to :func:`fabqueue.quotes.states.move`. (Job code sets ``.state`` on its own rows
    through :func:`fabqueue.states.transition`, and does not import Quote.)"""
    offenders = []
    checked = 0
    for path in sorted((REPO / "fabqueue").rglob("*.py")):
        if path.resolve() == STATES_MODULE:
            continue
        source = path.read_text()
        if "Quote" not in source and "quotes" not in source:
            continue
        checked += 1
        offenders += [f"{path.relative_to(REPO)}:{n}" for n in _assigns_state(ast.parse(source))]
    assert checked >= 10  # the quote package, its router, CLI, models, views…
    assert offenders == []


def test_the_scan_finds_each_way_of_writing_a_state() -> None:
    source = (
        "quote.state = QuoteState.sent\n"
        "setattr(quote, 'state', 'sent')\n"
        "session.execute(update(Quote).values(state='sent'))\n"
    )
    assert _assigns_state(ast.parse(source)) == [1, 2, 3]


def test_every_state_has_its_row_and_finished_states_lead_nowhere() -> None:
    assert set(ALLOWED_MOVES) == set(QuoteState)
    for done in (QuoteState.converted, QuoteState.cancelled, QuoteState.superseded):
        assert ALLOWED_MOVES[done] == frozenset()
    assert QuoteState.accepted in ALLOWED_MOVES[QuoteState.expired]  # late paper copy


def _draft(sessions: SessionFactory, tmp_path: Path) -> int:
    profiles = load_profiles(quote_profiles(tmp_path / "p", "normal"))
    with session_scope(sessions) as s:
        staff = create_user(session=s, name="staff", role=Role.facilitator, at=AT)
        org = create_organisation(
            session=s,
            data=OrganisationIn(name="Épicerie", address="1 rue\n69001 Lyon"),
            profiles=profiles,
            at=AT,
        )
        q = quotes.create_quote(
            session=s,
            user=staff,
            data=QuoteIn(title="Plaque", organisation_id=org.id),
            profiles=profiles,
            at=AT,
        )
        assert q.id is not None
        return q.id


def test_move_writes_the_state_and_its_event_with_the_actor(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    quote_id = _draft(sessions, tmp_path)
    with session_scope(sessions) as s:
        quote = s.get(Quote, quote_id)
        assert quote is not None
        before = move(
            s,
            quote,
            QuoteState.cancelled,
            expected=[QuoteState.draft],
            actor="user:7",
            at=AT,
            reason="doublon",
        )
        assert before == QuoteState.draft and quote.state == QuoteState.cancelled
    with sessions() as s:
        event = s.exec(select(QuoteEvent).where(QuoteEvent.quote_id == quote_id)).all()[-1]
        assert (event.actor, event.from_state, event.to_state, event.action) == (
            "user:7",
            QuoteState.draft,
            QuoteState.cancelled,
            "cancelled",
        )
        assert event.detail == {"reason": "doublon"}


def test_move_refuses_when_the_quote_moved_meanwhile(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    """The caller's copy says draft; the database says cancelled (another request won)."""
    quote_id = _draft(sessions, tmp_path)
    with sessions() as stale_session:
        stale = stale_session.get(Quote, quote_id)
        assert stale is not None
        stale_session.commit()  # ends the read; the object keeps what it read
        with session_scope(sessions) as s:
            fresh = s.get(Quote, quote_id)
            assert fresh is not None
            move(s, fresh, QuoteState.cancelled, expected=[QuoteState.draft], actor="a", at=AT)
        assert stale.state == QuoteState.draft
        with pytest.raises(QuoteMoveRefused) as refused:
            move(
                stale_session,
                stale,
                QuoteState.sent,
                expected=[QuoteState.draft],
                actor="b",
                at=AT,
            )
        assert isinstance(refused.value, Conflict)
        assert refused.value.current == QuoteState.cancelled
        stale_session.rollback()
    with sessions() as s:
        events = s.exec(select(QuoteEvent).where(QuoteEvent.quote_id == quote_id)).all()
        assert [e.actor for e in events] == ["user:1", "a"]


def test_a_move_the_table_forbids_is_a_programming_error(
    sessions: SessionFactory, tmp_path: Path
) -> None:
    quote_id = _draft(sessions, tmp_path)
    with sessions() as s:
        quote = s.get(Quote, quote_id)
        assert quote is not None
        with pytest.raises(ValueError, match="never goes to converted"):
            move(s, quote, QuoteState.converted, expected=[QuoteState.draft], actor="a", at=AT)
