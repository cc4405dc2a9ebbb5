"""Reports straight from the database, without a running hub: what `lgsp report ...` prints."""

from collections.abc import Callable
from datetime import date
from enum import StrEnum
from typing import TypeVar

from pydantic import BaseModel

from lgsp.db import Database
from lgsp.db.engine import wait_for
from lgsp.reports import connectivity, connectivity_html, onceonly
from lgsp.reports.models import ReportFormat
from lgsp.settings import Settings
from schemas.onceonly import load_catalogue

Report = TypeVar("Report", bound=BaseModel)


class ReportKind(StrEnum):
    """Which report to compute."""

    CONNECTIVITY = "connectivity"
    ONCE_ONLY = "once-only"


def _render(
    report: Report, fmt: ReportFormat, to_csv: Callable[[Report], str], to_html: Callable[[Report], str]
) -> str:
    if fmt is ReportFormat.CSV:
        return to_csv(report)
    if fmt is ReportFormat.HTML:
        return to_html(report)
    return report.model_dump_json(indent=2) + "\n"


async def render_report(
    settings: Settings,
    kind: ReportKind,
    start: date | None,
    end: date | None,
    fmt: ReportFormat,
    *,
    outages: bool = False,
) -> str:
    """The report of `kind` for [start, end) in `fmt`, exactly as the API answers it (`outages`: list every
    outage in the connectivity report; its HTML form always does).

    The database (LGSP_DATABASE_URL) is waited for and migrated first, as the hub does when it starts, so
    the command also works on a database no hub has opened yet.
    """
    database = Database(settings.database_url)
    try:
        await wait_for(database)
        await database.migrate()
        if kind is ReportKind.CONNECTIVITY:
            report = await connectivity.connectivity_report(
                database, settings, start, end, outages=outages or fmt is ReportFormat.HTML
            )
            return _render(report, fmt, connectivity_html.report_csv, connectivity_html.report_html)
        async with database.sessions() as session:
            catalogue = load_catalogue(settings.catalogue)
            dossiers = await onceonly.once_only_report(session, settings, catalogue, start, end)
            return _render(dossiers, fmt, onceonly.report_csv, onceonly.report_html)
    finally:
        await database.dispose()
