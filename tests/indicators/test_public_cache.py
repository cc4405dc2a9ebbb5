"""The published indicators cost the database about one computation per period and second, whoever asks
and however: the dashboard at `/` reads the same cache as `GET /api/v1/indicators`, a burst of readers
waits for one computation, and a reader cycling through periods can neither grow the cache without bound
nor push the figures everybody reads out of it."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from lgsp.db import Database
from lgsp.indicators import service
from lgsp.indicators.models import (
    ConnectivityIndicators,
    Indicators,
    LinkIndicator,
    OnceOnlyIndicators,
    RatioIndicator,
    ReuseIndicator,
)
from lgsp.onceonly.service import once_only_counts
from lgsp.settings import Settings
from schemas.common import utcnow
from tests.support import Broker, Hub, delete_topics, fast_settings

BURST = 20


@pytest.fixture
async def settings(database_url: str, tmp_path: Path, broker: Broker) -> AsyncIterator[Settings]:
    """The test hub's settings, evaluating once a second: the cache keeps an answer for up to a second
    (never longer than the evaluation interval), so a burst fits well within one answer's life."""
    per_test = fast_settings(database_url, tmp_path, evaluate_interval=1.0)
    yield per_test
    await delete_topics(broker.bootstrap, per_test.topic_prefix)


@pytest.fixture
def computations(monkeypatch: pytest.MonkeyPatch) -> Counter[tuple[date | None, date | None]]:
    """Counts the once-only computations behind the published indicators, per period."""
    counted: Counter[tuple[date | None, date | None]] = Counter()
    real = once_only_counts

    async def counting(conn: Any, start: date | None = None, end: date | None = None) -> Any:
        counted[(start, end)] += 1
        return await real(conn, start, end)

    monkeypatch.setattr(service, "once_only_counts", counting)
    return counted


async def test_a_burst_of_dashboard_readers_costs_one_computation(
    hub: Hub, computations: Counter[tuple[date | None, date | None]]
) -> None:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=hub.app), base_url="http://hub") as anyone:
        pages = await asyncio.gather(*(anyone.get("/") for _ in range(BURST)))
        assert {page.status_code for page in pages} == {200}
        figures = await anyone.get("/api/v1/indicators")
    assert figures.status_code == 200
    # One computation for the page and the API together (a second at most, should the burst outlive half
    # an answer's life on a slow machine and start a background refresh); it was one per request.
    assert computations[(None, None)] <= 2, computations


def _indicators(start: date | None, end: date | None) -> Indicators:
    link = LinkIndicator(connected=0, in_scope=0, ratio=None)
    ratio = RatioIndicator(numerator=0, denominator=0, ratio=None)
    return Indicators(
        as_of=utcnow(),
        connectivity=ConnectivityIndicators(lgsp=link, ngsp=link),
        once_only=OnceOnlyIndicators(
            start=start,
            end=end,
            by_dossier=ratio,
            by_applicant=ratio,
            reuse=ReuseIndicator(numerator=0, denominator=0, ratio=None, points=None, max_points=1.0),
        ),
    )


async def test_many_distinct_periods_neither_grow_the_cache_nor_evict_the_figures_everyone_reads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    computed: Counter[tuple[date | None, date | None]] = Counter()

    async def instant(_: Any, __: Settings, start: date | None = None, end: date | None = None) -> Indicators:
        computed[(start, end)] += 1
        return _indicators(start, end)

    monkeypatch.setattr(service, "current_indicators", instant)
    database = Database(f"sqlite+aiosqlite:///{tmp_path / 'unused.db'}")  # never queried here
    try:
        cache = service.indicator_cache(database, Settings(evaluate_interval=1.0))
        await cache.get()
        first = date(2024, 1, 1)
        for n in range(500):  # a reader asking for a new period each time, with everyone's reads between
            await cache.get(first + timedelta(days=n), first + timedelta(days=n + 1))
            await cache.get()
        assert computed[(None, None)] == 1, "the figures everyone reads were pushed out of the cache"
        assert len(cache) <= service.MAX_PERIODS
        assert len(computed) == 501  # each new period was computed, once
    finally:
        await database.dispose()
