"""The connectivity report on a hand-made history with known outages: every share, outage, province ratio
and the platform downtime computed by hand below; the same figures in JSON, CSV and HTML; periods, roles
and the `lgsp report` command.

Systems, state changes, hub lives and exchange records are written straight into the hub's database
(SQLite and PostgreSQL), bypassing the bus, over the 10-day period [2025-03-01, 2025-03-11).
"""

import asyncio
import csv
import io
import json
import os
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlmodel import col, select

from lgsp.connectivity.models import HubUptime, LinkStateChange, SystemStatus
from lgsp.db import Database
from lgsp.exchange.models import ExchangeRecord, Outcome
from lgsp.registry.models import AdministrativeLevel, Agency, System, SystemKind
from lgsp.reports.connectivity_sql import quarter_start
from lgsp.reports.tables import duration
from schemas.common import Link
from tests.support import Hub, make_agency

REPORT = "/api/v1/reports/connectivity"
PERIOD = {"from": "2025-03-01", "to": "2025-03-11"}
DAY = 86_400.0
L, N = Link.LGSP, Link.NGSP


def at(month: int, day: int, hour: int = 0) -> datetime:
    return datetime(2025, month, day, hour, tzinfo=UTC)


def mar(day: int, hour: int = 0) -> datetime:
    return at(3, day, hour)


# Hub processes: (started, last seen, stopped). H0 lived before the period; H1 stopped cleanly on Mar 4
# at noon; H2 started on Mar 5 at noon and died after Mar 20 (never stopped, last beat long ago); H3 ran
# beside H2 on Mar 8. Platform up = [.., Mar 4 12:00) and [Mar 5 12:00, ..): one day of platform downtime,
# [Mar 4 12:00, Mar 5 12:00); H3 inside H2 adds nothing.
HUBS = [
    (datetime(2024, 12, 1, tzinfo=UTC), at(1, 15), at(1, 15)),
    (at(2, 1), mar(4, 12), mar(4, 12)),
    (mar(5, 12), mar(20), None),
    (mar(8), mar(9), mar(9)),
]
DOWNTIME = (mar(4, 12), mar(5, 12))

