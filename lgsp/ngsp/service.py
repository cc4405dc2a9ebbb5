"""Running the NGSP stub as a process (or inside the demo)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from lgsp.api.app import new_bus
from lgsp.bus.kafka import shared_topics
from lgsp.db import Database
from lgsp.db.engine import wait_for
from lgsp.ngsp.gateway import NationalGateway
from lgsp.settings import Settings


@contextlib.asynccontextmanager
async def running_gateway(settings: Settings, bootstrap: str) -> AsyncIterator[NationalGateway]:
    """The national gateway stub, consuming its topics until the context exits."""
    database = Database(settings.ngsp_database_url)
    await wait_for(database)
    bus = new_bus(settings, bootstrap, client_id="ngsp")
    gateway = NationalGateway(settings, database, bus)
    tasks: list[asyncio.Task[None]] = []
    try:
        await gateway.prepare()
        await bus.connect(shared_topics(bus.topics, settings.connectivity_partitions))
        tasks = gateway.tasks()
        yield gateway
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bus.stop()
        await database.dispose()
