"""The connectivity report's period and its SQL: the queries that turn state changes and hub lives into
each system's observed and connected time (the definitions are in `lgsp.reports.connectivity`)."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from lgsp.connectivity.models import HubUptime, LinkStateChange, SystemStatus
from lgsp.exchange.models import ExchangeRecord
from lgsp.registry.models import System
from lgsp.reports.sql import Epoch, Greatest, JsonRows, Least, Unindexed, overlap
from schemas.common import Link


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


def epoch(value: datetime) -> float:
    """Seconds since 1970 of an instant, to the millisecond like the instants the database reads."""
    return round(value.timestamp(), 3)


def at_epoch(epoch: float) -> datetime:
    """The UTC instant `epoch` seconds after 1970."""
    return datetime.fromtimestamp(epoch, UTC)


def rounded_seconds(value: float | None) -> float:
    """Lengths of time to the millisecond, like instants (float sums carry noise below it)."""
    return round(float(value or 0.0), 3)


@dataclass(frozen=True, slots=True)
class Queries:
    """The report's statements: systems with their observed time, figures per link, downtime."""

    systems: sa.Select[Any]
    links: dict[Link, sa.Select[Any]]
    downtime: sa.Select[Any]


def connectivity_queries(
    period: Period, hub_alive_since: datetime, now: datetime, *, outages: bool
) -> Queries:
    """The report's queries (see the module docstring for the definitions): each system with its
    observed time, its figures on each link (with `outages`, also every outage as a JSON array of
    [start, end, seconds]), and the stretches of platform downtime."""
    p0 = sa.cast(sa.bindparam("p0", epoch(period.start), type_=sa.Float), sa.Float)
    p1 = sa.cast(sa.bindparam("p1", epoch(period.until), type_=sa.Float), sa.Float)
    system = sa.inspect(System).local_table
    change = sa.inspect(LinkStateChange).local_table
    hub = sa.inspect(HubUptime).local_table
    status = sa.inspect(SystemStatus).local_table

    # Each system's life within the period.
    life = (
        sa.select(
            system.c.id.label("system_id"),
            Greatest(Epoch(system.c.created_at), p0).label("ls"),
            Least(sa.func.coalesce(Epoch(system.c.retired_at), p1), p1).label("le"),
        )
        .where(
            system.c.created_at < period.until,
            sa.or_(system.c.retired_at.is_(None), system.c.retired_at > period.start),
        )
        .cte("life")
    )

    # Platform up: hub lives clipped to the period, merged where they overlap (gaps and islands).
    hub_end = sa.case(
        (hub.c.stopped_at.is_not(None), Epoch(hub.c.stopped_at)),
        (hub.c.last_seen_at >= hub_alive_since, epoch(now)),
        else_=Epoch(hub.c.last_seen_at),
    )
    lives = (
        sa.select(
            Greatest(Epoch(hub.c.started_at), p0).label("s"),
            Least(hub_end, p1).label("e"),
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
            sa.select(sa.func.coalesce(sa.func.sum(overlap(s, e, down.c.s, down.c.e)), 0.0))
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
                Epoch(change.c.at).label("t"),
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
                Greatest(spans.c.s, spans.c.ls).label("s"),
                Least(spans.c.e, spans.c.le).label("e"),
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
            figures.append(JsonRows(spells.c.s, spells.c.e, spells.c.seconds).filter(outage).label("detail"))
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
    return Queries(
        systems=systems,
        links={link: link_figures(link) for link in Link},
        downtime=sa.select(down.c.s, down.c.e).order_by(down.c.s),
    )


async def exchange_counts(conn: AsyncConnection, period: Period) -> tuple[dict[str, int], dict[str, int]]:
    """Exchanges per client and per provider code whose request came in during the period."""
    record = sa.inspect(ExchangeRecord).local_table
    # Kept off the time index on SQLite, which then reads the (party, time) index alone, in party order;
    # without statistics (ANALYZE) it would rather fetch every record of the period and sort them.
    received = Unindexed(record.c.request_in_at)
    in_period = sa.and_(received >= period.start, received < period.end)
    counts: list[dict[str, int]] = []
    for party in (record.c.client, record.c.provider):
        query = sa.select(party, sa.func.count()).where(in_period).group_by(party)
        counts.append({code: int(n) for code, n in await conn.execute(query)})
    return counts[0], counts[1]
