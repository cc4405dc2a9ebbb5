"""Computes the published indicators from the stored state, and serves them from a short cache."""

import weakref
from dataclasses import dataclass
from datetime import date

from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.connectivity.queries import current_counts
from lgsp.db import Database
from lgsp.indicators.cache import SharedCache
from lgsp.indicators.models import (
    ConnectivityIndicators,
    Indicators,
    LinkIndicator,
    OnceOnlyIndicators,
    RatioIndicator,
    ReuseIndicator,
    points_766,
    ratio,
)
from lgsp.onceonly.service import once_only_counts
from lgsp.settings import Settings
from schemas.common import utcnow

#: Longest time a published answer is served from the cache, in seconds (shorter if the evaluator runs
#: more often); a background refresh starts once an answer is half that old.
MAX_AGE = 1.0


async def once_only_indicators(
    session: AsyncSession, settings: Settings, start: date | None = None, end: date | None = None
) -> OnceOnlyIndicators:
    """The three once-only measures over dossiers received in [start, end)."""
    conn = await session.connection()
    counts = await once_only_counts(conn, start, end)
    target = settings.once_only_target
    clean_applicants = counts.applicants - counts.applicants_with_resubmission
    reuse = ratio(counts.dossiers_with_reuse, counts.dossiers)
    return OnceOnlyIndicators(
        start=start,
        end=end,
        by_dossier=RatioIndicator(
            numerator=counts.dossiers_without_resubmission,
            denominator=counts.dossiers,
            ratio=ratio(counts.dossiers_without_resubmission, counts.dossiers),
            target=target,
        ),
        by_applicant=RatioIndicator(
            numerator=clean_applicants,
            denominator=counts.applicants,
            ratio=ratio(clean_applicants, counts.applicants),
            target=target,
        ),
        reuse=ReuseIndicator(
            numerator=counts.dossiers_with_reuse,
            denominator=counts.dossiers,
            ratio=reuse,
            target=target,
            points=points_766(reuse, settings.reuse_max_points),
            max_points=settings.reuse_max_points,
        ),
    )


async def current_indicators(
    session: AsyncSession, settings: Settings, start: date | None = None, end: date | None = None
) -> Indicators:
    """Connectivity now, and the once-only measures over [start, end) (every dossier by default)."""
    counts = await current_counts(session)
    return Indicators(
        as_of=utcnow(),
        connectivity=ConnectivityIndicators(
            lgsp=LinkIndicator(
                connected=counts.lgsp_connected,
                in_scope=counts.in_scope,
                ratio=ratio(counts.lgsp_connected, counts.in_scope),
            ),
            ngsp=LinkIndicator(
                connected=counts.ngsp_connected,
                in_scope=counts.in_scope,
                ratio=ratio(counts.ngsp_connected, counts.in_scope),
            ),
        ),
        once_only=await once_only_indicators(session, settings, start, end),
    )


Period = tuple[date | None, date | None]


@dataclass(frozen=True, slots=True)
class Published:
    """Indicators with their JSON body, serialized once per computation rather than once per request:
    the API answers every reader with the same bytes (the same JSON FastAPI would write for them)."""

    indicators: Indicators
    body: bytes


#: Periods whose indicators are kept (the least recently read dropped first): the default period and the
#: few a dashboard or a report shows, with room to spare; a reader asking for a new period each time
#: costs one computation per request (and their rate limit), never the other readers' cached answers.
MAX_PERIODS = 32


class IndicatorCache:
    """`current_indicators` per period, computed at most about once a second however many readers ask.

    The indicators are published figures (public, no key), and the connectivity state behind them changes
    only when the evaluator runs, every `evaluate_interval`: an answer at most `max_age` old (1 s, or the
    evaluation interval if shorter) tells a reader nothing less, and its `as_of` says when it was computed.
    Under steady traffic no request waits for the database: once an answer is half `max_age` old the next
    request gets it and starts one refresh in the background. A request finding no answer younger than
    `max_age` computes one (concurrent ones share it), so a reader who waits `max_age` after a change
    always sees it. At most MAX_PERIODS periods are kept (lgsp/indicators/cache.py).
    """

    def __init__(self, database: Database, settings: Settings) -> None:
        self.database = database
        self.settings = settings
        self.max_age = min(MAX_AGE, settings.evaluate_interval)
        self._cache: SharedCache[Period, Published] = SharedCache(
            self._compute, max_age=self.max_age, max_entries=MAX_PERIODS
        )

    def __len__(self) -> int:
        """How many periods have their indicators kept."""
        return len(self._cache)

    async def get(self, start: date | None = None, end: date | None = None) -> Indicators:
        """The indicators for dossiers received in [start, end), at most `max_age` seconds old."""
        return (await self._cache.get((start, end))).indicators

    async def published(self, start: date | None = None, end: date | None = None) -> Published:
        """The same indicators with their JSON body, as `GET /api/v1/indicators` answers them."""
        return await self._cache.get((start, end))

    async def _compute(self, period: Period) -> Published:
        async with self.database.sessions() as session:
            indicators = await current_indicators(session, self.settings, *period)
        return Published(indicators, indicators.model_dump_json().encode())


_caches: "weakref.WeakKeyDictionary[Database, IndicatorCache]" = weakref.WeakKeyDictionary()


def indicator_cache(database: Database, settings: Settings) -> IndicatorCache:
    """The cache of one hub's indicators (one per database object, so per running application)."""
    cache = _caches.get(database)
    if cache is None:
        cache = _caches[database] = IndicatorCache(database, settings)
    return cache
