"""Running the NGSP stub as a process (or inside the demo)."""

import contextlib
from collections.abc import AsyncIterator

from connectors.datasets import Datasets
from lgsp.background import running
from lgsp.bus import Bus, shared_topics
from lgsp.db import Database
from lgsp.db.engine import wait_for
from lgsp.settings import Settings
from sandbox.ngsp.gateway import NationalGateway
from sandbox.ngsp.national import NationalSide


@contextlib.asynccontextmanager
async def running_gateway(
    settings: Settings, bootstrap: str, datasets: Datasets | None = None
) -> AsyncIterator[NationalGateway]:
    """The national gateway stub, consuming its topics until the context exits.

    With `datasets`, it serves the national databases and the other provinces from them; without, calls
    beyond the province are answered `server.provider_unreachable`.
    """
    database = Database(settings.ngsp_database_url)
    await wait_for(database)
    bus = Bus.from_settings(settings, bootstrap, client_id="ngsp")
    national = await NationalSide.open(datasets) if datasets is not None else None
    gateway = NationalGateway(settings, database, bus, national)
    try:
        await gateway.prepare()
        await bus.connect(shared_topics(bus.topics, settings.connectivity_partitions))
        async with running([gateway]):
            yield gateway
    finally:
        await bus.stop()
        await database.dispose()
        if national is not None:
            await national.close()
