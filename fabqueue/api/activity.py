"""Activity and impact reports (staff): JSON, or a CSV / ODS / PDF download."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Response

from fabqueue.api.deps import CtxDep, ReadSessionDep, StaffUser
from fabqueue.reports import exports, period, service
from fabqueue.reports.tables import svg_charts
from fabqueue.services.booking_rules import tz_of

Year = Annotated[int | None, Query(ge=1970, le=9999)]
Quarter = Annotated[int | None, Query(ge=1, le=4)]
Month = Annotated[int | None, Query(ge=1, le=12)]

router = APIRouter(prefix="/reports", tags=["reports"])

Format = Literal["json", "csv", "ods", "pdf"]


def _report(
    ctx: CtxDep,
    session: ReadSessionDep,
    year: int | None,
    quarter: int | None,
    month: int | None,
    start: date | None,
    end: date | None,
    machine: list[str] | None,
) -> service.Report:
    p = period.parse(
        tz_of(ctx.profiles), year_=year, quarter_=quarter, month_=month, start=start, end=end
    )
    return service.build(session, ctx.profiles, p, now=ctx.clock.now(), machines=machine)


@router.get("/activity", response_model=service.Report)
def activity(
    ctx: CtxDep,
    session: ReadSessionDep,
    _user: StaffUser,
    year: Year = None,
    quarter: Quarter = None,
    month: Month = None,
    start: date | None = None,
    end: date | None = None,
    machine: Annotated[list[str] | None, Query()] = None,
    format: Format = "json",
) -> Response | service.Report:
    """The period's activity, material and waste, energy (an estimate) and estimates vs
    actuals: ``year`` (with ``quarter`` or ``month``), or ``start`` and ``end`` (days,
    inclusive). ``machine`` (repeatable) narrows to one café's machines; without it,
    the whole network. Counts and amounts only: no names."""
    report = _report(ctx, session, year, quarter, month, start, end, machine)
    if format == "json":
        return report
    body = exports.render(report, format, service.site_identity(ctx.profiles))
    name = f"bilan-{report.period.replace('/', '_')}.{format}"
    return Response(
        body,
        media_type=exports.MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@router.get("/activity/charts", response_model=dict[str, str])
def activity_charts(
    ctx: CtxDep,
    session: ReadSessionDep,
    _user: StaffUser,
    year: Year = None,
    quarter: Quarter = None,
    month: Month = None,
    start: date | None = None,
    end: date | None = None,
    machine: Annotated[list[str] | None, Query()] = None,
) -> dict[str, str]:
    """The report's charts as SVG, by the name of the table each one sits above."""
    report = _report(ctx, session, year, quarter, month, start, end, machine)
    return svg_charts(report)
