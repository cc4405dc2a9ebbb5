"""The connectivity report rendered: one CSV, or a self-contained printable HTML page with inline SVG
charts of each system's connected share and outages."""

import html
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from lgsp.reports.models import TARGET, ConnectivityReport, GroupLine, LinkFigures, Outage, SystemLine
from lgsp.reports.tables import Table, duration, html_page, tables_csv, tables_html
from schemas.common import Link

_SYSTEM_HEADER = [
    "code",
    "name",
    "agency_code",
    "level",
    "kind",
    "registered_at",
    "retired_at",
    "observed_seconds",
    "lgsp_connected_seconds",
    "lgsp_share",
    "lgsp_outages",
    "lgsp_longest_outage_seconds",
    "ngsp_connected_seconds",
    "ngsp_share",
    "ngsp_outages",
    "ngsp_longest_outage_seconds",
    "last_heartbeat_at",
    "exchanges_as_client",
    "exchanges_as_provider",
]


#: A scope change's columns, as the report's JSON names them.
_SCOPE_HEADER = [
    "code",
    "agency_code",
    "change",
    "status",
    "reason",
    "requested_by",
    "requested_key",
    "requested_at",
    "decided_by",
    "decided_key",
    "decided_at",
    "decision_note",
]


def _system_row(line: SystemLine) -> list[Any]:
    def link(figures: LinkFigures | None) -> list[Any]:
        if figures is None:
            return [None] * 4
        return [figures.connected_seconds, figures.share, figures.outages, figures.longest_outage_seconds]

    return [
        line.code,
        line.name,
        line.agency_code,
        line.level,
        line.kind,
        line.registered_at,
        line.retired_at,
        line.observed_seconds,
        *link(line.lgsp),
        *link(line.ngsp),
        line.last_heartbeat_at,
        line.exchanges_as_client,
        line.exchanges_as_provider,
    ]


def _group_table(section: str, column: str, lines: Sequence[GroupLine]) -> Table:
    """Systems by level or by agency: counts, and each link's time-weighted ratio."""
    links = ("connected_seconds", "observed_seconds", "ratio")
    return Table(
        section,
        [
            column,
            "in_scope_systems",
            "exempt_systems",
            *(f"{link}_{c}" for link in ("lgsp", "ngsp") for c in links),
        ],
        [
            [
                g.group,
                g.in_scope_systems,
                g.exempt_systems,
                *(
                    value
                    for f in (g.lgsp, g.ngsp)
                    for value in (f.connected_seconds, f.observed_seconds, f.ratio)
                ),
            ]
            for g in lines
        ],
    )


def _tables(report: ConnectivityReport) -> list[Table]:
    """The report as titled tables: what the CSV and HTML forms both show."""
    p = report.province
    tables = [
        Table(
            "period",
            [
                "start",
                "end",
                "observed_until",
                "period_seconds",
                "platform_downtime_seconds",
                "in_scope_systems",
                "exempt_systems",
            ],
            [
                [
                    report.start,
                    report.end,
                    report.observed_until,
                    report.period_seconds,
                    p.platform_downtime_seconds,
                    p.in_scope_systems,
                    p.exempt_systems,
                ]
            ],
        ),
        Table(
            "province",
            ["link", "connected_seconds", "observed_seconds", "ratio", "target"],
            [
                [link.value, f.connected_seconds, f.observed_seconds, f.ratio, f.target]
                for link, f in ((Link.LGSP, p.lgsp), (Link.NGSP, p.ngsp))
            ],
        ),
        _group_table("by_level", "level", report.by_level),
        _group_table("by_agency", "agency_code", report.by_agency),
        Table(
            "platform_downtime",
            ["start", "end", "seconds"],
            [[d.start, d.end, d.seconds] for d in report.platform_downtime],
        ),
        Table("systems", _SYSTEM_HEADER, [_system_row(line) for line in report.systems]),
        Table("exempt_systems", _SYSTEM_HEADER, [_system_row(line) for line in report.exempt]),
    ]
    tables.append(
        Table(
            "scope_changes",
            [*_SCOPE_HEADER, "request"],
            [[getattr(c, name) for name in _SCOPE_HEADER] + [c.id] for c in report.scope_changes],
        )
    )
    if report.outages is not None:
        tables.append(
            Table(
                "outages",
                ["code", "link", "start", "end", "seconds"],
                [[o.code, o.link.value, o.start, o.end, o.seconds] for o in report.outages],
            )
        )
    return tables


