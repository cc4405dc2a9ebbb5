"""Load on the real broker: 1,000 concurrent requests from several clients all complete, each answer
reaches the call that asked for it (correct correlation), and each leaves exactly one success record."""

import asyncio
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest

from connectors.sdk import Connector
from lgsp.settings import Settings
from tests.support import Broker, Hub, connector_for, eventually, make_agency, make_system
from tests.support.exchange import records

PROVIDER = "HO-TICH"
SERVICE = "echo.get"
CLIENTS = ("MOT-CUA-1", "MOT-CUA-2", "MOT-CUA-3", "MOT-CUA-4")
PER_CLIENT = 250


@dataclass
class Fleet:
    hub: Hub
    settings: Settings
    provider: Connector
    clients: dict[str, Connector]


@pytest.fixture
async def fleet(hub: Hub, broker: Broker, settings: Settings) -> AsyncIterator[Fleet]:
    """HO-TICH (SO-TP) serves an echo to the whole agency VP-UBND, whose four systems are clients."""
    await make_agency(hub.client, "SO-TP")
    await make_agency(hub.client, "VP-UBND")
    systems = {PROVIDER: await make_system(hub.client, PROVIDER, "SO-TP")}
    for code in CLIENTS:
        systems[code] = await make_system(hub.client, code, "VP-UBND")
    provider_id = systems[PROVIDER]["id"]
    registered = await hub.client.post(f"/api/v1/systems/{provider_id}/services", json={"code": SERVICE})
    assert registered.status_code == 201, registered.text
    granted = await hub.client.post(
        f"/api/v1/systems/{provider_id}/grants", json={"service": SERVICE, "client_agency": "VP-UBND"}
    )
    assert granted.status_code == 201, granted.text

    connectors = {code: connector_for(s, settings, broker.bootstrap) for code, s in systems.items()}
    provider = connectors[PROVIDER]

    @provider.service(SERVICE)
    async def echo(payload: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(random.uniform(0, 0.05))  # answers come back out of order
        return {"n": payload["n"], "client": payload["client"]}

    for connector in connectors.values():
        await connector.start()

    async def provider_connected() -> bool:
        status = (await hub.client.get(f"/api/v1/systems/{provider_id}/status")).json()
        return bool(status["lgsp_connected"])

    await eventually(provider_connected, timeout=15, what="the provider to connect")
    try:
        yield Fleet(hub, settings, provider, {code: connectors[code] for code in CLIENTS})
    finally:
        for connector in connectors.values():
            await connector.stop()


async def test_a_thousand_concurrent_requests_from_several_clients_are_correlated(fleet: Fleet) -> None:
    async def call(client: str, n: int) -> tuple[str, int, dict[str, Any]]:
        connector = fleet.clients[client]
        answer = await connector.request(PROVIDER, SERVICE, {"n": n, "client": client}, timeout=30)
        return client, n, answer

    # Every request is in flight at once, interleaved across the clients.
    calls = [call(client, n) for n in range(PER_CLIENT) for client in CLIENTS]
    started = time.perf_counter()
    outcomes = await asyncio.gather(*calls, return_exceptions=True)
    elapsed = time.perf_counter() - started

    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert not failures, f"{len(failures)} requests failed, e.g. {failures[:3]!r}"
    answered = [o for o in outcomes if not isinstance(o, BaseException)]
    mismatched = [(c, n, a) for c, n, a in answered if a != {"n": n, "client": c}]
    assert not mismatched, f"{len(mismatched)} answers reached the wrong call, e.g. {mismatched[:3]}"

    rows = await records(fleet.settings)
    assert len(rows) == len(CLIENTS) * PER_CLIENT
    assert len({r.id for r in rows}) == len(rows)
    assert Counter(r.outcome for r in rows) == {"success": len(rows)}
    assert {(r.provider, r.service) for r in rows} == {(PROVIDER, SERVICE)}
    assert Counter(r.client for r in rows) == dict.fromkeys(CLIENTS, PER_CLIENT)
    print(f"\n{len(rows)} concurrent exchanges in {elapsed:.2f}s")  # shown with -s
