"""Running the NGSP stub as a process (or inside the demo)."""

import contextlib
from collections.abc import AsyncIterator

from connectors.datasets import Datasets
from lgsp.background import running
from lgsp.bus import Bus, shared_topics
from lgsp.bus.authentication import Authenticator
from lgsp.db import Database
from lgsp.db.engine import wait_for
from lgsp.security import hub_key, ngsp_signer
from lgsp.settings import Settings
from sandbox.ngsp.gateway import NationalGateway, NationalKeys
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
    keys = NationalKeys(database, hub_key(settings))
    authenticate = Authenticator(keys, settings.bus_replay_window, settings.bus_clock_skew)
    bus = Bus.from_settings(settings, bootstrap, "ngsp", ngsp_signer(settings), authenticate)
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