# code: (agency, kind, exempt, registered, retired, [(link, connected, at)]). Observed time is the
# system's life in the period less the day of platform downtime, where it falls within that life.
SYSTEMS: dict[str, tuple[str, SystemKind, bool, datetime, datetime | None, list[Any]]] = {
    # Connected on both links since January; a second hub wrote a redundant "connected" on Mar 8.
    # Observed 10 - 1 = 9 d; connected 9 d on both: shares 1, no outage.
    "CONG-DV": (
        "VP-UBND",
        SystemKind.INFORMATION_SYSTEM,
        False,
        at(1, 1),
        None,
        [(L, True, at(1, 2)), (N, True, at(1, 3)), (L, True, mar(8))],
    ),
    # Connected since Feb 20 (before the period); both links down on Mar 7, LGSP back on Mar 9 00:00,
    # NGSP on Mar 9 06:00 (a redundant "disconnected" on Mar 8 must not split that outage).
    # Observed 9 d. LGSP: [Mar 1, Mar 7) = 6 d less the 1 d downtime = 5 d, plus [Mar 9, Mar 11) = 2 d
    # -> 7 d, share 7/9; one outage of 2 d. NGSP: 5 d + [Mar 9 06:00, Mar 11) = 1.75 d -> 6.75 d,
    # share 0.75; one outage of 2.25 d = 194,400 s.
    "HO-TICH": (
        "SO-TP",
        SystemKind.DATABASE,
        False,
        at(1, 1),
        None,
        [
            (L, True, at(2, 20)),
            (N, True, at(2, 20)),
            (L, False, mar(7)),
            (N, False, mar(7)),
            (N, False, mar(8)),
            (L, True, mar(9)),
            (N, True, mar(9, 6)),
        ],
    ),
    # Registered mid-period on Mar 6: counts from then. Observed [Mar 6, Mar 11) = 5 d (after the
    # downtime). Disconnected until its first changes: LGSP up at 06:00 -> 4.75 d, share 0.95, one
    # outage of 6 h = 21,600 s; NGSP up at 12:00 -> 4.5 d, share 0.9, one outage of 12 h = 43,200 s.
    "DAT-DAI": (
        "SO-TP",
        SystemKind.DATABASE,
        False,
        mar(6),
        None,
        [(L, True, mar(6, 6)), (N, True, mar(6, 12))],
    ),
    # Retired on Mar 10: counts until then. Observed [Mar 1, Mar 10) = 9 d less the downtime = 8 d.
    # LGSP down [Mar 4, Mar 6), which spans the platform downtime: one outage of 2 - 1 = 1 d; connected
    # [Mar 1, Mar 4) = 3 d + [Mar 6, Mar 10) = 4 d -> 7 d, share 7/8. Never acknowledged by the NGSP (no
    # NGSP change at all): NGSP share 0, one outage over its whole observed time, 8 d = 691,200 s.
    "BHXH": (
        "BHXH-T",
        SystemKind.DATABASE,
        False,
        at(1, 1),
        mar(10),
        [(L, True, at(1, 2)), (L, False, mar(4)), (L, True, mar(6)), (L, False, mar(10))],
    ),
    # Exempt (state secret): listed apart, not counted, no NGSP figures. LGSP down from Feb 27 (before
    # the period) to Mar 2: the outage is clipped to [Mar 1, Mar 2) = 1 d; connected 9 - 1 = 8 d, 8/9.
    "AN-NINH": (
        "CONG-AN",
        SystemKind.INFORMATION_SYSTEM,
        True,
        at(1, 1),
        None,
        [(L, True, at(1, 2)), (L, False, at(2, 27)), (L, True, mar(2))],
    ),
    # Retired before the period, and registered after it: not in the report at all.
    "CU": ("SO-TP", SystemKind.DATABASE, False, at(1, 1), at(2, 1), [(L, True, at(1, 2))]),
    "MOI": ("SO-TP", SystemKind.DATABASE, False, mar(12), None, [(L, True, mar(12, 1))]),
}
# Levels (the rest are province systems): two commune systems, and BHXH, registered as a district system
# before districts were abolished on 1 July 2025 and still reported as one.
LEVELS = {
    "CONG-DV": AdministrativeLevel.COMMUNE,
    "DAT-DAI": AdministrativeLevel.COMMUNE,
    "BHXH": AdministrativeLevel.DISTRICT,
}
# code: (observed days, LGSP connected days, LGSP outages, longest LGSP outage in days, the same for NGSP
# or None for the exempt system)
EXPECTED: dict[str, tuple[float, float, int, float, tuple[float, int, float] | None]] = {
    "CONG-DV": (9, 9, 0, 0, (9, 0, 0)),
    "HO-TICH": (9, 7, 1, 2, (6.75, 1, 2.25)),
    "DAT-DAI": (5, 4.75, 1, 0.25, (4.5, 1, 0.5)),
    "BHXH": (8, 7, 1, 1, (0, 1, 8)),
    "AN-NINH": (9, 8, 1, 1, None),
}
IN_SCOPE = ["BHXH", "CONG-DV", "DAT-DAI", "HO-TICH"]  # by code
# Province, in-scope systems only: LGSP (9 + 7 + 4.75 + 7) / (9 + 9 + 5 + 8) = 27.75 / 31;
# NGSP (9 + 6.75 + 4.5 + 0) / 31 = 20.25 / 31.
PROVINCE = {"lgsp": (27.75, 31.0), "ngsp": (20.25, 31.0)}
# Groups, weighted as the province is: (group, in scope, exempt, LGSP and NGSP (connected, observed) days).
# Levels top down: province HO-TICH (AN-NINH exempt); district BHXH; commune CONG-DV and DAT-DAI, LGSP
# (9 + 4.75) / (9 + 5), NGSP (9 + 4.5) / 14. Agencies by code: SO-TP holds HO-TICH and DAT-DAI, LGSP
# (7 + 4.75) / (9 + 5), NGSP (6.75 + 4.5) / 14; CONG-AN only the exempt AN-NINH, so nothing observed.
BY_LEVEL = [
    ("province", 1, 1, (7, 9), (6.75, 9)),
    ("district", 1, 0, (7, 8), (0, 8)),
    ("commune", 2, 0, (13.75, 14), (13.5, 14)),
]
BY_AGENCY = [
    ("BHXH-T", 1, 0, (7, 8), (0, 8)),
    ("CONG-AN", 0, 1, (0, 0), (0, 0)),
    ("SO-TP", 2, 0, (11.75, 14), (11.25, 14)),
    ("VP-UBND", 1, 0, (9, 9), (9, 9)),
]
# Outages, by code, link and start: (code, link, start, end, counted days).
OUTAGES = [
    ("AN-NINH", "lgsp", mar(1), mar(2), 1.0),
    ("BHXH", "lgsp", mar(4), mar(6), 1.0),
    ("BHXH", "ngsp", mar(1), mar(10), 8.0),
    ("DAT-DAI", "lgsp", mar(6), mar(6, 6), 0.25),
    ("DAT-DAI", "ngsp", mar(6), mar(6, 12), 0.5),
    ("HO-TICH", "lgsp", mar(7), mar(9), 2.0),
    ("HO-TICH", "ngsp", mar(7), mar(9, 6), 2.25),
]

