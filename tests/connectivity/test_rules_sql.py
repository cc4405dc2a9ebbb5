"""The connectivity rules as SQL (what the evaluator asks the database) agree with the Python rules."""

import itertools
import random
from datetime import UTC, datetime, timedelta
from uuid import uuid4

from sqlalchemy import select

from lgsp.connectivity.models import SystemStatus
from lgsp.connectivity.rules import (
    LGSP_UP,
    NGSP_UP,
    REASON_LENGTH,
    Thresholds,
    reasons_sql,
    stale_verdicts,
    verdicts,
)
from lgsp.db import Database
from lgsp.registry.models import Agency, System

NOW = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)
LIMITS = Thresholds(heartbeat_ttl=timedelta(seconds=15), probe_ttl=timedelta(seconds=30))
TICK = timedelta(microseconds=1)


def around(ttl: timedelta) -> list[datetime | None]:
    """Evidence times on both sides of a TTL, to the microsecond, and none at all."""
    edge = NOW - ttl
    return [None, NOW, NOW - timedelta(seconds=2), edge + TICK, edge, edge - TICK, NOW - timedelta(hours=3)]


async def test_sql_reasons_and_staleness_match_the_python_rules(database_url: str) -> None:
    rng = random.Random(5)
    database = Database(database_url)
    await database.migrate()
    try:
        async with database.sessions() as session:
            session.add(Agency(code="SO-TEST", name="Test agency"))
            combinations = list(
                itertools.product(
                    [None, uuid4()],
                    around(LIMITS.heartbeat_ttl),
                    around(LIMITS.probe_ttl),
                    [False, True],
                    around(LIMITS.probe_ttl),
                )
            )
            for i, (session_id, heartbeat, probe, registered, ngsp_probe) in enumerate(combinations):
                exempt = i % 7 == 0
                system = System(
                    code=f"S{i:05d}",
                    name=f"S{i}",
                    agency_code="SO-TEST",
                    exempt=exempt,
                    exempt_reason=("x" * 300 if i % 2 else "state secret") if exempt else None,
                    retired_at=NOW - timedelta(days=1) if i % 11 == 0 else None,
                )
                session.add(system)
                await session.flush()
                assert system.id is not None
                stored = rng.choice([LGSP_UP, NGSP_UP, "heartbeat stale", "never seen", None])
                session.add(
                    SystemStatus(
                        system_id=system.id,
                        session_id=session_id,
                        last_heartbeat_at=heartbeat,
                        last_probe_ok_at=probe,
                        ngsp_registered=registered,
                        last_ngsp_probe_ok_at=ngsp_probe,
                        lgsp_connected=rng.random() < 0.5,
                        lgsp_reason=stored or "never seen",
                        ngsp_connected=rng.random() < 0.5,
                        ngsp_reason=rng.choice([NGSP_UP, "not acknowledged in the national catalogue"]),
                    )
                )
            await session.commit()

        lgsp_sql, ngsp_sql = reasons_sql(NOW, LIMITS)
        async with database.engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(System, SystemStatus, lgsp_sql, ngsp_sql, stale_verdicts(NOW, LIMITS))
                    .join(SystemStatus, SystemStatus.system_id == System.id)  # type: ignore[arg-type]
                    .order_by(System.id)  # type: ignore[arg-type]
                )
            ).all()
        assert len(rows) == len(combinations)
        stale_rows = 0
        for row in rows:
            status = SystemStatus(**{c: getattr(row, c) for c in SystemStatus.model_fields})
            lgsp, ngsp = verdicts(
                status,
                exempt=row.exempt,
                exempt_because=row.exempt_reason,
                retired=row.retired_at is not None,
                now=NOW,
                limits=LIMITS,
            )
            expected = (lgsp.reason[:REASON_LENGTH], ngsp.reason[:REASON_LENGTH])
            assert (row[-3], row[-2]) == expected, (row.code, row[-3], row[-2])
            stale = (
                status.lgsp_reason != expected[0]
                or status.ngsp_reason != expected[1]
                or status.lgsp_connected != lgsp.connected
                or status.ngsp_connected != ngsp.connected
            )
            assert bool(row[-1]) == stale, row.code
            stale_rows += stale
        assert 0 < stale_rows < len(rows)
    finally:
        await database.dispose()
