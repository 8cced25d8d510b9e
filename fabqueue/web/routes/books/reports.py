"""The activity reports as staff pages: one page per report (activity, material and
waste, energy, estimates vs actuals), a period (month, quarter, year, custom) and a
scope (this café's machines or the whole network); each chart with its table beneath,
and the CSV / ODS / PDF downloads. ``fabqueue.reports`` computes everything."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from babel.numbers import format_decimal
from fastapi import APIRouter
from starlette.responses import Response

from fabqueue.reports import exports, period, service
from fabqueue.reports.tables import (
    Cell,
    Table,
    accuracy_tables,
    activity_tables,
    energy_tables,
    material_tables,
    money_table,
    svg_charts,
)
from fabqueue.services.booking_rules import tz_of
from fabqueue.services.errors import ServiceError
from fabqueue.web.page import Page, StaffPage

router = APIRouter()

KINDS = ("activity", "material", "energy", "accuracy")


def _tables(kind: str, report: service.Report) -> list[Table]:
    if kind == "material":
        return material_tables(report)
    if kind == "energy":
        return energy_tables(report)
    if kind == "accuracy":
        return accuracy_tables(report)
    return [*activity_tables(report), money_table(report)]


class Choice:
    """The period and scope asked in the query string, as the form shows them again."""

    def __init__(self, page: Page, params: dict[str, str]) -> None:
        today = page.ctx.clock.now().astimezone(tz_of(page.ctx.profiles)).date()
        self.year = params.get("year", "") or str(today.year)
        self.quarter = params.get("quarter", "")
        self.month = params.get("month", "")
        self.start = params.get("start", "")
        self.end = params.get("end", "")
        self.scope = "network" if params.get("scope") == "network" else "cafe"

    def query(self) -> str:
        from urllib.parse import urlencode

        values = {
            k: v
            for k, v in (
                ("year", self.year),
                ("quarter", self.quarter),
                ("month", self.month),
                ("start", self.start),
                ("end", self.end),
                ("scope", self.scope),
            )
            if v
        }
        if self.start or self.end:
            values.pop("year", None)
        return urlencode(values)

    def period(self, page: Page) -> period.Period:
        def number(text: str, what: str) -> int | None:
            if not text:
                return None
            if not (text.isdigit() and len(text) <= 4):
                raise _Bad(page.gettext("The %(what)s is not a number.", what=what))
            return int(text)

        def day(text: str) -> date | None:
            if not text:
                return None
            try:
                return date.fromisoformat(text)
            except ValueError:
                raise _Bad(page.gettext("Give the days of a custom period as dates.")) from None

        start, end = day(self.start), day(self.end)
        custom = start is not None or end is not None
        try:
            return period.parse(
                tz_of(page.ctx.profiles),
                year_=None if custom else number(self.year, page.gettext("year")),
                quarter_=None if custom else number(self.quarter, page.gettext("quarter")),
                month_=None if custom else number(self.month, page.gettext("month")),
                start=start,
                end=end,
            )
        except ServiceError as exc:
            raise _Bad(_period_words(page, exc.message)) from exc


class _Bad(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _period_words(page: Page, message: str) -> str:
    if "before it starts" in message:
        return page.gettext("The period ends before it starts.")
    if "at most three years" in message:
        return page.gettext("A report covers at most three years.")
    if "needs both start and end" in message:
        return page.gettext("A custom period needs its first and its last day.")
    if "a quarter or a month" in message:
        return page.gettext("Choose a quarter or a month, not both.")
    if "quarter" in message or "month" in message:
        return page.gettext("Choose a quarter from 1 to 4 and a month from 1 to 12.")
    return page.gettext("That did not work: %(detail)s", detail=message)


def _build(page: Page, choice: Choice) -> service.Report:
    p = choice.period(page)
    machines = None if choice.scope == "network" else sorted(page.ctx.profiles.machines)
    with page.ctx.read_sessions() as session:
        return service.build(
            session, page.ctx.profiles, p, now=page.ctx.clock.now(), machines=machines
        )


def cell(value: Cell, lang: str) -> str:
    """A table's cell in the reader's number format (« 1 234,5 » in French)."""
    if value is None:
        return "—"
    if isinstance(value, bool | str):
        return str(value)
    locale = "fr_FR" if lang == "fr" else "en_GB"
    if isinstance(value, int):
        return format_decimal(value, locale=locale)
    if isinstance(value, Decimal):  # amounts in euros: always their cents
        return format_decimal(value, locale=locale, format="#,##0.00")
    return format_decimal(Decimal(str(value)), locale=locale, format="#,##0.###")


def _base(kind: str, choice: Choice) -> dict[str, Any]:
    return {
        "kind": kind,
        "kinds": KINDS,
        "choice": choice,
        "error": None,
        "report": None,
        "query": choice.query(),
    }


@router.get("/reports")
def reports_home(page: StaffPage) -> Response:
    return page.redirect("/reports/activity")


@router.get("/reports/{kind}")
def report_page(kind: str, page: StaffPage) -> Response:
    if kind not in KINDS:
        return page.redirect("/reports/activity")
    choice = Choice(page, dict(page.request.query_params))
    context = _base(kind, choice)
    try:
        report = _build(page, choice)
    except _Bad as exc:
        context["error"] = exc.message
        return page.render("pages/reports/report.html", context, status=422)
    context.update(
        report=report,
        tables=_tables(kind, report),
        charts=svg_charts(report),
        cell=lambda v: cell(v, page.lang),
        numeric=lambda v: isinstance(v, int | float | Decimal) and not isinstance(v, bool),
    )
    return page.render("pages/reports/report.html", context)


@router.get("/reports/{kind}/download")
def download(kind: str, page: StaffPage, format: str = "csv") -> Response:
    """The whole report of the period (every table), as a spreadsheet or the PDF."""
    choice = Choice(page, dict(page.request.query_params))
    if format not in ("csv", "ods", "pdf") or kind not in KINDS:
        return page.redirect(f"/reports/activity?{choice.query()}")
    try:
        report = _build(page, choice)
    except _Bad as exc:
        context = {**_base(kind, choice), "error": exc.message}
        return page.render("pages/reports/report.html", context, status=422)
    body = exports.render(report, format, service.site_identity(page.ctx.profiles))
    name = f"bilan-{report.period.replace('/', '_')}.{format}"
    return Response(
        body,
        media_type=exports.MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
