"""Fixtures of the exchange tests: a provider, a granted client and an outsider, all connected."""

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest

from connectors.faults import ServiceFault
from lgsp.settings import Settings
from tests.support import Broker, Hub, connector_for, eventually, make_agency, make_system
from tests.support.exchange import BIRTH_RECORD, Axis


@pytest.fixture
async def axis(hub: Hub, broker: Broker, settings: Settings) -> AsyncIterator[Axis]:
    """HO-TICH serves birth records to MOT-CUA (granted); QLVB is registered but not granted."""
    await make_agency(hub.client, "SO-TP")
    await make_agency(hub.client, "VP-UBND")
    systems = {
        code: await make_system(hub.client, code, agency)
        for code, agency in (("HO-TICH", "SO-TP"), ("MOT-CUA", "VP-UBND"), ("QLVB", "VP-UBND"))
    }
    provider_id = systems["HO-TICH"]["id"]
    assert (
        await hub.client.post(f"/api/v1/systems/{provider_id}/services", json=BIRTH_RECORD)
    ).status_code == 201
    for service in ("slow.get", "broken.get", "unserved.get"):
        await hub.client.post(f"/api/v1/systems/{provider_id}/services", json={"code": service})
        await hub.client.post(
            f"/api/v1/systems/{provider_id}/grants", json={"service": service, "client_system": "MOT-CUA"}
        )
    granted = await hub.client.post(
        f"/api/v1/systems/{provider_id}/grants",
        json={"service": "birth-record.get", "client_system": "MOT-CUA"},
    )
    assert granted.status_code == 201
    connectors = {code: connector_for(s, settings, broker.bootstrap) for code, s in systems.items()}
    provider = connectors["HO-TICH"]

    @provider.service("birth-record.get")
    async def birth_record(payload: dict[str, Any]) -> dict[str, Any]:
        return {"citizen_id": payload["citizen_id"], "father": "Nguyễn Văn An", "registered": "2003-04-05"}

    @provider.service("slow.get")
    async def slow(payload: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(3)
        return {}

    @provider.service("broken.get")
    async def broken(payload: dict[str, Any]) -> dict[str, Any]:
        if "fault" in payload:  # a fault answered on purpose, with a stable code
            raise ServiceFault(payload["fault"], "the civil status database is away")
        raise RuntimeError("database of civil status is locked")

    for connector in connectors.values():
        await connector.start()

    async def provider_connected() -> bool:
        status = (await hub.client.get(f"/api/v1/systems/{provider_id}/status")).json()
        return bool(status["lgsp_connected"])

    await eventually(provider_connected, timeout=15, what="the provider to connect")
    try:
        keys = {code: s["api_key"] for code, s in systems.items()}
        yield Axis(hub, provider, connectors["MOT-CUA"], connectors["QLVB"], settings, keys)
    finally:
        for connector in connectors.values():
            await connector.stop()
