"""The dashboard page: one HTML document with inline CSS, every dynamic value escaped.

Rendering is a pure function of a `Dashboard` snapshot, so what the page shows is exactly what the
service functions behind `GET /api/v1/indicators` and `GET /api/v1/connectivity/systems` returned.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from lgsp.connectivity.models import SystemLinks
from lgsp.dashboard.assets import REFRESH_SECONDS, SCRIPT, STYLE
from lgsp.dashboard.format import bilingual, esc, percent
from lgsp.dashboard.groups import Groups, groups_section, level_label
from lgsp.indicators.models import Indicators, RatioIndicator
from schemas.common import Link

#: Times are shown in Vietnam's time zone (no daylight saving), the zone of the people who read the page.
VIETNAM = timezone(timedelta(hours=7), "UTC+7")


@dataclass(frozen=True, slots=True)
class Disconnection:
    """One recorded loss of a link, and whether that link is up again now."""

    code: str
    link: Link
    at: datetime
    reason: str
    restored: bool


@dataclass(frozen=True, slots=True)
class Dashboard:
    """Everything the page shows, read in one database session."""

    province: str
    indicators: Indicators
    systems: Sequence[SystemLinks]
    systems_total: int
    disconnections: Sequence[Disconnection]
    groups: Groups


def clock(at: datetime, now: datetime) -> str:
    """Local time of day for today's events, date and time for older ones."""
    local, today = at.astimezone(VIETNAM), now.astimezone(VIETNAM).date()
    return local.strftime("%H:%M:%S" if local.date() == today else "%Y-%m-%d %H:%M")


def elapsed(at: datetime, now: datetime) -> str:
    """A compact duration from `at` to `now`: `45s`, `3m 05s`, `2h 10m`, `4d 3h`."""
    seconds = max(0, int((now - at).total_seconds()))
    minutes, s = divmod(seconds, 60)
    hours, m = divmod(minutes, 60)
    days, h = divmod(hours, 24)
    if days:
        return f"{days}d {h}h"
    if hours:
        return f"{hours}h {m:02d}m"
    return f"{minutes}m {s:02d}s" if minutes else f"{s}s"


def moment(at: datetime | None, now: datetime) -> str:
    """A `<time>` element with the local clock and how long ago, or a dash for never."""
    if at is None:
        return '<span class="muted">—</span>'
    full = at.astimezone(VIETNAM).strftime("%Y-%m-%d %H:%M:%S UTC+7")
    return (
        f'<time datetime="{esc(at.isoformat())}" title="{esc(full)}">{esc(clock(at, now))}</time>'
        f" <small>{esc(elapsed(at, now))}</small>"
    )


def card(
    key: str,
    title: tuple[str, str],
    unit: tuple[str, str],
    counts: tuple[int, int],
    ratio: float | None,
    target: float,
    extra: str = "",
) -> str:
    """One indicator: ratio, numerator / denominator, a bar with the target marked, met or not."""
    state = "na" if ratio is None else "ok" if ratio >= target else "bad"
    verdict = {
        "ok": bilingual("Đạt", "met"),
        "bad": bilingual("Chưa đạt", "not met"),
        "na": bilingual("Chưa có số liệu", "no data"),
    }[state]
    fill = 0.0 if ratio is None else min(max(ratio, 0.0), 1.0) * 100
    mark = min(max(target, 0.0), 1.0) * 100
    data_ratio = "" if ratio is None else ratio
    # Numbers below are ints and floats formatted by us; everything textual goes through esc().
    return (
        f'<article class="kpi {state}" id="kpi-{esc(key)}" data-ratio="{esc(data_ratio)}">'
        f"<h3>{esc(title[0])}<small>{esc(title[1])}</small></h3>"
        f'<p class="value">{esc(percent(ratio))}</p><p class="state"><span class="pill">{verdict}</span></p>'
        f'<p class="frac"><b>{counts[0]} / {counts[1]}</b> {bilingual(*unit)}</p>'
        f'<div class="bar" role="img" aria-label="{esc(percent(ratio))} of a {mark:.0f}% target">'
        f'<i style="width:{fill:.1f}%"></i><b style="left:{mark:.1f}%"></b></div>'
        f'<p class="verdict">{bilingual("Mục tiêu", "target")} {target * 100:.0f}%</p>{extra}</article>'
    )


def once_only_card(
    key: str, title: tuple[str, str], unit: tuple[str, str], m: RatioIndicator, extra: str = ""
) -> str:
    """A once-only measure as a card."""
    return card(key, title, unit, (m.numerator, m.denominator), m.ratio, m.target, extra)


