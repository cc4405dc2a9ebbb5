"""The transactional outbox: what the registry writes while the broker is down reaches the bus later."""

import asyncio
from collections.abc import AsyncIterator
from uuid import UUID

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from asgi_lifespan import LifespanManager
from sqlmodel import col, select

from lgsp.app import create_app
from lgsp.bus.broker import EmbeddedBroker
from lgsp.bus.outbox import OutboxMessage
from lgsp.db import Database
from lgsp.settings import Settings
from schemas.messages import NGSP_REQUESTS, NgspRegistration
from schemas.topics import Topics
from tests.support import ADMIN_TOKEN, Hub, eventually, make_agency, running_hub

CODES = ["HO-TICH", "DAT-DAI", "XAY-DUNG"]


@pytest.fixture
async def own_broker() -> AsyncIterator[EmbeddedBroker]:
    """A broker of this test alone, so stopping it disturbs nobody else."""
    async with EmbeddedBroker() as running:
        yield running


@pytest.fixture
async def own_hub(settings: Settings, own_broker: EmbeddedBroker) -> AsyncIterator[Hub]:
    """The hub on the test's own broker."""
    async with running_hub(settings, own_broker.bootstrap) as running:
        yield running


async def outbox_rows(database: Database) -> list[OutboxMessage]:
    async with database.sessions() as session:
        return list((await session.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))).all())


async def read_registrations(bootstrap: str, topic: str, wanted: set[UUID], within: float) -> list[UUID]:
    """Ids of the NgspRegistrations on `topic`, read from the start until all of `wanted` were seen."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        group_id=None,
        metadata_max_age_ms=500,
    )
    await consumer.start()
    seen: list[UUID] = []
    try:
        deadline = asyncio.get_running_loop().time() + within
        while not wanted <= set(seen):
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"outbox messages never arrived: missing {wanted - set(seen)}")
            for records in (await consumer.getmany(timeout_ms=200)).values():
                for record in records:
                    message = NGSP_REQUESTS.decode(record.value)
                    if isinstance(message, NgspRegistration):
                        seen.append(message.message_id)
    finally:
        await consumer.stop()
    return seen


@pytest.mark.embedded_broker  # stops and restarts a broker of its own
async def test_outbox_delivers_what_was_written_while_the_broker_was_down(
    own_hub: Hub, own_broker: EmbeddedBroker
) -> None:
    hub, topics = own_hub, Topics(own_hub.settings.topic_prefix)
    await make_agency(hub.client)
    await own_broker.stop()

    # The registry does not need the bus: registrations are answered at once.
    for code in CODES:
        response = await asyncio.wait_for(
            hub.client.post(
                "/api/v1/systems", json={"code": code, "name": f"System {code}", "agency_code": "SO-TP"}
            ),
            5,
        )
        assert response.status_code == 201, response.text
    listing = await asyncio.wait_for(hub.client.get("/api/v1/systems"), 5)
    assert listing.status_code == 200 and listing.json()["total"] == len(CODES)

    async def ready() -> bool:
        return (await hub.client.get("/readyz")).status_code == 200

    async def not_ready() -> bool:
        response = await hub.client.get("/readyz")
        return response.status_code == 503 and response.json()["checks"]["bus"] != "ok"

    # Readiness tells the truth: the bus is away (the relay meanwhile tries, and fails, to publish).
    await eventually(not_ready, timeout=10, what="/readyz to report the bus down")

    database = Database(hub.settings.database_url)
    try:
        waiting = await outbox_rows(database)
        assert [row.topic for row in waiting] == [topics.ngsp_requests] * len(CODES)
        messages = [NGSP_REQUESTS.decode(row.value) for row in waiting]
        assert all(isinstance(m, NgspRegistration) and not m.withdraw for m in messages)
        assert [m.system for m in messages] == CODES
        assert [row.key for row in waiting] == CODES
        wanted = {m.message_id for m in messages}

        await own_broker.start()  # same port; its memory (and every topic) is gone

        seen = await read_registrations(own_broker.bootstrap, topics.ngsp_requests, wanted, within=30)
        assert wanted <= set(seen)

        async def drained() -> bool:
            return not await outbox_rows(database)

        await eventually(drained, timeout=10, what="the outbox to drain")
        await eventually(ready, timeout=15, what="/readyz to report the bus back")
    finally:
        await database.dispose()


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_hub_starts_and_registers_while_the_broker_is_down(settings: Settings) -> None:
    """The outbox makes the registry independent of the bus, so a broker outage need not stop the hub."""
    absent = EmbeddedBroker()  # never started: nothing listens on its port
    app = create_app(settings, absent.bootstrap)
    async with LifespanManager(app, startup_timeout=3, shutdown_timeout=10) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://hub", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as client:
            await make_agency(client)
            response = await client.post(
                "/api/v1/systems", json={"code": "HO-TICH", "name": "Ho tich", "agency_code": "SO-TP"}
            )
            assert response.status_code == 201, response.text
