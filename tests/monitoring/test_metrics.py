"""The hub's live /metrics: promtool's lint, the names operators rely on, and the outage and lag gauges."""

import asyncio
import contextlib
import uuid
from collections.abc import Sequence

import pytest
from prometheus_client import REGISTRY
from prometheus_client.parser import text_string_to_metric_families

from buscore.signing import HUB
from lgsp.bus import Bus, Delivery, Rejection, Worker
from lgsp.settings import Settings
from schemas.messages import CONNECTIVITY, Heartbeat, Hello, ProbeReply
from schemas.topics import Topics
from tests.monitoring.tools import exported_names, promtool
from tests.support import Broker, Hub, connector_for, eventually, make_agency, make_system
from tests.support.signing import authenticator, made_up_signer

# the design (docs/architecture/design.md, section 8) and the monitoring rules depend on these.
REQUIRED = {
    "lgsp_systems_in_scope",
    "lgsp_systems_connected",
    "lgsp_systems_disconnected_seconds_max",
    "lgsp_connectivity_ratio",
    "lgsp_once_only_ratio",
    "lgsp_exchanges_total",
    "lgsp_exchange_duration_seconds_bucket",
    "lgsp_exchange_duration_seconds_count",
    "lgsp_exchange_duration_seconds_sum",
    "lgsp_dead_letters_total",
    "lgsp_heartbeats_total",
    "lgsp_probes_total",
    "lgsp_outbox_backlog",
    "lgsp_bus_consumer_lag_records",
    "lgsp_event_loop_lag_seconds_count",
}
sqlite_only = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


def sample(exposition: str, name: str, **labels: str) -> float | None:
    """The value of one series in an exposition, or None when it is absent."""
    for family in text_string_to_metric_families(exposition):
        for s in family.samples:
            if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
                return float(s.value)
    return None


async def scrape(hub: Hub) -> str:
    """The hub's /metrics, fetched without credentials as Prometheus does."""
    response = await hub.client.get("/metrics", headers={"Authorization": ""})
    assert response.status_code == 200, response.text
    return response.text


@sqlite_only
async def test_live_scrape_passes_promtool_and_has_every_metric(
    hub: Hub, broker: Broker, settings: Settings
) -> None:
    await make_agency(hub.client)
    system = await make_system(hub.client, "HO-TICH")
    async with connector_for(system, settings, broker.bootstrap):
        # A connected system makes the labelled series (probes, heartbeats, lag...) carry samples.
        await eventually(lambda: _connected_on_lgsp(hub), timeout=10, what="the connectivity gauge at 1")
        exposition = await scrape(hub)
    assert promtool("check", "metrics", stdin=exposition).strip() == ""
    missing = REQUIRED - exported_names(exposition)
    assert not missing, missing
    assert sample(exposition, "lgsp_bus_consumer_lag_records", worker="connectivity") is not None


async def _connected_on_lgsp(hub: Hub) -> bool:
    return sample(await scrape(hub), "lgsp_connectivity_ratio", link="lgsp") == 1.0


async def test_longest_outage_counts_from_registration_and_ends_with_the_connection(
    hub: Hub, broker: Broker, settings: Settings
) -> None:
    """Both databases: the outage start is a MIN over a CASE of timestamps, computed in SQL."""
    await make_agency(hub.client)
    system = await make_system(hub.client, "DAT-DAI")  # registered, not connected yet

    async def outage(link: str) -> float:
        return sample(await scrape(hub), "lgsp_systems_disconnected_seconds_max", link=link) or 0.0

    async def down_for_a_while() -> bool:
        return await outage("lgsp") >= 0.5

    await eventually(down_for_a_while, timeout=10, what="an outage counted since registration")
    # It grows with time: this hub computes it (the registry is process-wide; no earlier hub's leftover).
    counted = await outage("lgsp")

    async def growing() -> bool:
        return await outage("lgsp") > counted

    await eventually(growing, timeout=5, what="the outage to grow")
    async with connector_for(system, settings, broker.bootstrap):

        async def lgsp_outage_over() -> bool:
            exposition = await scrape(hub)
            return (
                sample(exposition, "lgsp_systems_disconnected_seconds_max", link="lgsp") == 0.0
                and sample(exposition, "lgsp_connectivity_ratio", link="lgsp") == 1.0
            )

        await eventually(lgsp_outage_over, timeout=10, what="no outage left on the LGSP link")
        # No NGSP stub runs here: the national link stays down, and its outage keeps growing.
        assert await outage("ngsp") >= 0.5


@sqlite_only
async def test_consumer_lag_is_what_the_broker_holds_beyond_the_workers_position(
    broker: Broker, settings: Settings
) -> None:
    system = made_up_signer("HO-TICH")  # the heartbeats' sender, whose key the worker knows
    bus = Bus(
        broker.bootstrap,
        Topics(settings.topic_prefix),
        signer=made_up_signer(HUB),
        authenticate=authenticator(system),
        session_timeout_ms=settings.consumer_session_timeout_ms,
    )
    topic = f"{settings.topic_prefix}.lag"
    name = f"lag-{uuid.uuid4().hex[:8]}"
    release = asyncio.Event()
    handled: list[Delivery[Hello | Heartbeat | ProbeReply]] = []

    async def slow(deliveries: Sequence[Delivery[Hello | Heartbeat | ProbeReply]]) -> list[Rejection]:
        handled.extend(deliveries)
        await release.wait()
        return []

    def lag() -> float | None:
        return REGISTRY.get_sample_value("lgsp_bus_consumer_lag_records", {"worker": name})

    await bus.start()
    try:
        await bus.ensure_topics({topic: 1})
        # One send per record: the embedded broker's high watermark undercounts multi-record batches.
        for _ in range(5):
            beat = Heartbeat(system="HO-TICH", session_id=uuid.uuid4())
            await bus.send_all([(topic, system.seal(beat), "HO-TICH")])
        worker = Worker(bus, name, topic, CONNECTIVITY, slow, group=f"{topic}.group", max_batch=1)
        running = asyncio.create_task(worker.run())
        try:

            async def stuck_on_the_first() -> bool:
                return lag() == 4.0

            await eventually(stuck_on_the_first, timeout=15, what="lag 4 behind the first record")
            release.set()

            async def caught_up() -> bool:
                return len(handled) == 5 and lag() == 0.0

            await eventually(caught_up, timeout=10, what="lag 0 once every record is handled")
        finally:
            running.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await running
    finally:
        await bus.stop()
