"""Connectivity end to end on the real broker: connectors, the hub's tracker and the NGSP stub."""

import time
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlmodel import col, select

from lgsp.connectivity.models import LinkStateChange
from lgsp.db import Database
from lgsp.settings import Settings
from sandbox.ngsp.gateway import NationalGateway
from sandbox.ngsp.service import running_gateway
from tests.support import Broker, Hub, connector_for, eventually, make_agency, make_system


@pytest.fixture
async def ngsp(settings: Settings, broker: Broker) -> AsyncIterator[NationalGateway]:
    async with running_gateway(settings, broker.bootstrap) as gateway:
        yield gateway


async def status_of(hub: Hub, system: dict[str, Any]) -> dict[str, Any]:
    response = await hub.client.get(f"/api/v1/systems/{system['id']}/status")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def indicators(hub: Hub) -> dict[str, Any]:
    response = await hub.client.get("/api/v1/indicators", headers={"Authorization": ""})
    assert response.status_code == 200
    body: dict[str, Any] = response.json()["connectivity"]
    return body


async def test_connector_connects_both_links_then_disconnects_after_the_ttl(
    hub: Hub, ngsp: NationalGateway, broker: Broker, settings: Settings
) -> None:
    await make_agency(hub.client)
    system = await make_system(hub.client, "HO-TICH")
    connector = connector_for(system, settings, broker.bootstrap)
    await connector.start()
    try:

        async def both_connected() -> bool:
            s = await status_of(hub, system)
            return bool(s["lgsp_connected"] and s["ngsp_connected"])

        # "within a few heartbeat intervals" of the probes and the national acknowledgement
        await eventually(both_connected, timeout=10 * settings.heartbeat_interval + 5, what="both links up")
        assert (await ngsp.registered())["HO-TICH"] is True
        assert connector.probes_answered >= 2  # one through the hub, one through the NGSP
        now = await indicators(hub)
        assert now["lgsp"] == {"connected": 1, "in_scope": 1, "ratio": 1.0, "target": 1.0}
        assert now["ngsp"]["ratio"] == 1.0
    finally:
        await connector.stop()
    stopped_at = time.monotonic()

    async def both_down() -> bool:
        s = await status_of(hub, system)
        return not s["lgsp_connected"] and not s["ngsp_connected"]

    await eventually(both_down, timeout=settings.heartbeat_ttl + 5, what="both links down")
    # Not before the TTL: a missing heartbeat is only a disconnection once it is older than the TTL.
    assert time.monotonic() - stopped_at >= settings.heartbeat_ttl - settings.heartbeat_interval
    final = await status_of(hub, system)
    assert final["lgsp_reason"] in {"heartbeat stale", "no successful probe within the TTL"}
    lgsp_changes = [(c["connected"]) for c in reversed(final["recent_changes"]) if c["link"] == "lgsp"]
    ngsp_changes = [(c["connected"]) for c in reversed(final["recent_changes"]) if c["link"] == "ngsp"]
    assert lgsp_changes == [True, False]
    assert ngsp_changes == [True, False]
    assert (await indicators(hub))["lgsp"] == {"connected": 0, "in_scope": 1, "ratio": 0.0, "target": 1.0}


async def test_without_the_ngsp_only_the_lgsp_link_comes_up(
    hub: Hub, broker: Broker, settings: Settings
) -> None:
    await make_agency(hub.client)
    system = await make_system(hub.client, "DAT-DAI")
    async with connector_for(system, settings, broker.bootstrap):

        async def lgsp_up() -> bool:
            return bool((await status_of(hub, system))["lgsp_connected"])

        await eventually(lgsp_up, timeout=10, what="LGSP link up")
        # Give the NGSP link every chance it would have had; with no NGSP it must stay down.
        await eventually(lgsp_up, timeout=1)
        s = await status_of(hub, system)
        assert not s["ngsp_connected"]
        assert s["ngsp_reason"] == "not acknowledged in the national catalogue"
        now = await indicators(hub)
        assert (now["lgsp"]["ratio"], now["ngsp"]["ratio"]) == (1.0, 0.0)


async def test_exempt_systems_do_not_count_and_ratios_match_the_stored_changes(
    hub: Hub, ngsp: NationalGateway, broker: Broker, settings: Settings
) -> None:
    await make_agency(hub.client)
    up = await make_system(hub.client, "QLVB")
    down = await make_system(hub.client, "LLTP")  # registered, never connects
    secret = await make_system(hub.client, "MAT-CA", exempt=True, exempt_reason="state secret")
    async with (
        connector_for(up, settings, broker.bootstrap),
        connector_for(secret, settings, broker.bootstrap),
    ):

        async def settled() -> bool:
            return bool(
                (await status_of(hub, up))["ngsp_connected"]
                and (await status_of(hub, secret))["lgsp_connected"]
            )

        await eventually(settled, timeout=15, what="QLVB on both links and MAT-CA on the LGSP")
        now = await indicators(hub)
        # The exempt system is connected but counts in neither numerator nor denominator.
        assert now["lgsp"] == {"connected": 1, "in_scope": 2, "ratio": 0.5, "target": 1.0}
        assert not (await status_of(hub, secret))["ngsp_connected"]  # exempt: not linked nationally
        assert (await ngsp.registered()).get("MAT-CA") is not True
        assert (await status_of(hub, secret))[
            "ngsp_reason"
        ] == "exempt (state secret): not linked to the NGSP"

        # Replaying the stored state changes gives the same current state as the indicator.
        database = Database(settings.database_url)
        try:
            async with database.sessions() as session:
                changes = (
                    await session.exec(select(LinkStateChange).order_by(col(LinkStateChange.id)))
                ).all()
        finally:
            await database.dispose()
        latest: dict[tuple[int, str], bool] = {}
        for change in changes:
            latest[(change.system_id, change.link.value)] = change.connected
        in_scope = {up["id"], down["id"]}
        replayed = {
            link: sum(1 for (sid, lk), c in latest.items() if lk == link and c and sid in in_scope)
            for link in ("lgsp", "ngsp")
        }
        now = await indicators(hub)
        assert replayed == {"lgsp": now["lgsp"]["connected"], "ngsp": now["ngsp"]["connected"]}
        assert (down["id"], "lgsp") not in latest  # never connected: no change recorded


async def test_a_retired_system_leaves_the_indicator_and_the_national_catalogue(
    hub: Hub, ngsp: NationalGateway, broker: Broker, settings: Settings
) -> None:
    await make_agency(hub.client)
    system = await make_system(hub.client, "BHXH")
    async with connector_for(system, settings, broker.bootstrap):

        async def registered(expected: bool) -> bool:
            return (await ngsp.registered()).get("BHXH") is expected

        await eventually(lambda: registered(True), timeout=10, what="national registration")
        assert (await hub.client.delete(f"/api/v1/systems/{system['id']}")).status_code == 204
        await eventually(lambda: registered(False), timeout=10, what="national withdrawal")
        assert (await indicators(hub))["lgsp"]["in_scope"] == 0
