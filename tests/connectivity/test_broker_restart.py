"""Broker restart: hub, NGSP stub and connectors reconnect by themselves and the indicator recovers."""

from pathlib import Path

import pytest

from lgsp.bus.broker import EmbeddedBroker
from sandbox.ngsp.service import running_gateway
from tests.support import connector_for, eventually, fast_settings, make_agency, make_system, running_hub

#: Restarts an embedded broker of its own (memory only): not run on an Apache Kafka cluster.
pytestmark = pytest.mark.embedded_broker


async def test_everything_reconnects_after_the_broker_restarts(tmp_path: Path) -> None:
    # Its own broker: restarting the session broker would disturb other tests. SQLite is enough here;
    # the database plays no part in reconnection.
    settings = fast_settings(f"sqlite+aiosqlite:///{tmp_path / 'lgsp.db'}", tmp_path)
    async with (
        EmbeddedBroker() as broker,
        running_hub(settings, broker.bootstrap) as hub,
        running_gateway(settings, broker.bootstrap),
    ):
        client = hub.client
        await make_agency(client)
        systems = [await make_system(client, code) for code in ("HO-TICH", "DKKD")]
        connectors = [connector_for(s, settings, broker.bootstrap) for s in systems]
        for connector in connectors:
            await connector.start()

        async def ratios() -> tuple[float | None, float | None]:
            body = (await client.get("/api/v1/indicators")).json()["connectivity"]
            return body["lgsp"]["ratio"], body["ngsp"]["ratio"]

        async def all_connected() -> bool:
            return await ratios() == (1.0, 1.0)

        async def all_down() -> bool:
            return await ratios() == (0.0, 0.0)

        try:
            await eventually(all_connected, timeout=20, what="everyone connected before the restart")
            await broker.stop()  # memory-only: every topic and group offset is gone with it
            await eventually(all_down, timeout=settings.probe_ttl + 5, what="the outage to show")
            await broker.start()
            await eventually(all_connected, timeout=30, interval=0.5, what="recovery after the restart")

            async def ready() -> bool:
                return (await client.get("/readyz")).status_code == 200

            # Workers without traffic may still be rejoining their groups when the indicator is back.
            await eventually(ready, timeout=15, what="/readyz to report every worker consuming")
        finally:
            for connector in connectors:
                await connector.stop()