def indicator_cards(indicators: Indicators) -> str:
    """The two connectivity ratios and the three once-only ratios, in two groups."""
    lgsp, ngsp = indicators.connectivity.lgsp, indicators.connectivity.ngsp
    once = indicators.once_only
    systems = ("hệ thống trong phạm vi", "in-scope systems")
    points = "—" if once.reuse.points is None else f"{once.reuse.points:.2f}"
    connectivity = card(
        "lgsp",
        ("Kết nối qua LGSP", "connected through the provincial hub"),
        systems,
        (lgsp.connected, lgsp.in_scope),
        lgsp.ratio,
        lgsp.target,
    ) + card(
        "ngsp",
        ("Kết nối tới NDXP", "connected onward to the national platform (NDXP, formerly NGSP)"),
        systems,
        (ngsp.connected, ngsp.in_scope),
        ngsp.ratio,
        ngsp.target,
    )
    once_only = (
        once_only_card(
            "by-dossier",
            ("Hồ sơ không phải nộp lại", "dossiers with no re-submission"),
            ("hồ sơ", "dossiers"),
            once.by_dossier,
        )
        + once_only_card(
            "by-applicant",
            ("Người dân, doanh nghiệp không phải nộp lại", "applicants with no re-submission"),
            ("người nộp", "applicants"),
            once.by_applicant,
        )
        + once_only_card(
            "reuse",
            ("Khai thác, sử dụng lại dữ liệu", "reuse rate, Decision 766 (4.3)"),
            ("hồ sơ", "dossiers"),
            once.reuse,
            f'<p class="points">{bilingual("Điểm 766", "points")} '
            f"<b>{esc(points)} / {once.reuse.max_points:g}</b></p>",
        )
    )
    return (
        '<div class="groups">'
        f'<section class="group g2"><h2>{bilingual("Kết nối", "Connectivity")}</h2>'
        f'<div class="cards">{connectivity}</div></section>'
        f'<section class="group g3"><h2>{bilingual("Không phải nộp lại giấy tờ", "Once-only")}'
        f' <span class="en">· {bilingual("mọi hồ sơ", "all dossiers")}</span></h2>'
        f'<div class="cards">{once_only}</div></section></div>'
    )


def link_cell(connected: bool, since: datetime | None, now: datetime, applies: bool = True) -> str:
    """● or ○ for one link, with since when it has been so."""
    if not applies:
        return '<span class="dot na" title="not applicable (exempt)">○</span> <span class="muted">—</span>'
    dot = (
        '<span class="dot on" title="connected">●</span>'
        if connected
        else '<span class="dot off" title="not connected">○</span>'
    )
    return f"{dot} {moment(since, now)}"


def system_row(system: SystemLinks, now: datetime) -> str:
    """One row of the systems table."""
    if not system.lgsp_connected:
        why = system.lgsp_reason
    elif not system.ngsp_connected:
        why = system.ngsp_reason
    else:
        why = ""
    scope = (
        '<span class="badge">trong phạm vi · in scope</span>'
        if system.in_scope
        else '<span class="badge exempt">miễn trừ · exempt</span>'
    )
    down = system.in_scope and not (system.lgsp_connected and system.ngsp_connected)
    level_cell = level_label(system.level)
    row = '<tr class="down">' if down else "<tr>"
    lgsp = link_cell(system.lgsp_connected, system.lgsp_since, now)
    ngsp = link_cell(system.ngsp_connected, system.ngsp_since, now, applies=system.in_scope)
    return (
        f'{row}<td class="code">{esc(system.code)}</td><td>{esc(system.name)}</td>'
        f'<td class="nw">{esc(system.agency_code)}</td><td class="nw">{level_cell}</td><td>{scope}</td>'
        f'<td class="nw">{lgsp}</td><td class="nw">{ngsp}</td>'
        f'<td class="why">{esc(why)}</td></tr>'
    )


def systems_table(view: Dashboard, now: datetime) -> str:
    """The systems with their live status, and a one-line summary of the counts."""
    lgsp, ngsp = view.indicators.connectivity.lgsp, view.indicators.connectivity.ngsp
    summary = " · ".join(
        f"{bilingual(vi, en)}: <b>{count}</b>"
        for vi, en, count in (
            ("Trong phạm vi", "in scope", lgsp.in_scope),
            ("chưa kết nối LGSP", "not connected to the LGSP", lgsp.in_scope - lgsp.connected),
            ("chưa kết nối NDXP", "not connected to the NDXP", ngsp.in_scope - ngsp.connected),
            ("miễn trừ", "exempt", view.systems_total - lgsp.in_scope),
        )
    )
    head = "".join(
        f"<th>{bilingual(vi, en)}</th>"
        for vi, en in (
            ("Mã", "code"),
            ("Tên hệ thống", "name"),
            ("Cơ quan", "agency"),
            ("Cấp", "level"),
            ("Phạm vi", "scope"),
            ("LGSP", "since"),
            ("NDXP", "since"),
            ("Lý do chưa kết nối", "why not connected"),
        )
    )
    rows = "".join(system_row(s, now) for s in view.systems) or (
        f'<tr><td colspan="8" class="empty">{bilingual("Chưa có hệ thống nào", "no system registered")}'
        "</td></tr>"
    )
    more = ""
    if view.systems_total > len(view.systems):
        more = (
            f'<p class="note">{len(view.systems)} / {view.systems_total} · '
            f"{bilingual('danh sách đầy đủ', 'full list')}: <code>/api/v1/connectivity/systems</code></p>"
        )
    return (
        f'<section id="systems"><h2>{bilingual("Hệ thống thông tin, cơ sở dữ liệu", "Systems")}</h2>'
        f'<p class="summary">{summary}</p><div class="panel"><table><thead><tr>{head}</tr></thead>'
        f"<tbody>{rows}</tbody></table>{more}</div></section>"
    )