def report_csv(report: ConnectivityReport) -> str:
    """The report as one CSV: a `section` column names the table each row belongs to."""
    return tables_csv(_tables(report))


_CSS = (
    "body{font:13px system-ui,sans-serif;margin:2em;color:#222}"
    "table{border-collapse:collapse;margin:.5em 0 1.5em}td,th{border:1px solid #bbb;padding:3px 6px}"
    "th{background:#eee;font-weight:600}td.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}"
    "svg{display:block;max-width:100%;height:auto;margin:.5em 0 1.5em}"
    "svg text{font:11px system-ui,sans-serif}"
    ".legend span{display:inline-block;width:.9em;height:.9em;margin:0 .3em 0 1em;vertical-align:middle}"
    "@page{size:A4 landscape;margin:12mm}"
    "@media print{body{margin:0;font-size:10px}h2{break-after:avoid}tr,svg{break-inside:avoid}"
    "th{background:#eee;-webkit-print-color-adjust:exact;print-color-adjust:exact}}"
)
_LGSP, _NGSP, _UP, _DOWN = "#1f6fb2", "#2e9b57", "#dff0e3", "#9a9a9a"
_LGSP_OUT, _NGSP_OUT = "#d1495b", "#e8a33d"
_LABEL, _PLOT = 150, 560  # chart label column and plot widths, in SVG units


def _share_bars(lines: Sequence[SystemLine]) -> str:
    """Horizontal bars of each system's LGSP and NGSP connected share, against the 100% target."""
    row = 24
    height = row * len(lines) + 24
    parts = [f"<svg viewBox='0 0 {_LABEL + _PLOT + 60} {height}' role='img' aria-label='Connected share'>"]
    for tick in (0, 25, 50, 75, 100):
        x = _LABEL + _PLOT * tick / 100
        parts.append(
            f"<line x1='{x:.1f}' y1='0' x2='{x:.1f}' y2='{height - 16}' stroke='#ccc'/>"
            f"<text x='{x:.1f}' y='{height - 4}' text-anchor='middle'>{tick}%</text>"
        )
    for i, line in enumerate(lines):
        y = i * row + 4
        parts.append(f"<text x='{_LABEL - 6}' y='{y + 13}' text-anchor='end'>{html.escape(line.code)}</text>")
        for offset, colour, figures in ((0, _LGSP, line.lgsp), (9, _NGSP, line.ngsp)):
            share = figures.share if figures is not None else None
            if share is None:
                continue
            parts.append(
                f"<rect x='{_LABEL}' y='{y + offset}' width='{_PLOT * share:.1f}' height='8' fill='{colour}'>"
                f"<title>{html.escape(line.code)}: {share:.1%}</title></rect>"
                f"<text x='{_LABEL + _PLOT * share + 4:.1f}' y='{y + offset + 8}'>{share:.1%}</text>"
            )
    parts.append("</svg>")
    return "".join(parts)


