"""Who may open the admin pages, form values read the same way everywhere, and the
services' refusals in the person's language."""

from __future__ import annotations

import re
from datetime import date, datetime, time
from typing import Annotated

from fastapi import Depends, Path
from starlette.responses import Response

from fabqueue.models import Role
from fabqueue.services.errors import ServiceError
from fabqueue.web.errors import FormError, NotAllowed
from fabqueue.web.page import Page, signed_in_page, site_tz, staff_page

MAX_ID = 2**63 - 1

IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]


def admin_page(page: Annotated[Page, Depends(signed_in_page)]) -> Page:
    """People, prices and profiles are the admins' (docs/permissions.md)."""
    if page.user is None or page.user.role != Role.admin:
        raise NotAllowed("admin")
    return page


AdminPage = Annotated[Page, Depends(admin_page)]
StaffPage = Annotated[Page, Depends(staff_page)]


def local_time(page: Page, day: str, at: str) -> datetime:
    """A date and a time of day typed in the café's time zone, as an aware datetime."""
    try:
        d = date.fromisoformat(day)
        t = time.fromisoformat(at)
    except ValueError:
        raise FormError(page.gettext("Give a date and a time (for example 14:00).")) from None
    return datetime.combine(d, t, tzinfo=site_tz(page.ctx))


def not_found(page: Page, what: str) -> Response:
    """The 404 page in the person's words (the services say it in English)."""
    context = {"status": 404, "title": page.gettext("Not found"), "detail": what}
    return page.render("pages/error.html", context, status=404)


def _rules(page: Page) -> list[tuple[re.Pattern[str], str]]:
    _ = page.gettext
    return [
        (
            re.compile(r"there is already a user called '(?P<name>.*)'"),
            _("Someone is already called “%(name)s”: choose another name."),
        ),
        (re.compile(r"a user needs a name"), _("Give a name.")),
        (re.compile(r"a name has at most"), _("A name has at most 120 characters.")),
        (
            re.compile(r"client accounts are made|stays a client account"),
            _("Client accounts are made with their organisation, not here."),
        ),
        (
            re.compile(r"you cannot (change the role of|deactivate) yourself"),
            _("You cannot do that to your own account: another admin can."),
        ),
        (re.compile(r"this account is (already )?deactivated"), _("This account is deactivated.")),
        (re.compile(r"is already erased"), _("This person's data is already erased.")),
        (re.compile(r"a training needs a name"), _("Give the training a name.")),
        (
            re.compile(r"must unlock at least one machine"),
            _("Choose at least one machine or kind of machine."),
        ),
        (
            re.compile(r"there is already a training called '(?P<name>.*)'"),
            _("A training called “%(name)s” already exists."),
        ),
        (re.compile(r"months must be 1 or more"), _("Months are 1 or more.")),
        (
            re.compile(r"the session ends before it starts|the range ends before it starts"),
            _("The end comes before the start."),
        ),
        (
            re.compile(r"a session needs at least one place"),
            _("A session needs at least one place."),
        ),
        (
            re.compile(r"the session has not started yet"),
            _("Attendance is validated once the session has started."),
        ),
        (
            re.compile(r"say why the machine is blocked|say why the machine is out of service"),
            _("Say why (the reason is shown to members and on the board)."),
        ),
        (
            re.compile(r"members have booked this time"),
            _("Members have booked this time: move or cancel their bookings first."),
        ),
        (re.compile(r"say why the authorisation is revoked"), _("Say why it is withdrawn.")),
        (re.compile(r"is already revoked"), _("This authorisation is already withdrawn.")),
        (
            re.compile(r"expires_at must be a future time"),
            _("The end date must be in the future."),
        ),
        (
            re.compile(r"not enrolled in this session"),
            _("This person is not enrolled in this session."),
        ),
    ]


def refusal(page: Page, exc: ServiceError) -> str:
    """Why a form's action was refused, in the page's language."""
    return exc.message if isinstance(exc, FormError) else in_words(page, exc.message)


def in_words(page: Page, message: str) -> str:
    """A known refusal in the page's language; the services' French ones as they are."""
    for pattern, template in _rules(page):
        found = pattern.search(message)
        if found:
            values = found.groupdict()
            return template % values if values else template
    return message