def disconnections_table(changes: Sequence[Disconnection], now: datetime) -> str:
    """The latest recorded losses of a link, newest first."""
    head = "".join(
        f"<th>{bilingual(vi, en)}</th>"
        for vi, en in (
            ("Thời điểm", "when"),
            ("Hệ thống", "system"),
            ("Kết nối", "link"),
            ("Lý do", "reason"),
            ("Hiện nay", "now"),
        )
    )
    rows = "".join(
        f'<tr><td>{moment(c.at, now)}</td><td class="code">{esc(c.code)}</td>'
        f"<td>{esc(c.link.value.upper())}</td><td>{esc(c.reason)}</td><td>"
        + (
            f'<span class="dot on">●</span> {bilingual("đã nối lại", "restored")}'
            if c.restored
            else f'<span class="dot off">○</span> {bilingual("vẫn mất", "still down")}'
        )
        + "</td></tr>"
        for c in changes
    ) or (
        f'<tr><td colspan="5" class="empty">{bilingual("Chưa ghi nhận lần mất kết nối nào", "none recorded")}'
        "</td></tr>"
    )
    return (
        f'<section id="disconnections"><h2>{bilingual("Mất kết nối gần đây", "Recent disconnections")}</h2>'
        f'<div class="panel"><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table></div>'
        "</section>"
    )


def links_panel() -> str:
    """Where the reports, the API and the metrics are, and what they need."""
    items = (
        ("/api/v1/reports/connectivity?format=html", "Báo cáo kết nối", "connectivity report", "key"),
        ("/api/v1/reports/once-only?format=html", "Báo cáo không nộp lại", "once-only report", "key"),
        ("/api/v1/indicators", "Chỉ số (JSON)", "indicators, public", ""),
        ("/docs", "Tài liệu API", "API docs", ""),
        ("/metrics", "Số liệu Prometheus", "Prometheus metrics", ""),
    )
    entries = "".join(
        f'<li><a href="{esc(href)}">{bilingual(vi, en)}</a>'
        + (' <span class="badge key">cần khóa · key</span>' if key else "")
        + "</li>"
        for href, vi, en, key in items
    )
    return (
        f'<section id="links"><h2>{bilingual("Báo cáo và dữ liệu", "Reports and data")}</h2>'
        f'<div class="panel links"><ul>{entries}</ul><p class="note">'
        f"{bilingual('Báo cáo cần khóa API của kiểm toán viên hoặc người vận hành.', 'Reports need an')}"
        ' <span class="en">auditor or operator key (<code>Authorization: Bearer …</code>), which a browser'
        " link does not send: use e.g. <code>curl -H 'Authorization: Bearer KEY' URL</code>.</span></p>"
        "</div></section>"
    )


def national_name() -> str:
    """The national platform as it is named today (NDXP), with the name the plan and older papers use."""
    return (
        f"{bilingual('Kết nối tới NDXP', 'onward to the NDXP')} · "
        f"{bilingual('Nền tảng tích hợp, chia sẻ dữ liệu quốc gia', 'national data-sharing platform')}"
        f' <span class="en">({bilingual("trước đây NGSP", "formerly NGSP")})</span>'
    )


def render(view: Dashboard) -> str:
    """The whole page."""
    now = view.indicators.as_of
    return (
        '<!doctype html><html lang="vi"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<noscript><meta http-equiv="refresh" content="{REFRESH_SECONDS}"></noscript>'
        f"<title>LGSP {esc(view.province)} · bảng điều khiển</title><style>{STYLE}</style></head><body>"
        '<div id="live"><header><div class="top"><div>'
        f"<h1>LGSP {esc(view.province)} · "
        f"{bilingual('Nền tảng tích hợp, chia sẻ dữ liệu', 'provincial data-sharing hub')}</h1>"
        f"<p>{bilingual('Kết nối và chỉ tiêu không nộp lại giấy tờ', 'connectivity and once-only')}</p>"
        f'<p class="national">{national_name()}</p>'
        '</div><div class="asof"><p>'
        f'{bilingual("Cập nhật", "as of")} <b><time datetime="{esc(now.isoformat())}">'
        f"{esc(now.astimezone(VIETNAM).strftime('%Y-%m-%d %H:%M:%S'))}</time></b> (UTC+7)</p>"
        f"<p>{bilingual('tự làm mới', 'refreshes every')} {REFRESH_SECONDS} s"
        f'<span class="stale-note">{bilingual("mất liên lạc với hub", "hub unreachable")}</span></p>'
        "</div></div></header><main>"
        f"{indicator_cards(view.indicators)}"
        f"{systems_table(view, now)}{groups_section(view.groups)}"
        f'<div class="split">{disconnections_table(view.disconnections, now)}{links_panel()}</div>'
        f"</main></div><script>{SCRIPT}</script></body></html>"
    )
