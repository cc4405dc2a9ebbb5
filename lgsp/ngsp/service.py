"""Running the NGSP stub as a process (or inside the demo)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator

from lgsp.api.app import start_bus
from lgsp.db import Database
from lgsp.db.engine import wait_for
from lgsp.ngsp.gateway import NationalGateway
from lgsp.settings import Settings


@contextlib.asynccontextmanager
async def running_gateway(settings: Settings, bootstrap: str) -> AsyncIterator[NationalGateway]:
    """The national gateway stub, consuming its topics until the context exits."""
    database = Database(settings.ngsp_database_url)
    await wait_for(database)
    bus = await start_bus(settings, bootstrap, client_id="ngsp")
    gateway = NationalGateway(settings, database, bus)
    tasks: list[asyncio.Task[None]] = []
    try:
        await gateway.prepare()
        n = settings.connectivity_partitions
        await bus.ensure_topics({bus.topics.ngsp_requests: n, bus.topics.ngsp_events: n,
                                 bus.topics.ngsp_probe_replies: n, bus.topics.dead_letters: 1})  # fmt: skip
        tasks = gateway.tasks()
        yield gateway
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bus.stop()
        await database.dispose()