# Exchanges: (client, provider, request in). Those on Feb 28 23:59:59 and at Mar 11 00:00 (`to` is
# exclusive) are outside the period. Counted: CONG-DV as client 3 (to HO-TICH) + 2 (national) = 5, as
# provider 2 (from HO-TICH and AN-NINH); HO-TICH client 1, provider 3 + 1 (DAT-DAI) = 4; DAT-DAI client 1,
# provider 0; BHXH none; AN-NINH client 1.
EXCHANGES = [
    ("CONG-DV", "HO-TICH", mar(2)),
    ("CONG-DV", "HO-TICH", mar(7)),
    ("CONG-DV", "HO-TICH", mar(10, 23)),
    ("DAT-DAI", "HO-TICH", mar(8)),
    ("CONG-DV", "VN/DAN-CU", mar(3)),
    ("CONG-DV", "VN/DAN-CU", mar(3, 1)),
    ("HO-TICH", "CONG-DV", mar(5)),
    ("AN-NINH", "CONG-DV", mar(6)),
    ("CONG-DV", "HO-TICH", at(2, 28) + timedelta(hours=23, minutes=59, seconds=59)),
    ("CONG-DV", "HO-TICH", mar(11)),
]
EXCHANGE_COUNTS = {
    "CONG-DV": (5, 2),
    "HO-TICH": (1, 4),
    "DAT-DAI": (1, 0),
    "BHXH": (0, 0),
    "AN-NINH": (1, 0),
}
LAST_HEARTBEAT = {"CONG-DV": mar(20, 10), "HO-TICH": mar(10, 23)}


async def insert_history(database_url: str) -> None:
    """Write SYSTEMS, their changes and status, HUBS and EXCHANGES into the (migrated) hub database."""
    database = Database(database_url)
    try:
        async with database.sessions() as session:
            for agency in sorted({spec[0] for spec in SYSTEMS.values()}):
                session.add(Agency(code=agency, name=f"Agency {agency}"))
            await session.flush()
            for code, (agency, kind, exempt, registered, retired, changes) in SYSTEMS.items():
                system = System(
                    code=code,
                    name=f"System {code}",
                    agency_code=agency,
                    level=LEVELS.get(code, AdministrativeLevel.PROVINCE),
                    kind=kind,
                    exempt=exempt,
                    exempt_reason="state secret" if exempt else None,
                    created_at=registered,
                    updated_at=registered,
                    retired_at=retired,
                )
                session.add(system)
                await session.flush()
                assert system.id is not None
                session.add_all(
                    LinkStateChange(system_id=system.id, link=link, connected=up, at=when, reason="test")
                    for link, up, when in changes
                )
                if code in LAST_HEARTBEAT:
                    session.add(SystemStatus(system_id=system.id, last_heartbeat_at=LAST_HEARTBEAT[code]))
            session.add_all(
                HubUptime(instance_id=uuid4(), started_at=s, last_seen_at=seen, stopped_at=stop)
                for s, seen, stop in HUBS
            )
            session.add_all(
                ExchangeRecord(
                    id=str(uuid4()),
                    client=client,
                    provider=provider,
                    service="test.get",
                    request_in_at=when,
                    deadline=when + timedelta(seconds=5),
                    outcome=Outcome.SUCCESS,
                )
                for client, provider, when in EXCHANGES
            )
            await session.commit()
    finally:
        await database.dispose()


