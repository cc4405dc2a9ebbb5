"""Test factories: agencies, systems and their connectors, made through the real API."""

from typing import Any

import httpx

from connectors.sdk import Connector
from lgsp.settings import Settings
from sandbox.demo import tuned_connector
from tests.support.waiting import eventually


async def make_agency(
    client: httpx.AsyncClient, code: str = "SO-TP", level: str = "province", *, exist_ok: bool = False
) -> None:
    """Register an agency as admin (with `exist_ok`, an agency already there is fine: shared hubs)."""
    response = await client.post(
        "/api/v1/agencies", json={"code": code, "name": f"Agency {code}", "level": level}
    )
    expected = {201, 409} if exist_ok else {201}
    assert response.status_code in expected, response.text


async def make_system(
    client: httpx.AsyncClient, code: str, agency: str = "SO-TP", **extra: Any
) -> dict[str, Any]:
    """Register a system as admin and return the answer (with its one-time api_key)."""
    response = await client.post(
        "/api/v1/systems", json={"code": code, "name": f"System {code}", "agency_code": agency, **extra}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def connector_for(system: dict[str, Any], settings: Settings, bootstrap: str) -> Connector:
    """A connector for a system registered with `make_system`, tuned like the hub in `settings`."""
    return tuned_connector(settings, system["code"], system["api_key"], bootstrap, system["bus_trust"])


async def wait_connected(client: httpx.AsyncClient, system: dict[str, Any], timeout: float = 15.0) -> None:
    """Wait until the hub has the system connected to the LGSP: its hello applied and a probe answered
    (the hub forwards calls only to a provider it counts as connected)."""

    async def connected() -> bool:
        status = (await client.get(f"/api/v1/systems/{system['id']}/status")).json()
        return bool(status["lgsp_connected"])

    await eventually(connected, timeout=timeout, what=f"{system['code']} connected to the LGSP")
