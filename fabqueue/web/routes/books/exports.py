"""What the accountant receives, as downloads from a staff page: the FEC of a year, the
sales and the payments of a period (CSV). ``fabqueue.invoices.books`` writes them."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter
from starlette.responses import Response

from fabqueue.invoices import books
from fabqueue.web.page import Page, StaffPage
from fabqueue.web.routes.books import forms
from fabqueue.web.routes.books.invoices import today
from fabqueue.web.routes.books.words import in_words

router = APIRouter()


def _render(page: Page, *, error: str | None = None, status: int = 200, **values: Any) -> Response:
    now = today(page)
    defaults = {
        "year": str(now.year),
        "start": date(now.year, now.month, 1).isoformat(),
        "end": now.isoformat(),
    }
    return page.render(
        "pages/invoices/exports.html", {"error": error, **defaults, **values}, status=status
    )


@router.get("/books")
def exports_page(page: StaffPage) -> Response:
    return _render(page)


def _period(page: Page, start: str, end: str) -> tuple[date, date]:
    first = forms.day(start, page.gettext("Give the first day of the period."))
    last = forms.day(end, page.gettext("Give the last day of the period."))
    if last < first:
        raise forms.FormError(page.gettext("The period ends before it starts."))
    return first, last


def _download(body: bytes, media_type: str, name: str) -> Response:
    return Response(
        body,
        media_type=media_type,
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/books/fec")
def fec(page: StaffPage, year: str = "") -> Response:
    site = page.ctx.profiles.site
    if not (year.isdigit() and 2000 <= int(year) <= 2100):
        return _render(
            page, error=page.gettext("Give the year, for example 2026."), status=422, year=year
        )
    if site is None:
        message = in_words("the café's identity is not set up", page.gettext)
        return _render(page, error=message, status=409, year=year)
    with page.ctx.read_sessions() as session:
        body = books.fec_bytes(session, int(year), site.accounts)
    return _download(
        body,
        f"text/tab-separated-values; charset={books.FEC_ENCODING}",
        books.fec_filename(site.siret, int(year)),
    )


@router.get("/books/{what}.csv")
def period_csv(what: str, page: StaffPage, start: str = "", end: str = "") -> Response:
    """``ventes`` (sales) or ``reglements`` (payments and refunds) of a period."""
    writers = {"ventes": books.sales_csv, "reglements": books.payments_csv}
    if what not in writers:
        return _render(page, error=page.gettext("No such export."), status=404)
    try:
        first, last = _period(page, start, end)
    except forms.FormError as exc:
        return _render(page, error=exc.message, status=422, start=start, end=end)
    with page.ctx.read_sessions() as session:
        text = writers[what](session, first, last)
    return _download(text.encode("utf-8"), "text/csv; charset=utf-8", f"{what}-{first}-{last}.csv")
