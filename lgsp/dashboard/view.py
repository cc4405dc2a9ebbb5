"""What the dashboard shows, read from the database and rendered once for every reader of the moment."""

import weakref

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.connectivity.models import LinkStateChange, SystemStatus
from lgsp.connectivity.queries import list_links
from lgsp.dashboard.groups import system_groups
from lgsp.dashboard.page import Dashboard, Disconnection, render
from lgsp.db import Database
from lgsp.indicators.cache import SharedCache
from lgsp.indicators.service import indicator_cache
from lgsp.registry.models import System
from lgsp.settings import Settings

#: Rows of the systems table; a province has tens to a few hundred systems, and the page stays light.
MAX_SYSTEMS = 200
RECENT_DISCONNECTIONS = 10


async def recent_disconnections(
    session: AsyncSession, limit: int = RECENT_DISCONNECTIONS
) -> list[Disconnection]:
    """The latest `limit` recorded losses of a link (retired systems included: their history stays)."""
    rows = await session.exec(
        select(LinkStateChange, System.code, SystemStatus)
        .join(System, col(System.id) == col(LinkStateChange.system_id))
        .join(SystemStatus, col(SystemStatus.system_id) == col(LinkStateChange.system_id))
        .where(col(LinkStateChange.connected).is_(False))
        .order_by(col(LinkStateChange.at).desc(), col(LinkStateChange.id).desc())
        .limit(limit)
    )
    return [
        Disconnection(
            code=code,
            link=change.link,
            at=change.at,
            reason=change.reason,
            # A link up now came back after this loss: every later change is newer than this one.
            restored=bool(getattr(status, f"{change.link.value}_connected")),
        )
        for change, code, status in rows
    ]


class DashboardCache:
    """The rendered page, shared by every reader for as long as the indicators' cache keeps its answers.

    The page is public and refreshes itself every few seconds in every open browser: rendered per request,
    each reader would cost the database the systems table, the disconnections and the indicators. Its
    figures come from the indicators' cache, so the page and `GET /api/v1/indicators` show the same
    computation; the page as a whole is at most twice that cache's age (2 s by default).
    """

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.indicators = indicator_cache(database, settings)
        self._cache: SharedCache[None, str] = SharedCache(
            self._render, max_age=self.indicators.max_age, max_entries=1, max_concurrent=1
        )

    async def page(self) -> str:
        """The dashboard's HTML."""
        return await self._cache.get(None)

    async def _render(self, _: None) -> str:
        indicators = await self.indicators.get()
        async with self.database.sessions() as session:
            systems, total = await list_links(session, limit=MAX_SYSTEMS, offset=0)
            disconnections = await recent_disconnections(session)
            groups = await system_groups(session)
        view = Dashboard(
            province=self.settings.province,
            indicators=indicators,
            systems=systems,
            systems_total=total,
            disconnections=disconnections,
            groups=groups,
        )
        return render(view)


_caches: "weakref.WeakKeyDictionary[Database, DashboardCache]" = weakref.WeakKeyDictionary()


def dashboard_cache(database: Database, settings: Settings) -> DashboardCache:
    """The dashboard of one hub (one per database object, so per running application)."""
    cache = _caches.get(database)
    if cache is None:
        cache = _caches[database] = DashboardCache(database, settings)
    return cache
