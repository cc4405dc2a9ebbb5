"""The once-only report for a period: the three measures, and where re-submissions come from.

Every figure is a database aggregate (GROUP BY), so the report costs the same whether it covers ten
dossiers or ten million.
"""

import html
from collections.abc import Callable
from datetime import date

from sqlalchemy import ColumnElement, and_, case, func, select, true
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.indicators.service import once_only_indicators
from lgsp.onceonly.models import ComponentOutcome, Dossier, DossierComponentRecord
from lgsp.reports.models import CauseLine, DocumentTypeLine, OfficeLine, OnceOnlyReport, ProcedureLine
from lgsp.reports.tables import Table, html_page, tables_csv, tables_html
from lgsp.settings import Settings
from schemas.common import utcnow
from schemas.onceonly import Catalogue, DocumentType, Procedure


def _period(start: date | None, end: date | None) -> ColumnElement[bool]:
    return and_(
        true(),
        *([col(Dossier.received_on) >= start] if start else []),
        *([col(Dossier.received_on) < end] if end else []),
    )


def _name(lookup: Callable[[str], Procedure | DocumentType], code: str) -> str:
    try:
        return lookup(code).name
    except KeyError:  # recorded under an older catalogue
        return code


async def once_only_report(
    session: AsyncSession, settings: Settings, catalogue: Catalogue, start: date | None, end: date | None
) -> OnceOnlyReport:
    """Compute the report with four grouped queries and the measures' one."""
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
            func.count(case((outcome == ComponentOutcome.UNVERIFIED.value, 1))),
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
    offices = await conn.execute(
        select(
            col(Dossier.office),
            func.count(),
            func.coalesce(func.sum(col(Dossier.reused)), 0),
            func.coalesce(func.sum(col(Dossier.unverified)), 0),
            func.count(col(Dossier.claimed_received_on)),
        )
        .where(period)
        .group_by(col(Dossier.office))
        .order_by(col(Dossier.office))
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
                unverified=u,
            )
            for t, r, f, s, u in types
        ],
        by_cause=[CauseLine(cause=c or "unknown", resubmissions=n) for c, n in causes],
        by_office=[
            OfficeLine(office=o, dossiers=n, reused=r, unverified=u, received_on_moved=m)
            for o, n, r, u, m in offices
        ],
    )


def _tables(report: OnceOnlyReport) -> list[Table]:
    """The report as titled tables: what the CSV and HTML forms both show."""
    m = report.measures
    return [
        Table(
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
        Table(
            "by_procedure",
            ["procedure", "name", "dossiers", "without_resubmission", "with_reuse"],
            [
                [p.procedure, p.name, p.dossiers, p.without_resubmission, p.with_reuse]
                for p in report.by_procedure
            ],
        ),
        Table(
            "by_document_type",
            ["document_type", "name", "reused", "first_submissions", "resubmissions", "unverified"],
            [
                [t.document_type, t.name, t.reused, t.first_submissions, t.resubmissions, t.unverified]
                for t in report.by_document_type
            ],
        ),
        Table("by_cause", ["cause", "resubmissions"], [[c.cause, c.resubmissions] for c in report.by_cause]),
        Table(
            "by_office",
            ["office", "dossiers", "reused", "unverified", "received_on_moved"],
            [[o.office, o.dossiers, o.reused, o.unverified, o.received_on_moved] for o in report.by_office],
        ),
    ]


def report_csv(report: OnceOnlyReport) -> str:
    """The report as one CSV: a `section` column names the table each row belongs to."""
    return tables_csv(_tables(report))


#: The page's style sheet: plain tables, numbers right-aligned.
_CSS = (
    "body{font:14px system-ui,sans-serif;margin:2em}"
    "table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #bbb;padding:4px 8px}"
    "th{background:#eee}td.n{text-align:right}"
)


def report_html(report: OnceOnlyReport) -> str:
    """The report as a self-contained, printable HTML page."""
    m = report.measures
    period = f"{m.start or 'first dossier'} to {m.end or 'now'}"
    return html_page(
        "Once-only report",
        _CSS,
        f"<h1>Once-only report</h1><p>Dossiers received {html.escape(period)}; generated "
        f"{html.escape(report.generated_at)}.</p>",
        # Headed by the CSV column names, as this page always was: the published page stays the same.
        tables_html(_tables(report), raw_headings=True),
    )
