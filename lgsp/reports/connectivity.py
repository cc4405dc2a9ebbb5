"""The connectivity report for a period: each system's connected share of time on both links, its
outages and exchanges, the province's time-weighted ratios, and platform downtime (DESIGN.md section 5).

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

Everything is computed by the database: window functions (LAG, LEAD, running MAX/SUM) turn the state
changes and hub lives into intervals, and GROUP BY sums them per system, on SQLite (3.35 or later) and
PostgreSQL alike; instants are taken to the millisecond on both. Python receives one row per system
(with its outages, when they are asked for) and per stretch of platform downtime: the state changes
before the period are not read at all, only each link's last one, through the (system, link, at) index.
"""

import asyncio
import csv
import html
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from pydantic import BaseModel, Field, TypeAdapter
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from lgsp.connectivity.models import HubUptime, LinkStateChange, SystemStatus
from lgsp.db import Database
from lgsp.exchange.models import ExchangeRecord
from lgsp.registry.models import System
from lgsp.settings import Settings
from schemas.common import Link, utcnow

#: The plan's target for both links.
TARGET = 1.0
#: A hub process that beat this many evaluation intervals ago (at least HUB_GRACE_FLOOR) is still up.
HUB_GRACE_BEATS = 5
HUB_GRACE_FLOOR = timedelta(seconds=30)


# -- portable SQL pieces ------------------------------------------------------------------------------


class _Epoch(FunctionElement[float]):
    """Seconds since 1970 of a UTC timestamp column, as a float."""

    type = sa.Float()
    inherit_cache = True


# Instants are rounded to the millisecond, the resolution of SQLite's date functions, so that both
# databases give the same figures.


