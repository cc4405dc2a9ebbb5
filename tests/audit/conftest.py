"""The audit tests' hub: anchors every ANCHOR_INTERVAL seconds into a file of the test's own, and a chain
with registry changes, exchange records and a snapshot sealed."""

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest
from sqlalchemy import func, select
from sqlmodel import col

from lgsp.audit.models import IndicatorSnapshot, RegistryEvent
from lgsp.db import Database
from lgsp.exchange.models import ExchangeRecord
from lgsp.settings import Settings
from schemas.common import utcnow
from tests.audit.support import ANCHOR_INTERVAL, EXCHANGES
from tests.support import Broker, Hub, delete_topics, eventually, fast_settings, make_agency, make_system


@pytest.fixture
async def settings(database_url: str, tmp_path: Path, broker: Broker) -> AsyncIterator[Settings]:
    """Per-test settings, with the hub anchoring its chain often, into `tmp_path/anchors.jsonl`."""
    per_test = fast_settings(
        database_url,
        tmp_path,
        audit_anchor_interval=ANCHOR_INTERVAL,
        audit_anchor_file=tmp_path / "anchors.jsonl",
    )
    yield per_test
    await delete_topics(broker.bootstrap, per_test.topic_prefix)


@pytest.fixture
async def sealed(hub: Hub) -> AsyncIterator[Database]:
    """A hub whose registry changes, five final exchange records and a snapshot are all sealed."""
    await make_agency(hub.client, "SO-TP")
    await make_system(hub.client, "HO-TICH", "SO-TP")
    await make_system(hub.client, "DAT-DAI", "SO-TP")
    database = Database(hub.settings.database_url)
    now = utcnow()
    rows: list[dict[str, Any]] = [
        {
            "id": str(uuid4()),
            "client": "DAT-DAI",
            "provider": "HO-TICH",
            "service": "birth-record.get",
            "request_in_at": now + timedelta(milliseconds=i),
            "request_out_at": now,
            "response_in_at": now,
            "response_out_at": now,
            "request_size": 100 + i,
            "response_size": 300,
            "outcome": "success",
            "crossed_ngsp": False,
            "deadline": now + timedelta(seconds=5),
        }
        for i in range(EXCHANGES)
    ]
    async with database.engine.begin() as conn:
        await conn.execute(ExchangeRecord.__table__.insert(), rows)  # type: ignore[attr-defined]

    async def all_sealed() -> bool:
        async with database.engine.connect() as conn:
            unsealed = 0
            for table in (ExchangeRecord, RegistryEvent, IndicatorSnapshot):
                unsealed += (
                    await conn.scalar(
                        select(func.count()).select_from(table).where(col(table.audit_seq).is_(None))
                    )
                    or 0
                )
            snapshots = await conn.scalar(select(func.count()).select_from(IndicatorSnapshot)) or 0
        return unsealed == 0 and snapshots > 0

    await eventually(all_sealed, timeout=15, what="every record sealed")
    try:
        yield database
    finally:
        await database.dispose()