@pytest.fixture
async def loaded(hub: Hub) -> Hub:
    """The running hub (its lifespan migrated the schema) with the history above recorded."""
    await insert_history(hub.settings.database_url)
    return hub


async def get_report(hub: Hub, **params: str) -> dict[str, Any]:
    response = await hub.client.get(REPORT, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def hub_started(hub: Hub) -> datetime:
    """When the running hub process started, once it has recorded its first beat."""
    database = Database(hub.settings.database_url)
    try:
        for _ in range(100):
            async with database.sessions() as session:
                rows = (
                    await session.exec(select(HubUptime).where(col(HubUptime.started_at) > mar(20)))
                ).all()
            if rows:
                (uptime,) = rows
                return uptime.started_at
            await asyncio.sleep(0.1)
    finally:
        await database.dispose()
    raise AssertionError("the hub recorded no uptime")


def parse(value: str) -> datetime:
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def assert_days(seconds: float, days: float) -> None:
    assert seconds == pytest.approx(days * DAY, abs=0.01), (seconds, days * DAY)


# --- JSON ---------------------------------------------------------------------------------------------------


def check_json(report: dict[str, Any]) -> None:
    """Every figure of the report over PERIOD against the hand computation."""
    assert parse(report["start"]) == mar(1)
    assert parse(report["end"]) == parse(report["observed_until"]) == mar(11)
    assert_days(report["period_seconds"], 10)
    province = report["province"]
    assert (province["in_scope_systems"], province["exempt_systems"]) == (4, 1)
    assert_days(province["platform_downtime_seconds"], 1)
    assert [(parse(d["start"]), parse(d["end"])) for d in report["platform_downtime"]] == [DOWNTIME]
    assert_days(report["platform_downtime"][0]["seconds"], 1)
    for link, (connected, observed) in PROVINCE.items():
        assert_days(province[link]["connected_seconds"], connected)
        assert_days(province[link]["observed_seconds"], observed)
        assert province[link]["ratio"] == pytest.approx(connected / observed)
        assert province[link]["target"] == 1.0

    assert [s["code"] for s in report["systems"]] == IN_SCOPE
    assert [s["code"] for s in report["exempt"]] == ["AN-NINH"]
    for line in report["systems"] + report["exempt"]:
        code = line["code"]
        observed, connected, outages, longest, ngsp = EXPECTED[code]
        agency, kind, exempt, registered, retired, _ = SYSTEMS[code]
        level = LEVELS.get(code, AdministrativeLevel.PROVINCE)
        assert (line["agency_code"], line["kind"], line["level"]) == (agency, kind.value, level)
        assert line["in_scope"] is not exempt
        assert parse(line["registered_at"]) == registered
        assert (parse(line["retired_at"]) if line["retired_at"] else None) == retired
        assert_days(line["observed_seconds"], observed)
        assert_days(line["lgsp"]["connected_seconds"], connected)
        assert line["lgsp"]["share"] == pytest.approx(connected / observed)
        assert line["lgsp"]["outages"] == outages
        assert_days(line["lgsp"]["longest_outage_seconds"], longest)
        if ngsp is None:
            assert line["ngsp"] is None
        else:
            assert_days(line["ngsp"]["connected_seconds"], ngsp[0])
            assert line["ngsp"]["share"] == pytest.approx(ngsp[0] / observed)
            assert line["ngsp"]["outages"] == ngsp[1]
            assert_days(line["ngsp"]["longest_outage_seconds"], ngsp[2])
        heartbeat = LAST_HEARTBEAT.get(code)
        assert (parse(line["last_heartbeat_at"]) if line["last_heartbeat_at"] else None) == heartbeat
        assert (line["exchanges_as_client"], line["exchanges_as_provider"]) == EXCHANGE_COUNTS[code]

    got = [(o["code"], o["link"], parse(o["start"]), parse(o["end"])) for o in report["outages"]]
    assert got == [(code, link, start, end) for code, link, start, end, _ in OUTAGES]
    for outage, expected in zip(report["outages"], OUTAGES, strict=True):
        assert_days(outage["seconds"], expected[4])
    check_groups(report["by_level"], BY_LEVEL)
    check_groups(report["by_agency"], BY_AGENCY)


def check_groups(groups: list[dict[str, Any]], expected: list[tuple[Any, ...]]) -> None:
    """Groups of the JSON report against BY_LEVEL or BY_AGENCY, in their order."""
    assert [(g["group"], g["in_scope_systems"], g["exempt_systems"]) for g in groups] == [
        e[:3] for e in expected
    ]
    for group, (_, _, _, lgsp, ngsp) in zip(groups, expected, strict=True):
        for link, (connected, observed) in (("lgsp", lgsp), ("ngsp", ngsp)):
            assert_days(group[link]["connected_seconds"], connected)
            assert_days(group[link]["observed_seconds"], observed)
            assert group[link]["ratio"] == (pytest.approx(connected / observed) if observed else None)


async def test_report_json_matches_the_hand_computation(loaded: Hub) -> None:
    report = await get_report(loaded, **PERIOD, format="json", outages="true")
    check_json(report)
    assert parse(report["generated_at"]) > mar(11)
    # The default format is JSON, without the list of outages (the figures are the same).
    default = await get_report(loaded, **PERIOD)
    assert default["outages"] is None
    assert default | {"outages": report["outages"], "generated_at": ""} == report | {"generated_at": ""}


async def test_report_over_a_day_inside_the_outage(loaded: Hub) -> None:
    # Mar 7: HO-TICH down on both links all day, the others up, no platform downtime: province LGSP
    # (1 + 0 + 1 + 1) / 4. CONG-DV called HO-TICH once that day, at 00:00 (`from` is inclusive); DAT-DAI's
    # call at Mar 8 00:00 is out (`to` is exclusive).
    report = await get_report(loaded, **{"from": "2025-03-07", "to": "2025-03-08"})
    assert report["platform_downtime"] == []
    assert report["province"]["platform_downtime_seconds"] == 0
    assert report["province"]["lgsp"]["ratio"] == pytest.approx(0.75)
    assert report["province"]["ngsp"]["ratio"] == pytest.approx(2 / 4)  # BHXH never on the NGSP
    lines = {line["code"]: line for line in report["systems"]}
    assert lines["HO-TICH"]["lgsp"]["share"] == 0
    assert_days(lines["HO-TICH"]["lgsp"]["longest_outage_seconds"], 1)
    assert lines["CONG-DV"]["lgsp"]["share"] == pytest.approx(1)
    assert (lines["CONG-DV"]["exchanges_as_client"], lines["HO-TICH"]["exchanges_as_provider"]) == (1, 1)


async def test_the_default_period_is_the_current_quarter_so_far(loaded: Hub) -> None:
    started = await hub_started(loaded)
    before = datetime.now(UTC)
    report = await get_report(loaded)
    after = datetime.now(UTC)
    assert parse(report["start"]).date() == quarter_start(before.date())
    assert before <= parse(report["end"]) <= after
    # No hub since H2 died on Mar 20 until this test's hub started: platform downtime. The running hub is
    # up until now, though its last beat may be a moment old.
    assert abs(parse(report["platform_downtime"][-1]["end"]) - started) < timedelta(milliseconds=1)
    # Only `to`: the quarter it ends in. A `to` in the future: observed up to now.
    assert parse((await get_report(loaded, to="2025-03-11"))["start"]) == at(1, 1)
    future = await get_report(loaded, **{"from": "2025-03-01", "to": "2999-01-01"})
    assert parse(future["end"]).year == 2999
    assert parse(future["observed_until"]) <= datetime.now(UTC)


# --- CSV and HTML -------------------------------------------------------------------------------------------


def csv_sections(text: str) -> dict[str, list[dict[str, str]]]:
    """The report CSV as {section: rows as dicts}: each section starts with its own header row."""
    sections: dict[str, list[dict[str, str]]] = {}
    header: list[str] = []
    for row in csv.reader(io.StringIO(text)):
        if row[0] == "section":
            header = row
            continue
        assert len(row) == len(header), (header, row)
        sections.setdefault(row[0], []).append(dict(zip(header, row, strict=True)))
    return sections


async def test_report_csv_has_the_same_numbers(loaded: Hub) -> None:
    response = await loaded.client.get(REPORT, params={**PERIOD, "format": "csv", "outages": "true"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/csv")
    sections = csv_sections(response.text)
    assert set(sections) == {
        "period",
        "province",
        "platform_downtime",
        "by_level",
        "by_agency",
        "systems",
        "exempt_systems",
        "outages",
    }
    groupings = (("by_level", "level", BY_LEVEL), ("by_agency", "agency_code", BY_AGENCY))
    for section, column, groups in groupings:
        rows = sections[section]
        counts = [(r[column], int(r["in_scope_systems"]), int(r["exempt_systems"])) for r in rows]
        assert counts == [g[:3] for g in groups]
        for row, (_, _, _, lgsp_days, ngsp_days) in zip(rows, groups, strict=True):
            for link, (on, seen) in (("lgsp", lgsp_days), ("ngsp", ngsp_days)):
                assert_days(float(row[f"{link}_connected_seconds"]), on)
                ratio = row[f"{link}_ratio"]
                assert (float(ratio) if ratio else None) == (pytest.approx(on / seen) if seen else None)
    (period,) = sections["period"]
    assert (parse(period["start"]), parse(period["end"])) == (mar(1), mar(11))
    assert_days(float(period["platform_downtime_seconds"]), 1)
    assert (period["in_scope_systems"], period["exempt_systems"]) == ("4", "1")
    for row in sections["province"]:
        connected, observed = PROVINCE[row["link"]]
        assert float(row["ratio"]) == pytest.approx(connected / observed)
        assert_days(float(row["observed_seconds"]), observed)
    (down,) = sections["platform_downtime"]
    assert (parse(down["start"]), parse(down["end"])) == DOWNTIME
    assert [r["code"] for r in sections["systems"]] == IN_SCOPE
    for row in sections["systems"] + sections["exempt_systems"]:
        observed, connected, outages, longest, ngsp = EXPECTED[row["code"]]
        assert_days(float(row["observed_seconds"]), observed)
        assert float(row["lgsp_share"]) == pytest.approx(connected / observed)
        assert int(row["lgsp_outages"]) == outages
        assert_days(float(row["lgsp_longest_outage_seconds"]), longest)
        if ngsp is None:  # the exempt system: empty cells, not "None"
            assert row["ngsp_share"] == row["ngsp_longest_outage_seconds"] == ""
        else:
            assert float(row["ngsp_share"]) == pytest.approx(ngsp[0] / observed)
            assert_days(float(row["ngsp_longest_outage_seconds"]), ngsp[2])
        client, provider = EXCHANGE_COUNTS[row["code"]]
        assert (int(row["exchanges_as_client"]), int(row["exchanges_as_provider"])) == (client, provider)
    got = [(r["code"], r["link"], parse(r["start"]), parse(r["end"])) for r in sections["outages"]]
    assert got == [(code, link, start, end) for code, link, start, end, _ in OUTAGES]
    for row, expected in zip(sections["outages"], OUTAGES, strict=True):
        assert_days(float(row["seconds"]), expected[4])

    # Without `outages=true`: the same sections but the outage list.
    brief = csv_sections((await loaded.client.get(REPORT, params={**PERIOD, "format": "csv"})).text)
    assert set(brief) == set(sections) - {"outages"}
    assert brief["systems"] == sections["systems"]


def html_row(page: str, code: str) -> list[str]:
    """The cells of the table row that starts with `code` in the systems tables."""
    match = re.search(rf"<tr><td>{re.escape(code)}</td>(.*?)</tr>", page)
    assert match, code
    return re.findall(r"<td[^>]*>(.*?)</td>", match.group(1))


async def test_report_html_is_self_contained_printable_and_shows_the_numbers(loaded: Hub) -> None:
    response = await loaded.client.get(REPORT, params={**PERIOD, "format": "html"})
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/html")
    page = response.text
    assert page.lower().startswith("<!doctype html>")
    assert page.rstrip().endswith("</html>")
    assert "@media print" in page
    assert page.count("<svg") == 2  # the share bars and the outage timeline
    # Nothing fetched from elsewhere: no remote src/href/url(), no URL at all (inline SVG needs no xmlns).
    assert not re.search(r"""(?:src|href)\s*=""", page, re.IGNORECASE)
    assert "url(" not in page
    assert "http://" not in page and "https://" not in page
    # Province ratios (3 decimals) and the platform downtime (a duration).
    assert f"LGSP {27.75 / 31:.3f}" in page and f"NGSP {20.25 / 31:.3f}" in page
    assert "<td class='n'>1d 00:00:00</td>" in page
    for code, (observed, connected, outages, longest, ngsp) in EXPECTED.items():
        cells = html_row(page, code)
        # name, agency, level, kind, registered, retired, observed, LGSP x4, NGSP x4, heartbeat, exchanges
        assert cells[6] == duration(observed * DAY)
        assert cells[7:11] == [
            duration(connected * DAY),
            f"{connected / observed:.3f}",
            str(outages),
            duration(longest * DAY),
        ]
        if ngsp is None:
            assert cells[11:15] == ["", "", "", ""]
        else:
            assert cells[11:15] == [
                duration(ngsp[0] * DAY),
                f"{ngsp[0] / observed:.3f}",
                str(ngsp[1]),
                duration(ngsp[2] * DAY),
            ]
        assert cells[-2:] == [str(n) for n in EXCHANGE_COUNTS[code]]
        # Each system is drawn in both charts (its share bar titles, its timeline label).
        assert page.count(f">{code}</text>") == 2
    assert duration(2.25 * DAY) == "2d 06:00:00"


# --- validation and roles -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2025-03-11", "to": "2025-03-11"},  # an empty period is refused
        {"from": "2025-03-11", "to": "2025-03-01"},
        {"from": "2025-13-01"},
        {"format": "pdf"},
    ],
)
async def test_report_refuses_bad_periods_and_formats(loaded: Hub, params: dict[str, str]) -> None:
    response = await loaded.client.get(REPORT, params=params)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "client.bad_request"
    assert isinstance(error["message"], str) and error["message"]


async def test_only_admins_operators_and_auditors_read_it(hub: Hub) -> None:
    await make_agency(hub.client, "SO-TTTT")
    keys: dict[str, str] = {}
    for role in ("operator", "auditor", "integrator"):
        body = {"role": role, "label": f"a {role}"} | (
            {"agency_code": "SO-TTTT"} if role == "integrator" else {}
        )
        response = await hub.client.post("/api/v1/keys", json=body)
        assert response.status_code == 201, response.text
        keys[role] = response.json()["api_key"]
    for fmt in ("json", "csv", "html"):
        params = {"format": fmt}
        assert (await hub.client.get(REPORT, params=params)).status_code == 200  # admin
        for role in ("operator", "auditor"):
            response = await hub.client.get(REPORT, params=params, headers=hub.as_key(keys[role]))
            assert response.status_code == 200, (role, response.text)
        response = await hub.client.get(REPORT, params=params, headers=hub.as_key(keys["integrator"]))
        assert response.status_code == 403, response.text
        assert response.json()["error"]["code"] == "client.access_denied"
        response = await hub.client.get(REPORT, params=params, headers={"Authorization": ""})
        assert response.status_code == 401, response.text
        assert response.json()["error"]["code"] == "client.unauthenticated"


# --- the command line ---------------------------------------------------------------------------------------


async def lgsp_command(database_url: str, *args: str) -> tuple[int, str, str]:
    """Run the `lgsp` console script of this environment against `database_url`."""
    env = {**os.environ, "LGSP_DATABASE_URL": database_url}
    process = await asyncio.create_subprocess_exec(
        str(Path(sys.executable).with_name("lgsp")),
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    return process.returncode or 0, out.decode(), err.decode()


async def test_the_cli_writes_the_same_report(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'lgsp.db'}"
    database = Database(url)
    await database.migrate()
    await database.dispose()
    await insert_history(url)

    code, out, err = await lgsp_command(
        url, "report", "connectivity", "--from", "2025-03-01", "--to", "2025-03-11", "--outages"
    )
    assert code == 0, err
    check_json(json.loads(out))

    target = tmp_path / "report.csv"
    code, out, err = await lgsp_command(
        url,
        "report",
        "connectivity",
        "--from",
        "2025-03-01",
        "--to",
        "2025-03-11",
        "-f",
        "csv",
        "-o",
        str(target),
    )
    assert code == 0, err
    assert out == ""
    sections = csv_sections(target.read_text(encoding="utf-8"))
    assert [r["code"] for r in sections["systems"]] == IN_SCOPE

    code, out, err = await lgsp_command(url, "report", "once-only", "--format", "csv")
    assert code == 0, err
    assert out.startswith("section,measure,")

    code, out, err = await lgsp_command(
        url, "report", "connectivity", "--from", "2025-03-11", "--to", "2025-03-01"
    )
    assert code != 0
    assert "before it starts" in err