def _timeline(report: ConnectivityReport, lines: Sequence[SystemLine]) -> str:
    """One strip per system across the period: observed time, LGSP and NGSP outages, platform downtime."""
    t0, t1 = report.start.timestamp(), report.observed_until.timestamp()
    span = t1 - t0
    row = 18
    height = row * len(lines) + 26

    def x(at: datetime) -> float:
        return _LABEL + _PLOT * (min(max(at.timestamp(), t0), t1) - t0) / span

    parts = [f"<svg viewBox='0 0 {_LABEL + _PLOT + 60} {height}' role='img' aria-label='Outages'>"]
    for i in range(6):  # six date ticks, evenly spaced
        at = report.start + (report.observed_until - report.start) * i / 5
        parts.append(
            f"<line x1='{x(at):.1f}' y1='0' x2='{x(at):.1f}' y2='{height - 18}' stroke='#ddd'/>"
            f"<text x='{x(at):.1f}' y='{height - 5}' text-anchor='middle'>{at:%Y-%m-%d %H:%M}</text>"
        )
    by_code: dict[str, list[Outage]] = {}
    for outage in report.outages or []:
        by_code.setdefault(outage.code, []).append(outage)
    for i, line in enumerate(lines):
        y = i * row + 2
        alive_from = max(line.registered_at, report.start)
        alive_to = min(line.retired_at or report.observed_until, report.observed_until)
        parts.append(
            f"<text x='{_LABEL - 6}' y='{y + 11}' text-anchor='end'>{html.escape(line.code)}</text>"
            f"<rect x='{x(alive_from):.1f}' y='{y}' width='{x(alive_to) - x(alive_from):.1f}' "
            f"height='14' fill='{_UP}'/>"
        )
        for outage in by_code.get(line.code, []):
            # LGSP outages fill the strip; NGSP ones its lower half, so both show where they coincide.
            top, tall, colour = (y, 14, _LGSP_OUT) if outage.link is Link.LGSP else (y + 8, 6, _NGSP_OUT)
            left, width = x(outage.start), max(x(outage.end) - x(outage.start), 0.8)
            parts.append(
                f"<rect x='{left:.1f}' y='{top}' width='{width:.1f}' height='{tall}' fill='{colour}'"
                f" fill-opacity='.85'><title>{html.escape(line.code)} {outage.link.value} not connected"
                f" {outage.start:%Y-%m-%d %H:%M} to {outage.end:%Y-%m-%d %H:%M}"
                f" ({duration(outage.seconds)})</title></rect>"
            )
    for down in report.platform_downtime:
        parts.append(
            f"<rect x='{x(down.start):.1f}' y='0' width='{max(x(down.end) - x(down.start), 0.8):.1f}' "
            f"height='{height - 18}' fill='{_DOWN}' fill-opacity='.55'><title>platform down "
            f"{down.start:%Y-%m-%d %H:%M} to {down.end:%Y-%m-%d %H:%M}</title></rect>"
        )
    parts.append("</svg>")
    return "".join(parts)


def report_html(report: ConnectivityReport) -> str:
    """The report as a self-contained, printable HTML page with inline SVG charts."""
    p = report.province
    lines = [*report.systems, *report.exempt]
    parts = [
        "<h1>Connectivity report</h1>",
        f"<p>Period {report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M} UTC"
        f" (observed until {report.observed_until:%Y-%m-%d %H:%M}); generated"
        f" {report.generated_at:%Y-%m-%d %H:%M:%S} UTC.</p>",
        f"<p>In scope: {p.in_scope_systems} systems (exempt, listed apart and not counted:"
        f" {p.exempt_systems}). Time-weighted connected ratio: LGSP {_ratio(p.lgsp.ratio)},"
        f" NGSP {_ratio(p.ngsp.ratio)}, target {TARGET:.0%}. Platform downtime"
        f" {duration(p.platform_downtime_seconds)}, left out of every system's figures. Scope changes"
        f" asked for, made or decided in the period: {len(report.scope_changes)} (listed below).</p>",
    ]
    if lines and report.period_seconds > 0:
        parts += [
            "<h2>Connected share of observed time</h2><p class='legend'>",
            f"<span style='background:{_LGSP}'></span>LGSP<span style='background:{_NGSP}'></span>NGSP</p>",
            _share_bars(lines),
            "<h2>Outages</h2><p class='legend'>",
            f"<span style='background:{_UP}'></span>registered",
            f"<span style='background:{_LGSP_OUT}'></span>LGSP not connected",
            f"<span style='background:{_NGSP_OUT}'></span>NGSP not connected",
            f"<span style='background:{_DOWN}'></span>platform down</p>",
            _timeline(report, lines),
        ]
    return html_page("Connectivity report", _CSS, *parts, tables_html(_tables(report)))


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
