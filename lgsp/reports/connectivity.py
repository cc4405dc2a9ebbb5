"""The connectivity report for a period: each system's connected share of time on both links, its
outages and exchanges, the province's time-weighted ratios, and platform downtime
(docs/architecture/definitions.md).

Definitions, for a period [start, end) of UTC days (`end` is never later than now):

- **Platform up** is the union of the hub processes' lives in `hub_uptime`: from `started_at` to
  `stopped_at` (a clean stop) or, for a process that died, its last beat `last_seen_at`; a process that
  beat within the last few evaluation intervals is taken to be up until now. **Platform downtime** is
  the rest of the period: no hub was running, so nobody could see the systems, and it is left out of
  every system's figures and shown apart.
- A system is **observed** from `max(start, created_at)` to `min(end, retired_at)`, minus platform
  downtime. Its state on a link at any instant is that of the link's last change at or before it
  (changes before the period count), and disconnected before its first change.
- Its **connected share** on a link is connected time / observed time. An **outage** is a maximal
  stretch of not-connected time (consecutive changes to the same state are merged), clipped to the
  observed span; its length counts platform-up time only, so an outage spanning platform downtime is
  one outage, shortened by it. An exempt system is never linked to the NGSP: it has no NGSP figures.
- The province's **time-weighted ratio** per link is the sum of connected time over the sum of
  observed time across in-scope systems, against the target 1.0.
- **Exchanges** as client and as provider count the operational-monitoring records whose request
  reached the hub in [start, end).
- **Scope changes** are the exemptions, returns into scope and retirements asked for, made or decided in
  [start, end) (lgsp/registry/scope.py), pending and rejected ones included, in the order asked. A
  system's scope in the figures is the one it has now: the list says when and why it changed.

Everything is computed by the database: window functions (LAG, LEAD, running MAX/SUM) turn the state
changes and hub lives into intervals, and GROUP BY sums them per system, on SQLite (3.35 or later) and
PostgreSQL alike; instants are taken to the millisecond on both. Python receives one row per system
(with its outages, when they are asked for) and per stretch of platform downtime: the state changes
before the period are not read at all, only each link's last one, through the (system, link, at) index.
"""

import asyncio
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import TypeAdapter
from sqlalchemy.ext.asyncio import AsyncConnection

from lgsp.db import Database
from lgsp.registry.models import AdministrativeLevel, ScopeRequest, System
from lgsp.reports.connectivity_sql import (
    Period,
    at_epoch,
    connectivity_queries,
    exchange_counts,
    report_period,
    rounded_seconds,
)
from lgsp.reports.models import (
    ConnectivityReport,
    GroupLine,
    Interval,
    Province,
    ProvinceLink,
    ScopeChangeLine,
    SystemLine,
)
from lgsp.settings import Settings
from schemas.common import Link, utcnow

_LINES = TypeAdapter(list[SystemLine])

#: A hub process that beat this many evaluation intervals ago (at least HUB_GRACE_FLOOR) is still up.
HUB_GRACE_BEATS = 5
HUB_GRACE_FLOOR = timedelta(seconds=30)


def _link(figures: sa.RowMapping | None, observed: float) -> dict[str, Any]:
    """A system's figures on one link (`LinkFigures`) from its row (none: nothing observed)."""
    connected = rounded_seconds(figures["connected"] if figures else 0.0)
    return {
        "connected_seconds": connected,
        "share": connected / observed if observed > 0 else None,
        "outages": int(figures["outages"] if figures else 0),
        "longest_outage_seconds": rounded_seconds(figures["longest"] if figures else 0.0),
    }


def _province_link(lines: Iterable[SystemLine], link: Link) -> ProvinceLink:
    connected = observed = 0.0
    for line in lines:
        figures = line.lgsp if link is Link.LGSP else line.ngsp
        if figures is not None:
            connected += figures.connected_seconds
            observed += line.observed_seconds
    return ProvinceLink(
        connected_seconds=rounded_seconds(connected),
        observed_seconds=rounded_seconds(observed),
        ratio=connected / observed if observed > 0 else None,
    )


#: Levels top down; `district` is only found on systems registered before 1 July 2025.
LEVEL_ORDER = {level.value: rank for rank, level in enumerate(AdministrativeLevel)}


def groups(lines: Sequence[SystemLine], key: Callable[[SystemLine], str]) -> list[GroupLine]:
    """The systems grouped by `key`, each group's in-scope systems weighted as the province's are."""
    grouped: dict[str, list[SystemLine]] = {}
    for line in lines:
        grouped.setdefault(key(line), []).append(line)
    result = []
    for name, members in grouped.items():
        in_scope = [line for line in members if line.in_scope]
        result.append(
            GroupLine(
                group=name,
                in_scope_systems=len(in_scope),
                exempt_systems=len(members) - len(in_scope),
                lgsp=_province_link(in_scope, Link.LGSP),
                ngsp=_province_link(in_scope, Link.NGSP),
            )
        )
    return result


def level_groups(lines: Sequence[SystemLine]) -> list[GroupLine]:
    """By administrative level, top down (a level no enum knows goes last)."""
    found = groups(lines, lambda line: line.level)
    return sorted(found, key=lambda g: (LEVEL_ORDER.get(g.group, len(LEVEL_ORDER)), g.group))


