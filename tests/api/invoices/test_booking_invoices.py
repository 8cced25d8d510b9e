"""Members' booked machine time on invoices: the price of booked time (a table of
numbers), which bookings are billed (honoured, missed, cancelled, not ended), machine
time billed once when a job ran inside a booking, never a booking billed twice (also
when two clerks issue at once, on PostgreSQL), and a credit note that frees it."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from fabqueue.auth import create_user
from fabqueue.db import make_engine, make_session_factory, session_scope
from fabqueue.invoices import booked_time, bookings, drafts, issuing
from fabqueue.models import Booking, Role, User
from fabqueue.models.invoices import (
    Invoice,
    InvoiceBooking,
    InvoiceJob,
    InvoiceLine,
    InvoiceSequence,
    InvoiceState,
)
from fabqueue.profiles import ProfileSet, load_profiles
from fabqueue.profiles.prices import MemberPrices
from fabqueue.services.errors import Conflict
from fabqueue.storage import FileStore
from tests.conftest import Api
from tests.support.booking_invoices import TUESDAY, book, charge, member_job, write_members
from tests.support.factories import make_user
from tests.support.quotes import quote_profiles, staff

CHARGED = 'booking_hourly_rate = "3.00"\nbooking_increment_min = 30'


# --- the price of booked time -----------------------------------------------------------


@pytest.mark.parametrize(
    ("minutes", "rate", "step", "billed", "steps", "unit_cents", "amount"),
    [
        (120, "3.00", 30, 120, 4, 150, "6.00"),
        (121, "3.00", 30, 150, 5, 150, "7.50"),  # a started half hour is billed
        (90, "4.00", 15, 90, 6, 100, "6.00"),
        (1, "4.00", 15, 15, 1, 100, "1.00"),
        (0, "4.00", 15, 0, 0, 100, "0.00"),
        (45, "5.00", 20, 60, 3, 167, "5.01"),  # 5 € × 20/60 = 1,666… → 1,67 per step
        (60, "2.50", 60, 60, 1, 250, "2.50"),
        (240, "0.00", 30, 240, 8, 0, "0.00"),
        (35, "7.99", 1, 35, 35, 13, "4.55"),  # 7,99/60 = 0,1331… → 0,13 a minute
    ],
)
def test_booked_time_is_billed_per_started_increment(
    minutes: int, rate: str, step: int, billed: int, steps: int, unit_cents: int, amount: str
) -> None:
    price = booked_time.price_booked_time(minutes, Decimal(rate), step)
    assert (price.billed_minutes, price.steps, price.unit_cents) == (billed, steps, unit_cents)
    assert price.amount_ht == Decimal(amount)


def test_the_price_refuses_negative_time() -> None:
    with pytest.raises(ValueError, match="never negative"):
        booked_time.price_booked_time(-5, Decimal("3.00"), 30)


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"booking_hourly_rate": "-1"}, "greater than or equal to 0"),
        ({"booking_hourly_rate": "1.234"}, "decimal places"),
        ({"booking_machine_rates": {"printer": "-2"}}, "greater than or equal to 0"),
        ({"booking_increment_min": 0}, "greater than or equal to 1"),
        ({"no_show": "toujours"}, "free"),
        ({"no_show": "fee"}, "needs a no_show_fee"),
        ({"no_show_fee": "5.00"}, 'only billed with no_show = "fee"'),
    ],
)
def test_the_rule_is_checked(values: dict[str, Any], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        MemberPrices.model_validate(values)


def test_bookings_are_free_by_default() -> None:
    rules = MemberPrices()
    assert not booked_time.charges(rules) and rules.no_show == "free"
    shipped = load_profiles(Path(__file__).parents[3] / "profiles").prices.members
    assert not booked_time.charges(shipped)
    per_machine = MemberPrices.model_validate(
        {"booking_hourly_rate": "3", "booking_machine_rates": {"cutter": "6.00", "printer": "0"}}
    )
    assert per_machine.booking_rate("cutter") == Decimal("6.00")
    assert per_machine.booking_rate("printer") == 0
    assert per_machine.booking_rate("brodeuse") == Decimal("3")


# --- drafting and issuing ---------------------------------------------------------------


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "qprofiles"


def _staff_user(api: Api) -> User:
    api.token("staff", "facilitator")
    with api.ctx.sessions() as s:
        user = s.get(User, api.user_ids["staff"])
        assert user is not None
        s.expunge(user)
        return user


def _draft(api: Api, member: int, ids: list[int] | None = None) -> Invoice:
    with api.ctx.sessions() as s:
        inv = bookings.draft_member_bookings(
            session=s,
            user=_staff_user(api),
            member_id=member,
            profiles=api.ctx.profiles,
            at=api.ctx.clock.now(),
            booking_ids=ids,
        )
        s.expunge(inv)
        return inv


def _issue(api: Api, invoice_id: int) -> Invoice:
    with api.ctx.sessions() as s:
        inv = issuing.issue(
            session=s,
            user=_staff_user(api),
            invoice_id=invoice_id,
            profiles=api.ctx.profiles,
            store=api.ctx.store,
            at=api.ctx.clock.now(),
        )
        s.expunge(inv)
        return inv


def _lines(api: Api, invoice_id: int) -> list[InvoiceLine]:
    with api.ctx.sessions() as s:
        return drafts.lines_of_invoice(s, invoice_id)


def _to_invoice(api: Api, member: int) -> list[int]:
    with api.ctx.sessions() as s:
        rows = bookings.bookings_to_invoice(
            s, member, api.ctx.profiles.prices.members, api.ctx.clock.now()
        )
        return [b.id for b in rows if b.id is not None]


def test_honoured_bookings_are_billed_one_line_each_cancelled_and_future_never(
    qapi: Api, root: Path
) -> None:
    charge(qapi, root, CHARGED + '\nbooking_machine_rates = { cutter = "6.00" }')
    lea, _ = make_user(qapi.ctx.sessions, "lea", "member")
    honoured = book(qapi, lea)  # Tuesday 14:00–16:00 in Paris, 120 min
    cut = book(qapi, lea, TUESDAY + timedelta(days=1), 90, machine="cutter")
    book(qapi, lea, TUESDAY + timedelta(days=2), cancelled=True)
    book(qapi, lea, qapi.ctx.clock.now() + timedelta(hours=1))  # not ended yet
    missed = book(qapi, lea, TUESDAY + timedelta(days=3), no_show=True)  # free by default
    assert _to_invoice(qapi, lea) == [honoured, cut]
    inv = _draft(qapi, lea)
    lines = _lines(qapi, inv.id or 0)
    assert [ln.description for ln in lines] == [
        "Réservation — Test printer, 24 février 2026, 14:00–16:00 : 120 min facturées",
        "Réservation — Test cutter, 25 février 2026, 14:00–15:30 : 90 min facturées",
    ]
    assert [(ln.quantity_milli, ln.unit, ln.unit_price_cents) for ln in lines] == [
        (4000, "30 min", 150),
        (3000, "30 min", 300),
    ]
    assert [ln.vat_rate_bp for ln in lines] == [2000, 2000]
    assert [ln.account_key for ln in lines] == ["fdm_printer", "vinyl_cutter"]
    assert _to_invoice(qapi, lea) == []  # on a draft: not offered again
    issued = _issue(qapi, inv.id or 0)
    assert issued.number == "FAC-2026-0001"
    assert (issued.total_ht_cents, issued.total_ttc_cents) == (1500, 1800)
    assert issued.customer_name == "lea" and not issued.business
    assert str(issued.service_date) == "2026-02-25"
    with qapi.ctx.sessions() as s:
        links = s.exec(select(InvoiceBooking).order_by(col(InvoiceBooking.line_id))).all()
        assert [(ln.booking_id, ln.billed_booking_id) for ln in links] == [
            (honoured, honoured),
            (cut, cut),
        ]
        assert missed not in [ln.booking_id for ln in links]


def test_no_show_is_billed_as_booked_or_by_its_fee_per_the_rule(qapi: Api, root: Path) -> None:
    lea, _ = make_user(qapi.ctx.sessions, "lea", "member")
    missed = book(qapi, lea, minutes=60, no_show=True)
    charge(qapi, root, CHARGED + '\nno_show = "as_booked"')
    inv = _draft(qapi, lea)
    (line,) = _lines(qapi, inv.id or 0)
    assert line.description.startswith("Réservation non honorée — Test printer")
    assert (line.quantity_milli, line.unit_price_cents) == (2000, 150)
    with qapi.ctx.sessions() as s:
        drafts.cancel_draft(
            session=s, user=_staff_user(qapi), invoice_id=inv.id or 0, at=qapi.ctx.clock.now()
        )
    # Bookings free, but a missed one costs its fee.
    charge(qapi, root, 'no_show = "fee"\nno_show_fee = "5.00"')
    assert _to_invoice(qapi, lea) == [missed]
    inv = _draft(qapi, lea)
    (line,) = _lines(qapi, inv.id or 0)
    assert "forfait d'absence" in line.description
    assert (line.quantity_milli, line.unit, line.unit_price_cents) == (1000, "u", 500)


def test_nothing_to_bill_is_refused_clearly(qapi: Api, root: Path) -> None:
    lea, _ = make_user(qapi.ctx.sessions, "lea", "member")
    other, _ = make_user(qapi.ctx.sessions, "noe", "member")
    with pytest.raises(Conflict, match="does not charge members' bookings"):
        _draft(qapi, lea)
    charge(qapi, root, CHARGED)
    with pytest.raises(Conflict, match="has no booking to invoice"):
        _draft(qapi, lea)
    theirs = book(qapi, other)
    cancelled = book(qapi, lea, cancelled=True)
    with pytest.raises(Conflict, match=rf"\[{theirs}, {cancelled}\] cannot be invoiced to lea"):
        _draft(qapi, lea, [theirs, cancelled])


def test_partial_invoicing_leaves_the_other_bookings_to_invoice(qapi: Api, root: Path) -> None:
    charge(qapi, root, CHARGED)
    lea, _ = make_user(qapi.ctx.sessions, "lea", "member")
    first = book(qapi, lea)
    second = book(qapi, lea, TUESDAY + timedelta(days=1), 60)
    inv = _draft(qapi, lea, [second])
    _issue(qapi, inv.id or 0)
    assert _to_invoice(qapi, lea) == [first]
    with pytest.raises(Conflict, match=rf"\[{second}\] cannot be invoiced"):
        _draft(qapi, lea, [first, second])
    rest = _draft(qapi, lea)
    assert [ln.description[:40] for ln in _lines(qapi, rest.id or 0)] == [
        "Réservation — Test printer, 24 février 2"
    ]


def test_a_job_inside_a_booking_is_billed_by_the_booking_only(qapi: Api, root: Path) -> None:
    charge(qapi, root, CHARGED + '\nhourly_rate = "4.00"\ntime_increment_min = 15')
    lea, _ = make_user(qapi.ctx.sessions, "lea", "member")
    booking = book(qapi, lea)
    inside = member_job(qapi, lea, TUESDAY + timedelta(minutes=10), 40)
    other_machine = member_job(qapi, lea, TUESDAY + timedelta(minutes=10), 40, machine="cutter")
    after = member_job(qapi, lea, TUESDAY + timedelta(hours=3), 40)
    with qapi.ctx.sessions() as s:
        rules = qapi.ctx.profiles.prices.members
        assert [j.id for j in drafts.member_jobs(s, lea, rules)] == [other_machine, after]
    inv = _draft(qapi, lea)
    (line,) = _lines(qapi, inv.id or 0)
    assert line.quantity_milli == 4000  # the whole booking, nothing taken off
    with qapi.ctx.sessions() as s:
        assert s.get(InvoiceJob, inside) is not None  # held by the booking's invoice
        link = s.exec(select(InvoiceBooking)).one()
        assert link.covered_job_ids == [inside] and link.booking_id == booking


def test_minutes_already_invoiced_as_machine_time_are_not_billed_again(
    qapi: Api, root: Path
) -> None:
    # Members' machine time was charged first; the café charges bookings later.
    charge(qapi, root, 'hourly_rate = "4.00"\ntime_increment_min = 15')
    lea, _ = make_user(qapi.ctx.sessions, "lea", "member")
    book(qapi, lea)  # 14:00–16:00
    job = member_job(qapi, lea, TUESDAY + timedelta(minutes=10), 50)
    with qapi.ctx.sessions() as s:
        mt = drafts.draft_member_time(
            session=s,
            user=_staff_user(qapi),
            member_id=lea,
            profiles=qapi.ctx.profiles,
            at=qapi.ctx.clock.now(),
        )
        assert mt.id is not None
        mt_id = mt.id
    _issue(qapi, mt_id)
    charge(qapi, root, CHARGED + '\nhourly_rate = "4.00"\ntime_increment_min = 15')
    inv = _draft(qapi, lea)
    (line,) = _lines(qapi, inv.id or 0)
    # 120 min booked − the job's 50 min = 70 min, billed as three started half hours.
    assert line.quantity_milli == 3000
    assert line.description.endswith("90 min facturées (dont 50 min déjà facturées déduites)")
    with qapi.ctx.sessions() as s:
        held = s.get(InvoiceJob, job)
        assert held is not None and held.invoice_id == mt_id


def _twin(api: Api, invoice_id: int) -> int:
    """A second draft billing the same bookings: what two clerks drafting at the same
    moment leave behind (the drafting page no longer offers a booking on a draft)."""
    with session_scope(api.ctx.sessions) as s:
        return twin_draft(s, invoice_id)


def twin_draft(s: Session, invoice_id: int) -> int:
    first = s.get(Invoice, invoice_id)
    assert first is not None
    twin = Invoice.model_validate(first.model_dump(exclude={"id"}))
    s.add(twin)
    s.flush()
    assert twin.id is not None
    for ln in drafts.lines_of_invoice(s, invoice_id):
        copy = InvoiceLine.model_validate(ln.model_dump(exclude={"id"}) | {"invoice_id": twin.id})
        s.add(copy)
        s.flush()
        link = s.get(InvoiceBooking, ln.id)
        assert link is not None and copy.id is not None
        s.add(InvoiceBooking(line_id=copy.id, invoice_id=twin.id, booking_id=link.booking_id))
    s.commit()
    return twin.id


def test_a_booking_is_never_issued_twice(qapi: Api, root: Path) -> None:
    charge(qapi, root, CHARGED)
    lea, _ = make_user(qapi.ctx.sessions, "lea", "member")
    booking = book(qapi, lea)
    first = _draft(qapi, lea)
    second = _twin(qapi, first.id or 0)
    assert _issue(qapi, first.id or 0).number == "FAC-2026-0001"
    with pytest.raises(Conflict, match=rf"booking\(s\) {booking} \(FAC-2026-0001\) are invoiced"):
        _issue(qapi, second)
    with qapi.ctx.sessions() as s:
        again = s.get(Invoice, second)
        assert again is not None and again.state == InvoiceState.draft and again.number is None
        seq = s.get(InvoiceSequence, ("FAC", 2026))
        assert seq is not None and seq.last == 1  # the refused issue used no number
        # The database itself refuses a second live bill of the booking.
        with pytest.raises(IntegrityError, match="billed_booking_id"):
            s.execute(
                update(InvoiceBooking)
                .where(col(InvoiceBooking.invoice_id) == second)
                .values(billed_booking_id=booking)
            )
            s.flush()


def test_a_credited_booking_may_be_invoiced_again_once(qapi: Api, root: Path) -> None:
    charge(qapi, root, CHARGED + '\nhourly_rate = "4.00"')
    lea, _ = make_user(qapi.ctx.sessions, "lea", "member")
    booking = book(qapi, lea)
    inside = member_job(qapi, lea, TUESDAY + timedelta(minutes=5), 30)
    inv = _issue(qapi, _draft(qapi, lea).id or 0)
    r = qapi.client.post(
        "/api/v1/credit-notes",
        headers=staff(qapi),
        json={"invoice_id": inv.id, "reason": "Réservation de 1 h facturée 2 h"},
    )
    assert r.status_code == 201, r.text
    assert _to_invoice(qapi, lea) == [booking]
    with qapi.ctx.sessions() as s:
        link = s.exec(select(InvoiceBooking)).one()
        assert link.billed_booking_id is None and link.credited_by_id == r.json()["id"]
        events = qapi.client.get(f"/api/v1/invoices/{inv.id}/events", headers=staff(qapi))
        credited = [e for e in events.json() if e["action"] == "credited"]
        assert credited[0]["detail"]["bookings_freed"] == [booking]
        rules = qapi.ctx.profiles.prices.members
        assert drafts.member_jobs(s, lea, rules) == []  # still the booking's machine time
    again = _issue(qapi, _draft(qapi, lea).id or 0)
    assert again.number == "FAC-2026-0002"
    with qapi.ctx.sessions() as s:
        held = s.get(InvoiceJob, inside)
        assert held is not None and held.invoice_id == again.id
    assert _to_invoice(qapi, lea) == []
    r = qapi.client.get("/api/v1/books/verify", headers=staff(qapi))
    assert r.status_code == 200 and r.json()["ok"], r.text


# --- the API -----------------------------------------------------------------------------


def test_the_api_lists_drafts_and_issues_a_members_bookings(qapi: Api, root: Path) -> None:
    lea, _ = make_user(qapi.ctx.sessions, "lea", "member")
    b1 = book(qapi, lea)
    b2 = book(qapi, lea, TUESDAY + timedelta(days=1), 30)
    body = {"member_id": lea, "booking_ids": [b2]}
    r = qapi.client.post("/api/v1/invoices/member-bookings", headers=staff(qapi), json=body)
    assert r.status_code == 409 and "does not charge" in r.text
    charge(qapi, root, CHARGED)
    r = qapi.client.get(
        "/api/v1/invoices/member-bookings", headers=staff(qapi), params={"member_id": lea}
    )
    assert r.status_code == 200 and [b["id"] for b in r.json()] == [b1, b2]
    member_headers = qapi.headers("lea2", "member")
    r = qapi.client.post("/api/v1/invoices/member-bookings", headers=member_headers, json=body)
    assert r.status_code == 403
    r = qapi.client.post("/api/v1/invoices/member-bookings", headers=staff(qapi), json=body)
    assert r.status_code == 201, r.text
    draft = r.json()
    assert [ln["description"][:11] for ln in draft["lines"]] == ["Réservation"]
    r = qapi.client.post(f"/api/v1/invoices/{draft['id']}/issue", headers=staff(qapi))
    assert r.status_code == 200, r.text
    assert Decimal(r.json()["total_ht"]) == Decimal("1.50")
    r = qapi.client.get(
        "/api/v1/invoices/member-bookings", headers=staff(qapi), params={"member_id": lea}
    )
    assert [b["id"] for b in r.json()] == [b1]


def test_the_api_drafts_a_members_machine_time_without_the_booked_jobs(
    qapi: Api, root: Path
) -> None:
    charge(qapi, root, CHARGED + '\nhourly_rate = "4.00"\ntime_increment_min = 15')
    lea, _ = make_user(qapi.ctx.sessions, "lea", "member")
    book(qapi, lea)
    member_job(qapi, lea, TUESDAY + timedelta(minutes=10), 40)  # the booking's
    outside = member_job(qapi, lea, TUESDAY + timedelta(hours=4), 40)
    r = qapi.client.post(
        "/api/v1/invoices/member-time", headers=staff(qapi), json={"member_id": lea}
    )
    assert r.status_code == 201, r.text
    assert [ln["job_ids"] for ln in r.json()["lines"]] == [[outside]]


def test_the_cli_lists_and_drafts_a_members_bookings(
    qapi: Api, root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from fabqueue.cli import main

    settings = qapi.ctx.settings
    monkeypatch.setenv("FABQUEUE_DB_URL", settings.db_url)
    monkeypatch.setenv("FABQUEUE_PROFILES_DIR", str(settings.profiles_dir))
    monkeypatch.setenv("FABQUEUE_DATA_DIR", str(settings.data_dir))
    qapi.token("treso", "admin")
    charge(qapi, root, CHARGED)
    lea, _ = make_user(qapi.ctx.sessions, "lea", "member")
    make_user(qapi.ctx.sessions, "noe", "member")
    booking = book(qapi, lea)
    args = ["invoices", "member-bookings"]
    assert main([*args, "lea", "--by", "treso", "--list"]) == 0
    out = capsys.readouterr().out
    assert f"{booking}  printer  2026-02-24 13:00–15:00Z" in out
    assert "1 booking(s) to invoice" in out
    with pytest.raises(SystemExit) as stop:
        main([*args, "noe", "--by", "treso"])
    assert stop.value.code == 2 and "noe has no booking to invoice" in capsys.readouterr().err
    assert main([*args, "lea", "--by", "treso", "--booking", str(booking)]) == 0
    assert "bookings of lea" in capsys.readouterr().out
    assert _to_invoice(qapi, lea) == []


# --- PostgreSQL: two clerks issue at once -------------------------------------------------


@pytest.mark.postgres
def test_two_clerks_issuing_one_booking_at_once_bill_it_once_postgres(
    pg_url: str, tmp_path: Path
) -> None:
    root = quote_profiles(tmp_path / "p", "normal")
    write_members(root, CHARGED)
    profiles = load_profiles(root)
    engine = make_engine(pg_url, pool_size=4)
    sessions = make_session_factory(engine, None)
    at = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)
    try:
        staff_id, ids = _two_drafts(sessions, profiles, at)
        start = threading.Barrier(2)
        store = FileStore(tmp_path / "store")

        def issue(invoice_id: int) -> str:
            start.wait(timeout=30)
            try:
                with session_scope(sessions) as s:
                    user = s.get(User, staff_id)
                    assert user is not None
                    inv = issuing.issue(
                        session=s,
                        user=user,
                        invoice_id=invoice_id,
                        profiles=profiles,
                        store=store,
                        at=at,
                    )
                    return inv.number or ""
            except Conflict as exc:  # the scope rolled the refused issue back
                return exc.message

        with ThreadPoolExecutor(2) as pool:
            results = sorted(pool.map(issue, ids))
        assert results[0] == "FAC-2026-0001"
        assert "are invoiced already" in results[1]
        with sessions() as s:
            billed = s.exec(
                select(InvoiceBooking).where(col(InvoiceBooking.billed_booking_id).is_not(None))
            ).all()
            assert len(billed) == 1
            seq = s.get(InvoiceSequence, ("FAC", 2026))
            assert seq is not None and seq.last == 1
    finally:
        engine.dispose()


def _two_drafts(sessions: Any, profiles: ProfileSet, at: datetime) -> tuple[int, list[int]]:
    with session_scope(sessions) as s:
        clerk = create_user(session=s, name="staff", role=Role.facilitator, at=at)
        lea = create_user(session=s, name="lea", role=Role.member, at=at)
        assert clerk.id is not None and lea.id is not None
        s.add(
            Booking(
                machine="printer",
                member_id=lea.id,
                starts_at=TUESDAY,
                ends_at=TUESDAY + timedelta(hours=2),
                created_at=TUESDAY - timedelta(days=2),
                created_by=lea.id,
            )
        )
        s.commit()
        clerk_id, lea_id = clerk.id, lea.id
    with session_scope(sessions) as s:
        user = s.get(User, clerk_id)
        assert user is not None
        first = bookings.draft_member_bookings(
            session=s, user=user, member_id=lea_id, profiles=profiles, at=at
        )
        assert first.id is not None
        first_id = first.id
    with session_scope(sessions) as s:
        return clerk_id, [first_id, twin_draft(s, first_id)]


def test_a_rate_for_an_unknown_machine_is_refused(tmp_path: Path) -> None:
    from fabqueue.profiles import ProfileErrors

    root = quote_profiles(tmp_path / "p", "normal")
    write_members(root, 'booking_machine_rates = { imprimante-3d = "4.00" }')
    with pytest.raises(ProfileErrors, match=r"booking_machine_rates\.imprimante-3d"):
        load_profiles(root)
