"""The once-only report for a period: the three measures, and where re-submissions come from.

Every figure is a database aggregate (GROUP BY), so the report costs the same whether it covers ten
dossiers or ten million.
"""

import csv
import html
import io
from datetime import date
from typing import Any

from pydantic import BaseModel
from sqlalchemy import and_, case, func, select, true
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.indicators.models import OnceOnlyIndicators
from lgsp.indicators.service import once_only_indicators
from lgsp.onceonly.models import ComponentOutcome, Dossier, DossierComponentRecord
from lgsp.settings import Settings
from schemas.common import utcnow
from schemas.onceonly import Catalogue


class ProcedureLine(BaseModel):
    procedure: str
    name: str
    dossiers: int
    without_resubmission: int
    with_reuse: int


class DocumentTypeLine(BaseModel):
    document_type: str
    name: str
    reused: int
    first_submissions: int
    resubmissions: int


class CauseLine(BaseModel):
    cause: str
    resubmissions: int


class OnceOnlyReport(BaseModel):
    """The once-only report of DESIGN.md section 8 for dossiers received in [start, end)."""

    generated_at: str
    measures: OnceOnlyIndicators
    by_procedure: list[ProcedureLine]
    by_document_type: list[DocumentTypeLine]
    by_cause: list[CauseLine]


def _period(start: date | None, end: date | None) -> Any:
    return and_(
        true(),
        *([col(Dossier.received_on) >= start] if start else []),
        *([col(Dossier.received_on) < end] if end else []),
    )


def _name(lookup: Any, code: str) -> str:
    try:
        return str(lookup(code).name)
    except KeyError:  # recorded under an older catalogue
        return code


async def once_only_report(
    session: AsyncSession, settings: Settings, catalogue: Catalogue, start: date | None, end: date | None
) -> OnceOnlyReport:
    """Compute the report with three grouped queries and the measures' one."""
    conn = await session.connection()
    period = _period(start, end)
    procedures = await conn.execute(
        select(
            col(Dossier.procedure),
            func.count(),
            func.count(case((col(Dossier.resubmissions) == 0, 1))),
            func.count(case((col(Dossier.reused) > 0, 1))),
        )
        .where(period)
        .group_by(col(Dossier.procedure))
        .order_by(col(Dossier.procedure))
    )
    outcome = col(DossierComponentRecord.outcome)
    joined = select(DossierComponentRecord).join(
        Dossier, col(Dossier.id) == col(DossierComponentRecord.dossier_id)
    )
    types = await conn.execute(
        joined.with_only_columns(
            col(DossierComponentRecord.document_type),
            func.count(case((outcome == ComponentOutcome.REUSED.value, 1))),
            func.count(case((outcome == ComponentOutcome.FIRST_SUBMISSION.value, 1))),
            func.count(case((outcome == ComponentOutcome.RESUBMISSION.value, 1))),
        )
        .where(period)
        .group_by(col(DossierComponentRecord.document_type))
        .order_by(col(DossierComponentRecord.document_type))
    )
    causes = await conn.execute(
        joined.with_only_columns(col(DossierComponentRecord.cause), func.count())
        .where(period, outcome == ComponentOutcome.RESUBMISSION.value)
        .group_by(col(DossierComponentRecord.cause))
        .order_by(func.count().desc())
    )
    return OnceOnlyReport(
        generated_at=utcnow().isoformat(timespec="seconds"),
        measures=await once_only_indicators(session, settings, start, end),
        by_procedure=[
            ProcedureLine(
                procedure=p,
                name=_name(catalogue.procedure, p),
                dossiers=n,
                without_resubmission=c,
                with_reuse=r,
            )
            for p, n, c, r in procedures
        ],
        by_document_type=[
            DocumentTypeLine(
                document_type=t,
                name=_name(catalogue.document_type, t),
                reused=r,
                first_submissions=f,
                resubmissions=s,
            )
            for t, r, f, s in types
        ],
        by_cause=[CauseLine(cause=c or "unknown", resubmissions=n) for c, n in causes],
    )


def _tables(report: OnceOnlyReport) -> list[tuple[str, list[str], list[list[Any]]]]:
    """The report as titled tables: what the CSV and HTML forms both show."""
    m = report.measures
    return [
        (
            "measures",
            ["measure", "numerator", "denominator", "ratio", "target"],
            [
                [name, r.numerator, r.denominator, r.ratio, r.target]
                for name, r in (
                    ("by_dossier", m.by_dossier),
                    ("by_applicant", m.by_applicant),
                    ("reuse", m.reuse),
                )
            ]
            + [["reuse_points_766", m.reuse.points, m.reuse.max_points, None, None]],
        ),
        (
            "by_procedure",
            ["procedure", "name", "dossiers", "without_resubmission", "with_reuse"],
            [
                [p.procedure, p.name, p.dossiers, p.without_resubmission, p.with_reuse]
                for p in report.by_procedure
            ],
        ),
        (
            "by_document_type",
            ["document_type", "name", "reused", "first_submissions", "resubmissions"],
            [
                [t.document_type, t.name, t.reused, t.first_submissions, t.resubmissions]
                for t in report.by_document_type
            ],
        ),
        ("by_cause", ["cause", "resubmissions"], [[c.cause, c.resubmissions] for c in report.by_cause]),
    ]


def report_csv(report: OnceOnlyReport) -> str:
    """The report as one CSV: a `section` column names the table each row belongs to."""
    out = io.StringIO()
    writer = csv.writer(out)
    for section, header, rows in _tables(report):
        writer.writerow(["section", *header])
        writer.writerows([[section, *("" if v is None else v for v in row)] for row in rows])
    return out.getvalue()


def report_html(report: OnceOnlyReport) -> str:
    """The report as a self-contained, printable HTML page."""
    m = report.measures
    period = f"{m.start or 'first dossier'} to {m.end or 'now'}"
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        "<title>Once-only report</title><style>body{font:14px system-ui,sans-serif;margin:2em}"
        "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 8px}"
        "th{background:#eee}td.n{text-align:right}</style></head><body>",
        f"<h1>Once-only report</h1><p>Dossiers received {html.escape(period)}; generated "
        f"{html.escape(report.generated_at)}.</p>",
    ]
    for section, header, rows in _tables(report):
        parts.append(f"<h2>{html.escape(section.replace('_', ' '))}</h2><table><tr>")
        parts.extend(f"<th>{html.escape(h)}</th>" for h in header)
        parts.append("</tr>")
        for row in rows:
            cells = (
                f"<td class='n'>{v:.3f}</td>"
                if isinstance(v, float)
                else f"<td class='n'>{v}</td>"
                if isinstance(v, int)
                else f"<td>{html.escape('' if v is None else str(v))}</td>"
                for v in row
            )
            parts.append("<tr>" + "".join(cells) + "</tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)
