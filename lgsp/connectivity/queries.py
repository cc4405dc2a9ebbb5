"""Read queries of connectivity: counts and outages for the indicators, gauges, one system's links and
history, and the list of every system's links."""

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, case, func
from sqlalchemy import select as columns
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.connectivity.models import (
    LinkStateChange,
    StateChangePublic,
    SystemConnectivity,
    SystemLinks,
    SystemStatus,
)
from lgsp.errors import NotFound
from lgsp.registry.models import System
from monitoring.metrics import (
    CONNECTIVITY_RATIO,
    SYSTEMS_CONNECTED,
    SYSTEMS_DISCONNECTED_MAX,
    SYSTEMS_IN_SCOPE,
)
from schemas.common import Link, utcnow


@dataclass(frozen=True, slots=True)
class LinkCounts:
    """In-scope systems and how many are connected on each link, now."""

    in_scope: int
    lgsp_connected: int
    ngsp_connected: int


def _down_since(connected: bool, since: datetime | None) -> ColumnElement[datetime]:
    return func.min(case((col(connected).is_(False), func.coalesce(col(since), col(System.created_at)))))


#: Over in-scope live systems: how many, how many connected per link, and when each link's oldest
#: current outage began. One aggregate over the join, the figures of the indicator and the gauges.
_SUMMARY = (
    columns(
        func.count(),
        func.coalesce(func.sum(case((col(SystemStatus.lgsp_connected), 1), else_=0)), 0),
        func.coalesce(func.sum(case((col(SystemStatus.ngsp_connected), 1), else_=0)), 0),
        _down_since(SystemStatus.lgsp_connected, SystemStatus.lgsp_since),
        _down_since(SystemStatus.ngsp_connected, SystemStatus.ngsp_since),
    )
    .select_from(System)
    .join(SystemStatus, col(SystemStatus.system_id) == col(System.id))
    .where(col(System.exempt).is_(False), col(System.retired_at).is_(None))
)


async def link_summary(conn: AsyncConnection) -> tuple[LinkCounts, dict[Link, datetime | None]]:
    """The counts of `current_counts` and the outage starts of `oldest_outages`, in one query."""
    row = (await conn.execute(_SUMMARY)).one()
    counts = LinkCounts(int(row[0]), int(row[1]), int(row[2]))
    return counts, {Link.LGSP: row[3], Link.NGSP: row[4]}


async def current_counts(session: AsyncSession) -> LinkCounts:
    """Count in-scope live systems and the connected ones per link, in one aggregate query."""
    counts, _ = await link_summary(await session.connection())
    return counts


async def oldest_outages(session: AsyncSession) -> dict[Link, datetime | None]:
    """Per link, when the oldest current outage among in-scope live systems began (None: none is down).

    A system never connected on a link has been down on it since its registration.
    """
    _, outages = await link_summary(await session.connection())
    return outages


async def system_connectivity(session: AsyncSession, system: System, history: int = 20) -> SystemConnectivity:
    """A system's live status on both links and its latest state changes."""
    status = await session.get(SystemStatus, system.id)
    if status is None:
        raise NotFound(f"no status for system {system.id}")
    changes = (
        await session.exec(
            select(LinkStateChange)
            .where(LinkStateChange.system_id == system.id)
            .order_by(col(LinkStateChange.at).desc(), col(LinkStateChange.id).desc())
            .limit(history)
        )
    ).all()
    return SystemConnectivity.model_validate(
        status,
        update={
            "code": system.code,
            "in_scope": not system.exempt,
            "recent_changes": [StateChangePublic.model_validate(c) for c in changes],
        },
    )


async def list_links(session: AsyncSession, *, limit: int, offset: int) -> tuple[list[SystemLinks], int]:
    """A page of every live system with both links, by system id, and the total."""
    base = (
        select(System, SystemStatus)
        .join(SystemStatus, col(SystemStatus.system_id) == col(System.id))
        .where(col(System.retired_at).is_(None))
    )
    total = await session.scalar(
        select(func.count()).select_from(System).where(col(System.retired_at).is_(None))
    )
    rows = await session.exec(base.order_by(col(System.id)).limit(limit).offset(offset))
    page = [
        SystemLinks.model_validate(
            status,
            update={
                "code": system.code,
                "name": system.name,
                "agency_code": system.agency_code,
                "level": system.level,
                "in_scope": not system.exempt,
            },
        )
        for system, status in rows
    ]
    return page, int(total or 0)


def publish_gauges(counts: LinkCounts, outages: dict[Link, datetime | None]) -> None:
    """Set the connectivity gauges from fresh counts and outage starts."""
    SYSTEMS_IN_SCOPE.set(counts.in_scope)
    now = utcnow()
    for link, down_since in outages.items():
        SYSTEMS_DISCONNECTED_MAX.labels(link.value).set(
            max(0.0, (now - down_since).total_seconds()) if down_since else 0.0
        )
    for link, connected in ((Link.LGSP, counts.lgsp_connected), (Link.NGSP, counts.ngsp_connected)):
        SYSTEMS_CONNECTED.labels(link.value).set(connected)
        CONNECTIVITY_RATIO.labels(link.value).set(
            connected / counts.in_scope if counts.in_scope else float("nan")
        )
