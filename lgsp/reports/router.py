"""The auditors' reports over REST (connectivity and once-only), for admins, operators and auditors."""

import asyncio
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from lgsp.api.params import PeriodEnd, PeriodStart, check_period
from lgsp.errors import error_responses
from lgsp.registry.auth import CallerDep
from lgsp.registry.caller import READERS
from lgsp.reports import connectivity_html, onceonly
from lgsp.reports.connectivity import connectivity_report
from lgsp.reports.models import ConnectivityReport, OnceOnlyReport, ReportFormat
from lgsp.runtime import RuntimeDep, SessionDep

router = APIRouter(prefix="/api/v1", responses=error_responses(401, 403, 422))


# Declared first and tagged with the dossiers, as when the once-only routes served it: the OpenAPI
# document keeps its order and groups, and so do the clients generated from it.
@router.get(
    "/reports/once-only",
    tags=["once-only"],
    response_model=OnceOnlyReport,
    responses={200: {"content": {"text/csv": {}, "text/html": {}}}},
)
async def get_once_only_report(
    session: SessionDep,
    caller: CallerDep,
    runtime: RuntimeDep,
    start: PeriodStart = None,
    end: PeriodEnd = None,
    format: ReportFormat = ReportFormat.JSON,
) -> OnceOnlyReport | Response:
    """The three once-only measures for a period, by procedure, by document type and by cause of
    re-submission; as JSON, CSV or a printable HTML page."""
    caller.require(*READERS)
    check_period(start, end)
    report = await onceonly.once_only_report(session, runtime.settings, runtime.catalogue, start, end)
    if format is ReportFormat.CSV:
        return PlainTextResponse(onceonly.report_csv(report), media_type="text/csv")
    if format is ReportFormat.HTML:
        return HTMLResponse(onceonly.report_html(report))
    return report


@router.get(
    "/reports/connectivity",
    tags=["reports"],
    response_model=ConnectivityReport,
    responses={200: {"content": {"text/csv": {}, "text/html": {}}}},
)
async def get_connectivity_report(
    caller: CallerDep,
    runtime: RuntimeDep,
    start: PeriodStart = None,
    end: PeriodEnd = None,
    format: ReportFormat = ReportFormat.JSON,
    outages: Annotated[
        bool, Query(description="List every outage too (the HTML page always does, for its timeline)")
    ] = False,
) -> ConnectivityReport | Response:
    """Each system's connected share of time on the LGSP and NGSP links, outages and exchanges, and the
    province's time-weighted ratios, over the days [from, to) in UTC; as JSON, CSV or a printable HTML
    page with charts.

    `to` defaults to now and `from` to the first day of the quarter the period ends in, so without either
    the report covers the current quarter so far. Time after now is not counted, and time when no hub
    was running is platform downtime, shown apart and left out of every system's figures. Every outage
    (system, link, start, end) is listed with `outages=true`: there can be 100,000s."""
    caller.require(*READERS)
    check_period(start, end)
    report = await connectivity_report(
        runtime.database, runtime.settings, start, end, outages=outages or format is ReportFormat.HTML
    )
    # Rendering a province-sized report takes a while: off the event loop, which the bus workers share.
    if format is ReportFormat.CSV:
        return PlainTextResponse(
            await asyncio.to_thread(connectivity_html.report_csv, report), media_type="text/csv"
        )
    if format is ReportFormat.HTML:
        return HTMLResponse(await asyncio.to_thread(connectivity_html.report_html, report))
    return report
