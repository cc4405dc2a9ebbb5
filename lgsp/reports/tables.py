"""The one table type both reports render through: titled tables, written as one CSV (a `section`
column names each row's table) or as HTML tables, so CSV and HTML always show the same figures; and the
self-contained HTML page the tables are printed in."""

import csv
import html
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True, slots=True)
class Table:
    """A titled table: `section` names it in CSV and heads it in HTML."""

    section: str
    columns: Sequence[str]
    rows: Sequence[Sequence[Any]]


#: How a text cell may start that a spreadsheet reads as a formula (OWASP's list for CSV injection): a
#: system named `=HYPERLINK(...)` would run in the auditor's spreadsheet.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_text(text: str) -> str:
    """`text` as a spreadsheet shows it and never runs it: behind a single quote when it starts like a
    formula (OWASP's neutralisation; the quote is shown by some spreadsheets, and is the price of it)."""
    return f"'{text}" if text.startswith(FORMULA_STARTS) else text


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):  # StrEnum values too: only text is neutralised
        return csv_text(value)
    # Numbers the reports compute are written as numbers, negative ones included: `-3` in a number
    # column is a number to a spreadsheet, not a formula.
    return value


def tables_csv(tables: Iterable[Table]) -> str:
    """The tables as one CSV: each table's header row, then its rows, all behind a `section` column.

    Every text cell (headings and section names too) that starts like a formula is neutralised by
    `csv_text`; numbers stay numbers."""
    out = io.StringIO()
    writer = csv.writer(out)
    for table in tables:
        writer.writerow([csv_text(c) for c in ("section", *table.columns)])
        section = csv_text(table.section)
        writer.writerows([[section, *(_csv_value(v) for v in row)] for row in table.rows])
    return out.getvalue()


def duration(seconds: float) -> str:
    """`[Nd ]HH:MM:SS`, to the second: how the HTML pages show a length of time."""
    whole = round(seconds)
    days, rest = divmod(whole, 86400)
    text = f"{rest // 3600:02d}:{rest % 3600 // 60:02d}:{rest % 60:02d}"
    return f"{days}d {text}" if days else text


def _heading(column: str) -> str:
    # Lengths of time show as durations, so their headings drop the unit.
    return "duration" if column == "seconds" else column.removesuffix("_seconds").replace("_", " ")


def _cell(column: str, value: Any) -> str:
    if value is None:
        return "<td></td>"
    if isinstance(value, bool):
        return f"<td>{'yes' if value else 'no'}</td>"
    if column.endswith("seconds"):
        return f"<td class='n'>{duration(float(value))}</td>"
    if isinstance(value, float):
        return f"<td class='n'>{value:.3f}</td>"
    if isinstance(value, int):
        return f"<td class='n'>{value}</td>"
    if isinstance(value, datetime):
        return f"<td>{value:%Y-%m-%d %H:%M:%S}</td>"
    return f"<td>{html.escape(str(value))}</td>"


def tables_html(tables: Iterable[Table], *, raw_headings: bool = False) -> str:
    """The tables as HTML, each under an `<h2>` of its section: numbers right-aligned, lengths of time
    (columns ending in `seconds`) as durations, every text escaped.

    Columns are headed readably (`observed until`; `duration` for `seconds`), or by their CSV names as
    they are with `raw_headings`."""
    parts: list[str] = []
    for table in tables:
        headings = table.columns if raw_headings else [_heading(c) for c in table.columns]
        parts.append(f"<h2>{html.escape(table.section.replace('_', ' '))}</h2><table><tr>")
        parts.extend(f"<th>{html.escape(h)}</th>" for h in headings)
        parts.append("</tr>")
        parts.extend(
            "<tr>" + "".join(_cell(c, v) for c, v in zip(table.columns, row, strict=True)) + "</tr>"
            for row in table.rows
        )
        parts.append("</table>")
    return "".join(parts)


def html_page(title: str, style: str, *body: str) -> str:
    """A self-contained HTML page titled `title`, with its style sheet inline, around `body`."""
    return (
        f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>"
    )