@compiles(_Epoch, "sqlite")
def _epoch_sqlite(element: _Epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps naive-UTC text (see UTCDateTime); julianday() reads it, 2440587.5 is 1970-01-01.
    return f"round((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0, 3)"


@compiles(_Epoch, "postgresql")
def _epoch_postgresql(element: _Epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # date_part() stays in double precision, where EXTRACT() would compute in (slow) numeric.
    return f"(round(date_part('epoch', {compiler.process(element.clauses, **kw)}) * 1000.0) / 1000.0)"


class _Greatest(FunctionElement[float]):
    type = sa.Float()
    inherit_cache = True


class _Least(FunctionElement[float]):
    type = sa.Float()
    inherit_cache = True


@compiles(_Greatest)
def _greatest(element: _Greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"GREATEST({compiler.process(element.clauses, **kw)})"


@compiles(_Greatest, "sqlite")
def _greatest_sqlite(element: _Greatest, compiler: SQLCompiler, **kw: Any) -> str:
    return f"max({compiler.process(element.clauses, **kw)})"  # the scalar, multi-argument max()


@compiles(_Least)
def _least(element: _Least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"LEAST({compiler.process(element.clauses, **kw)})"


@compiles(_Least, "sqlite")
def _least_sqlite(element: _Least, compiler: SQLCompiler, **kw: Any) -> str:
    return f"min({compiler.process(element.clauses, **kw)})"


class _Unindexed(FunctionElement[Any]):
    """A column SQLite may not use an index for (its unary `+`); the column itself elsewhere."""

    inherit_cache = True

    def __init__(self, column: sa.ColumnElement[Any]) -> None:
        super().__init__(column)
        self.type = column.type  # comparisons bind their values as the column does


@compiles(_Unindexed)
def _unindexed(element: _Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.clauses, **kw)


@compiles(_Unindexed, "sqlite")
def _unindexed_sqlite(element: _Unindexed, compiler: SQLCompiler, **kw: Any) -> str:
    return f"+{compiler.process(element.clauses, **kw)}"


class _JsonRows(FunctionElement[Any]):
    """Aggregate: a JSON array with one array of the arguments per row (for a few detail rows per group)."""

    type = sa.JSON()
    inherit_cache = True


@compiles(_JsonRows, "sqlite")
def _json_rows_sqlite(element: _JsonRows, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_group_array(json_array({compiler.process(element.clauses, **kw)}))"


@compiles(_JsonRows, "postgresql")
def _json_rows_postgresql(element: _JsonRows, compiler: SQLCompiler, **kw: Any) -> str:
    return f"json_agg(json_build_array({compiler.process(element.clauses, **kw)}))"


def _overlap(s1: Any, e1: Any, s2: Any, e2: Any) -> sa.ColumnElement[float]:
    """Length of [s1, e1) ∩ [s2, e2), for intervals already known to overlap."""
    return _Least(e1, e2) - _Greatest(s1, s2)


# -- the report's shape -------------------------------------------------------------------------------


class Interval(BaseModel):
    start: datetime
    end: datetime
    seconds: float = Field(description="Length in seconds (for an outage: platform-up time only)")


class Outage(Interval):
    """A stretch of one system's link not connected, clipped to the period and the system's life."""

    code: str
    link: Link


class LinkFigures(BaseModel):
    """One system's one link over the period."""

    connected_seconds: float
    share: float | None = Field(description="Connected / observed time; null when never observed")
    outages: int
    longest_outage_seconds: float = Field(description="0 when there was no outage")


class SystemLine(BaseModel):
    code: str
    name: str
    agency_code: str
    level: str
    kind: str
    in_scope: bool
    registered_at: datetime
    retired_at: datetime | None
    observed_seconds: float = Field(description="Time in the period it existed, less platform downtime")
    lgsp: LinkFigures
    ngsp: LinkFigures | None = Field(description="null for an exempt system: never linked to the NGSP")
    last_heartbeat_at: datetime | None
    exchanges_as_client: int
    exchanges_as_provider: int


class ProvinceLink(BaseModel):
    """Time-weighted connected ratio of the in-scope systems on one link."""

    connected_seconds: float
    observed_seconds: float
    ratio: float | None = Field(description="null while nothing in scope was observed")
    target: float = TARGET


class Province(BaseModel):
    in_scope_systems: int
    exempt_systems: int
    lgsp: ProvinceLink
    ngsp: ProvinceLink
    platform_downtime_seconds: float


class ConnectivityReport(BaseModel):
    """The connectivity report of DESIGN.md section 8 for [start, end)."""

    generated_at: datetime
    start: datetime
    end: datetime
    observed_until: datetime = Field(description="min(end, now): time after now is not counted")
    period_seconds: float
    province: Province
    platform_downtime: list[Interval]
    systems: list[SystemLine] = Field(description="In-scope systems that existed during the period")
    exempt: list[SystemLine] = Field(description="Exempt systems: listed, not counted")
    outages: list[Outage] | None = Field(
        description="Every outage, by system, link and start, when asked for (`outages=true`; they can be "
        "100,000s); null otherwise"
    )


# -- computing it -------------------------------------------------------------------------------------

_LINES = TypeAdapter(list[SystemLine])


@dataclass(frozen=True, slots=True)
class Period:
    """A report period as instants: [start, end), observed up to `until` (not after now)."""

    start: datetime
    end: datetime
    until: datetime


def quarter_start(day: date) -> date:
    """The first day of `day`'s calendar quarter."""
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def report_period(start: date | None, end: date | None, now: datetime) -> Period:
    """The period for `from`/`to` days (UTC): `to` defaults to now, `from` to the first day of the
    quarter the period ends in (so both omitted mean the current quarter so far)."""
    end_at = _midnight(end) if end is not None else now
    if start is None:
        start = quarter_start((end_at - timedelta(microseconds=1)).date())
    start_at = _midnight(start)
    return Period(start_at, end_at, max(start_at, min(end_at, now)))


def _epoch(value: datetime) -> float:
    return round(value.timestamp(), 3)  # to the millisecond, like the instants the database reads


def _at(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


def _seconds(value: float | None) -> float:
    """Lengths of time to the millisecond, like instants (float sums carry noise below it)."""
    return round(float(value or 0.0), 3)


@dataclass(frozen=True, slots=True)
class _Queries:
    systems: sa.Select[Any]
    links: dict[Link, sa.Select[Any]]
    downtime: sa.Select[Any]


def _queries(period: Period, hub_alive_since: datetime, now: datetime, *, outages: bool) -> _Queries:
    """The report's queries (see the module docstring for the definitions): each system with its
    observed time, its figures on each link (with `outages`, also every outage as a JSON array of
    [start, end, seconds]), and the stretches of platform downtime."""
    p0 = sa.cast(sa.bindparam("p0", _epoch(period.start), type_=sa.Float), sa.Float)
    p1 = sa.cast(sa.bindparam("p1", _epoch(period.until), type_=sa.Float), sa.Float)
    system = sa.inspect(System).local_table
    change = sa.inspect(LinkStateChange).local_table
    hub = sa.inspect(HubUptime).local_table
    status = sa.inspect(SystemStatus).local_table

    # Each system's life within the period.
    life = (
        sa.select(
            system.c.id.label("system_id"),
            _Greatest(_Epoch(system.c.created_at), p0).label("ls"),
            _Least(sa.func.coalesce(_Epoch(system.c.retired_at), p1), p1).label("le"),
        )
        .where(
            system.c.created_at < period.until,
            sa.or_(system.c.retired_at.is_(None), system.c.retired_at > period.start),
        )
        .cte("life")
    )

    # Platform up: hub lives clipped to the period, merged where they overlap (gaps and islands).
    hub_end = sa.case(
        (hub.c.stopped_at.is_not(None), _Epoch(hub.c.stopped_at)),
        (hub.c.last_seen_at >= hub_alive_since, _epoch(now)),
        else_=_Epoch(hub.c.last_seen_at),
    )
    lives = (
        sa.select(
            _Greatest(_Epoch(hub.c.started_at), p0).label("s"),
            _Least(hub_end, p1).label("e"),
        )
        .where(hub.c.started_at < period.until)
        .cte("lives")
    )
    in_order = (lives.c.s, lives.c.e)
    reach = (
        sa.select(
            lives.c.s,
            lives.c.e,
            sa.func.max(lives.c.e).over(order_by=in_order, rows=(None, -1)).label("reach"),
        )
        .where(lives.c.e > lives.c.s)
        .cte("reach")
    )
    new_island = sa.case((sa.or_(reach.c.reach.is_(None), reach.c.s > reach.c.reach), 1), else_=0)
    islands = sa.select(
        reach.c.s,
        reach.c.e,
        sa.func.sum(new_island).over(order_by=(reach.c.s, reach.c.e), rows=(None, 0)).label("island"),
    ).cte("islands")
    up = (
        sa.select(sa.func.min(islands.c.s).label("s"), sa.func.max(islands.c.e).label("e"))
        .group_by(islands.c.island)
        .cte("up")
    )
    # Platform downtime: the gap before each up stretch, and before a sentinel at the period's end.
    bounds = sa.union_all(sa.select(up.c.s, up.c.e), sa.select(p1.label("s"), p1.label("e"))).cte("bounds")
    gaps = sa.select(
        sa.func.coalesce(sa.func.lag(bounds.c.e).over(order_by=bounds.c.s), p0).label("s"),
        bounds.c.s.label("e"),
    ).cte("gaps")
    # MATERIALIZED: computed once, not again in every correlated subquery that reads it.
    down = sa.select(gaps.c.s, gaps.c.e).where(gaps.c.e > gaps.c.s).cte("down").prefix_with("MATERIALIZED")

    def up_time(
        s: sa.ColumnElement[Any], e: sa.ColumnElement[Any], of: sa.FromClause
    ) -> sa.ColumnElement[Any]:
        """Length of [s, e) less the platform downtime in it (a few rows: a correlated subquery)."""
        lost = (
            sa.select(sa.func.coalesce(sa.func.sum(_overlap(s, e, down.c.s, down.c.e)), 0.0))
            .where(down.c.s < e, down.c.e > s)
            .correlate(of)
            .scalar_subquery()
        )
        return e - s - lost

    def link_figures(link: Link) -> sa.Select[Any]:
        """Per system: connected time, outages and the longest one (with `outages`, every one) on `link`.

        Each link is a query of its own: two half-size sorts and window passes cost less than one over
        both links, and the two can run at once.
        """
        # The link's changes in the period, led by its state at the start: that of the last change before
        # it (an index lookup per system), or disconnected when there was none. Each row carries its
        # system's life, to clip the stretches to it without another join.
        last = (
            sa.select(change.c.connected)
            .where(
                change.c.system_id == life.c.system_id,
                change.c.link == link.value,
                change.c.at < period.start,
            )
            .order_by(change.c.at.desc(), change.c.id.desc())
            .limit(1)
            .correlate(life)
            .scalar_subquery()
        )
        at_start = sa.select(
            life.c.system_id,
            sa.func.coalesce(last, sa.false()),
            p0,
            sa.literal_column("0"),
            life.c.ls,
            life.c.le,
        )
        in_period = (
            sa.select(
                change.c.system_id,
                change.c.connected,
                _Epoch(change.c.at).label("t"),
                change.c.id.label("seq"),
                life.c.ls,
                life.c.le,
            )
            .join(life, life.c.system_id == change.c.system_id)
            .where(change.c.link == link.value, change.c.at >= period.start, change.c.at < period.until)
        )
        changes = sa.union_all(in_period, at_start).cte("changes")
        before = sa.func.lag(changes.c.connected).over(
            partition_by=changes.c.system_id, order_by=(changes.c.t, changes.c.seq)
        )
        flagged = sa.select(changes, before.label("before")).cte("flagged")
        # Rows in a row with the same state (two hubs, a retirement) are one stretch: keep the first.
        flips = (
            sa.select(flagged)
            .where(sa.or_(flagged.c.before.is_(None), flagged.c.before != flagged.c.connected))
            .cte("flips")
        )
        after = sa.func.lead(flips.c.t).over(
            partition_by=flips.c.system_id, order_by=(flips.c.t, flips.c.seq)
        )
        spans = sa.select(
            flips.c.system_id,
            flips.c.connected,
            flips.c.t.label("s"),
            sa.func.coalesce(after, p1).label("e"),
            flips.c.ls,
            flips.c.le,
        ).cte("spans")
        clipped = (
            sa.select(
                spans.c.system_id,
                spans.c.connected,
                _Greatest(spans.c.s, spans.c.ls).label("s"),
                _Least(spans.c.e, spans.c.le).label("e"),
            )
            .where(spans.c.e > spans.c.ls, spans.c.s < spans.c.le)
            .cte("clipped")
        )
        # Each stretch with its platform-up time; one wholly inside platform downtime is no outage.
        # MATERIALIZED: inlined, the up-time subquery would run again for every aggregate that reads it.
        spells = (
            sa.select(clipped, up_time(clipped.c.s, clipped.c.e, clipped).label("seconds"))
            .cte("spells")
            .prefix_with("MATERIALIZED")
        )
        outage = sa.and_(sa.not_(spells.c.connected), spells.c.seconds > 0)
        figures = [
            sa.func.sum(sa.case((spells.c.connected, spells.c.seconds), else_=0.0)).label("connected"),
            sa.func.count(sa.case((outage, 1))).label("outages"),
            sa.func.max(sa.case((outage, spells.c.seconds))).label("longest"),
        ]
        if outages:
            figures.append(_JsonRows(spells.c.s, spells.c.e, spells.c.seconds).filter(outage).label("detail"))
        return sa.select(spells.c.system_id, *figures).group_by(spells.c.system_id)

    systems = (
        sa.select(
            system.c.id,
            system.c.code,
            system.c.name,
            system.c.agency_code,
            system.c.level,
            system.c.kind,
            system.c.exempt,
            system.c.created_at,
            system.c.retired_at,
            status.c.last_heartbeat_at,
            up_time(life.c.ls, life.c.le, life).label("observed"),
        )
        .select_from(life)
        .join(system, system.c.id == life.c.system_id)
        .outerjoin(status, status.c.system_id == life.c.system_id)
    )
    return _Queries(
        systems=systems,
        links={link: link_figures(link) for link in Link},
        downtime=sa.select(down.c.s, down.c.e).order_by(down.c.s),
    )


async def _exchange_counts(conn: AsyncConnection, period: Period) -> tuple[dict[str, int], dict[str, int]]:
    """Exchanges per client and per provider code whose request came in during the period."""
    record = sa.inspect(ExchangeRecord).local_table
    # Kept off the time index on SQLite, which then reads the (party, time) index alone, in party order;
    # without statistics (ANALYZE) it would rather fetch every record of the period and sort them.
    received = _Unindexed(record.c.request_in_at)
    in_period = sa.and_(received >= period.start, received < period.end)
    counts: list[dict[str, int]] = []
    for party in (record.c.client, record.c.provider):
        query = sa.select(party, sa.func.count()).where(in_period).group_by(party)
        counts.append({code: int(n) for code, n in await conn.execute(query)})
    return counts[0], counts[1]


def _link(figures: sa.RowMapping | None, observed: float) -> dict[str, Any]:
    """A system's figures on one link (`LinkFigures`) from its row (none: nothing observed)."""
    connected = _seconds(figures["connected"] if figures else 0.0)
    return {
        "connected_seconds": connected,
        "share": connected / observed if observed > 0 else None,
        "outages": int(figures["outages"] if figures else 0),
        "longest_outage_seconds": _seconds(figures["longest"] if figures else 0.0),
    }


def _province_link(lines: Iterable[SystemLine], link: Link) -> ProvinceLink:
    connected = observed = 0.0
    for line in lines:
        figures = line.lgsp if link is Link.LGSP else line.ngsp
        if figures is not None:
            connected += figures.connected_seconds
            observed += line.observed_seconds
    return ProvinceLink(
        connected_seconds=_seconds(connected),
        observed_seconds=_seconds(observed),
        ratio=connected / observed if observed > 0 else None,
    )


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
    queries = _queries(period, now - hub_grace(settings), now, outages=outages)

    async def exchanges() -> tuple[dict[str, int], dict[str, int]]:
        async with database.engine.connect() as conn:
            return await _exchange_counts(conn, period)

    async def fetch(*statements: sa.Select[Any]) -> list[list[sa.RowMapping]]:
        async with database.engine.connect() as conn:
            if conn.dialect.name == "postgresql":
                # PostgreSQL would JIT-compile these large plans for longer than they then run.
                await conn.exec_driver_sql("SET LOCAL jit = off")
            return [list((await conn.execute(statement)).mappings()) for statement in statements]

    (as_client, as_provider), (gaps, rows), (lgsp,), (ngsp,) = await asyncio.gather(
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
        observed = _seconds(row["observed"])
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
    downtime = [Interval(start=_at(d["s"]), end=_at(d["e"]), seconds=_seconds(d["e"] - d["s"])) for d in gaps]
    return ConnectivityReport(
        generated_at=now,
        start=period.start,
        end=period.end,
        observed_until=period.until,
        period_seconds=_seconds((period.until - period.start).total_seconds()),
        province=Province(
            in_scope_systems=len(in_scope),
            exempt_systems=len(lines) - len(in_scope),
            lgsp=_province_link(in_scope, Link.LGSP),
            ngsp=_province_link(in_scope, Link.NGSP),
            platform_downtime_seconds=_seconds(sum(d.seconds for d in downtime)),
        ),
        platform_downtime=downtime,
        systems=in_scope,
        exempt=[line for line in lines if not line.in_scope],
        outages=[
            {"code": code, "link": link, "start": s, "end": e, "seconds": _seconds(seconds)}
            for code, link, s, e, seconds in found
        ]
        if outages
        else None,
    )


# -- CSV and HTML -------------------------------------------------------------------------------------

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


def _tables(report: ConnectivityReport) -> list[tuple[str, list[str], list[list[Any]]]]:
    """The report as titled tables: what the CSV and HTML forms both show."""
    p = report.province
    tables: list[tuple[str, list[str], list[list[Any]]]] = [
        (
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
        (
            "province",
            ["link", "connected_seconds", "observed_seconds", "ratio", "target"],
            [
                [link.value, f.connected_seconds, f.observed_seconds, f.ratio, f.target]
                for link, f in ((Link.LGSP, p.lgsp), (Link.NGSP, p.ngsp))
            ],
        ),
        (
            "platform_downtime",
            ["start", "end", "seconds"],
            [[d.start, d.end, d.seconds] for d in report.platform_downtime],
        ),
        ("systems", _SYSTEM_HEADER, [_system_row(line) for line in report.systems]),
        ("exempt_systems", _SYSTEM_HEADER, [_system_row(line) for line in report.exempt]),
    ]
    if report.outages is not None:
        tables.append(
            (
                "outages",
                ["code", "link", "start", "end", "seconds"],
                [[o.code, o.link.value, o.start, o.end, o.seconds] for o in report.outages],
            )
        )
    return tables


def _csv_value(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def report_csv(report: ConnectivityReport) -> str:
    """The report as one CSV: a `section` column names the table each row belongs to."""
    out = io.StringIO()
    writer = csv.writer(out)
    for section, header, rows in _tables(report):
        writer.writerow(["section", *header])
        writer.writerows([[section, *(_csv_value(v) for v in row)] for row in rows])
    return out.getvalue()


def duration(seconds: float) -> str:
    """`[Nd ]HH:MM:SS`, to the second: how the HTML page shows a length of time."""
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
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>Connectivity report</title><style>{_CSS}</style></head><body>",
        "<h1>Connectivity report</h1>",
        f"<p>Period {report.start:%Y-%m-%d %H:%M} to {report.end:%Y-%m-%d %H:%M} UTC"
        f" (observed until {report.observed_until:%Y-%m-%d %H:%M}); generated"
        f" {report.generated_at:%Y-%m-%d %H:%M:%S} UTC.</p>",
        f"<p>In scope: {p.in_scope_systems} systems (exempt, listed apart and not counted:"
        f" {p.exempt_systems}). Time-weighted connected ratio: LGSP {_ratio(p.lgsp.ratio)},"
        f" NGSP {_ratio(p.ngsp.ratio)}, target {TARGET:.0%}. Platform downtime"
        f" {duration(p.platform_downtime_seconds)}, left out of every system's figures.</p>",
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
    for section, header, rows in _tables(report):
        parts.append(f"<h2>{html.escape(section.replace('_', ' '))}</h2><table><tr>")
        parts.extend(f"<th>{html.escape(_heading(h))}</th>" for h in header)
        parts.append("</tr>")
        parts.extend(
            "<tr>" + "".join(_cell(c, v) for c, v in zip(header, row, strict=True)) + "</tr>" for row in rows
        )
        parts.append("</table>")
    parts.append("</body></html>")
    return "".join(parts)


def _ratio(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"