async def scope_changes(conn: AsyncConnection, period: Period) -> list[ScopeChangeLine]:
    """The scope changes asked for, made or decided in the period, in the order they were asked."""
    request, system = sa.inspect(ScopeRequest).local_table, sa.inspect(System).local_table

    def within(at: sa.ColumnElement[Any]) -> sa.ColumnElement[bool]:
        return sa.and_(at >= period.start, at < period.end)

    rows = await conn.execute(
        sa.select(request, system.c.code, system.c.agency_code)
        .join(system, system.c.id == request.c.system_id)
        .where(sa.or_(within(request.c.requested_at), within(request.c.decided_at)))
        .order_by(request.c.requested_at, request.c.id)
    )
    return [ScopeChangeLine.model_validate(dict(row)) for row in rows.mappings()]


def hub_grace(settings: Settings) -> timedelta:
    """How recently a hub process must have beaten to count as up until now."""
    return max(HUB_GRACE_FLOOR, timedelta(seconds=HUB_GRACE_BEATS * settings.evaluate_interval))


async def connectivity_report(
    database: Database,
    settings: Settings,
    start: date | None,
    end: date | None,
    *,
    outages: bool = False,
    now: datetime | None = None,
) -> ConnectivityReport:
    """Compute the report for [start, end) (defaults: see `report_period`), with every outage listed
    when `outages` is set.

    The exchange counts, the systems and their figures on each link are independent scans: they run at
    once, each on its own connection.
    """
    now = now or utcnow()
    period = report_period(start, end, now)
    queries = connectivity_queries(period, now - hub_grace(settings), now, outages=outages)

    async def exchanges() -> tuple[dict[str, int], dict[str, int], list[ScopeChangeLine]]:
        async with database.engine.connect() as conn:
            return *await exchange_counts(conn, period), await scope_changes(conn, period)

    async def fetch(*statements: sa.Select[Any]) -> list[list[sa.RowMapping]]:
        async with database.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                # PostgreSQL would JIT-compile these large plans for longer than they then run.
                await conn.exec_driver_sql("SET LOCAL jit = off")
            return [list((await conn.execute(statement)).mappings()) for statement in statements]

    (as_client, as_provider, changes), (gaps, rows), (lgsp,), (ngsp,) = await asyncio.gather(
        exchanges(),
        fetch(queries.downtime, queries.systems),
        fetch(queries.links[Link.LGSP]),
        fetch(queries.links[Link.NGSP]),
    )
    on_link = {
        Link.LGSP: {row["system_id"]: row for row in lgsp},
        Link.NGSP: {row["system_id"]: row for row in ngsp},
    }
    # Lines and outages stay plain data until they are validated all at once: there are 10,000s of them,
    # and building each as a model on its own would cost more than computing them.
    unchecked: list[dict[str, Any]] = []
    found: list[tuple[str, str, float, float, float]] = []
    for row in rows:
        code, exempt = row["code"], bool(row["exempt"])
        observed = rounded_seconds(row["observed"])
        # An exempt system is not linked to the NGSP by design: no figures, and no outages there.
        figures = {link: on_link[link].get(row["id"]) for link in ([Link.LGSP] if exempt else Link)}
        unchecked.append(
            {
                "code": code,
                "name": row["name"],
                "agency_code": row["agency_code"],
                "level": str(row["level"]),
                "kind": str(row["kind"]),
                "in_scope": not exempt,
                "registered_at": row["created_at"],
                "retired_at": row["retired_at"],
                "observed_seconds": observed,
                "lgsp": _link(figures[Link.LGSP], observed),
                "ngsp": None if exempt else _link(figures[Link.NGSP], observed),
                "last_heartbeat_at": row["last_heartbeat_at"],
                "exchanges_as_client": as_client.get(code, 0),
                "exchanges_as_provider": as_provider.get(code, 0),
            }
        )
        if outages:
            found.extend(
                (code, link.value, s, e, seconds)
                for link, got in figures.items()
                if got is not None
                for s, e, seconds in got["detail"] or []
            )
    # Sorted here, not by the database: collations differ between SQLite and PostgreSQL.
    unchecked.sort(key=lambda line: str(line["code"]))
    lines = _LINES.validate_python(unchecked)
    found.sort()
    in_scope = [line for line in lines if line.in_scope]
    downtime = [
        Interval(start=at_epoch(d["s"]), end=at_epoch(d["e"]), seconds=rounded_seconds(d["e"] - d["s"]))
        for d in gaps
    ]
    return ConnectivityReport(
        generated_at=now,
        start=period.start,
        end=period.end,
        observed_until=period.until,
        period_seconds=rounded_seconds((period.until - period.start).total_seconds()),
        province=Province(
            in_scope_systems=len(in_scope),
            exempt_systems=len(lines) - len(in_scope),
            lgsp=_province_link(in_scope, Link.LGSP),
            ngsp=_province_link(in_scope, Link.NGSP),
            platform_downtime_seconds=rounded_seconds(sum(d.seconds for d in downtime)),
        ),
        platform_downtime=downtime,
        systems=in_scope,
        exempt=[line for line in lines if not line.in_scope],
        by_level=level_groups(lines),
        # Sorted here, not by the database, like the lines: collations differ.
        by_agency=sorted(groups(lines, lambda line: line.agency_code), key=lambda g: g.group),
        outages=[
            {"code": code, "link": link, "start": s, "end": e, "seconds": rounded_seconds(seconds)}
            for code, link, s, e, seconds in found
        ]
        if outages
        else None,
        scope_changes=changes,
    )
