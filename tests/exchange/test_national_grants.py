"""National services need a grant on the hub's side (issue 16, "indicators the measured can bend"): a
system an integrator just registered may not call `VN/DAN-CU citizen.get` until an admin approved a
grant for it (or its agency). Until then the hub refuses the request itself, `client.access_denied`,
and nothing goes to the NGSP.

No NGSP stub runs here: a request the hub forwards is answered `server.timeout`, which is how these tests
tell a forwarded request from a refused one. Every test runs against SQLite and PostgreSQL.
"""

import asyncio
from typing import Any

import httpx

from lgsp.exchange.service import RECHECK_AGE
from tests.support import Hub, make_agency
from tests.support.exchange import records

GRANTS = "/api/v1/national-grants"
CITIZEN_GET = {
    "provider": "VN/DAN-CU",
    "service": "citizen.get",
    "payload": {"citizen_id": "079203001234"},
    "timeout_ms": 300,
}


def body_of(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


async def call(hub: Hub, system_key: str) -> str:
    """The fault code of a national call made with `system_key` over the REST façade, once the router's
    directory has seen the latest grants (what it refuses it checks again on one at most RECHECK_AGE
    old)."""
    await asyncio.sleep(RECHECK_AGE * 2)
    response = await hub.client.post("/api/v1/exchange", json=CITIZEN_GET, headers=hub.as_key(system_key))
    assert response.status_code >= 400, response.text
    code: str = response.json()["error"]["code"]
    return code


async def test_a_national_service_needs_a_grant_an_admin_approved(hub: Hub) -> None:
    await make_agency(hub.client, "SO-TP")
    issued = await hub.client.post("/api/v1/keys", json={"role": "integrator", "agency_code": "SO-TP"})
    integrator = hub.as_key(body_of(issued, 201)["api_key"])
    system = body_of(
        await hub.client.post("/api/v1/systems", json={"code": "NEW-SYS", "name": "New"}, headers=integrator),
        201,
    )

    # Registered a moment ago, granted nothing: refused by the hub, never forwarded to the NGSP.
    assert await call(hub, system["api_key"]) == "client.access_denied"
    (refused,) = await records(hub.settings)
    assert (refused.outcome, refused.fault_code, refused.request_out_at) == (
        "fault",
        "client.access_denied",
        None,
    )

    # The integrator asks for a grant: pending, so still refused.
    asked = body_of(
        await hub.client.post(
            GRANTS,
            json={
                "client_system": "NEW-SYS",
                "provider": "VN/DAN-CU",
                "service": "citizen.get",
                "reason": "identity checks",
            },
            headers=integrator,
        ),
        202,
    )
    assert (asked["status"], asked["client_system"], asked["requested_by"]) == (
        "pending",
        "NEW-SYS",
        "integrator:SO-TP",
    )
    assert await call(hub, system["api_key"]) == "client.access_denied"
    decided = await hub.client.post(
        f"{GRANTS}/{asked['id']}/decision", json={"approve": True}, headers=integrator
    )
    assert decided.status_code == 403, decided.text

    # An admin approves it: the request now goes to the NGSP (which does not answer here).
    approved = body_of(await hub.client.post(f"{GRANTS}/{asked['id']}/decision", json={"approve": True}), 200)
    assert (approved["status"], approved["decided_by"]) == ("approved", "admin")
    assert await call(hub, system["api_key"]) == "server.timeout"
    forwarded = [r for r in await records(hub.settings) if r.fault_code != "client.access_denied"]
    assert len(forwarded) == 1 and forwarded[0].crossed_ngsp and forwarded[0].request_out_at is not None

    # Granted one service of one provider only.
    other = CITIZEN_GET | {"provider": "VN/DKDN", "service": "enterprise.get"}
    response = await hub.client.post("/api/v1/exchange", json=other, headers=hub.as_key(system["api_key"]))
    assert response.json()["error"]["code"] == "client.access_denied"

    # Withdrawn: refused again. An integrator of the client's agency may withdraw it.
    assert (await hub.client.delete(f"{GRANTS}/{asked['id']}", headers=integrator)).status_code == 204
    await asyncio.sleep(1.0)  # what the cached directory lets through is not checked again: up to 1 s old
    assert await call(hub, system["api_key"]) == "client.access_denied"


async def test_an_admin_grants_an_agency_at_once_and_integrators_of_others_may_not_ask(hub: Hub) -> None:
    await make_agency(hub.client, "SO-TP")
    await make_agency(hub.client, "SO-YT")
    first = body_of(
        await hub.client.post("/api/v1/systems", json={"code": "A-1", "name": "A", "agency_code": "SO-TP"}),
        201,
    )
    granted = body_of(
        await hub.client.post(
            GRANTS, json={"client_agency": "SO-TP", "provider": "VN/DAN-CU", "service": "citizen.get"}
        ),
        201,
    )
    assert (granted["status"], granted["client_agency"], granted["requested_by"]) == (
        "approved",
        "SO-TP",
        "admin",
    )
    assert await call(hub, first["api_key"]) == "server.timeout"

    # An integrator of another agency may not ask for this agency, nor for itself beyond the province
    # without an admin: its request stays pending.
    issued = await hub.client.post("/api/v1/keys", json={"role": "integrator", "agency_code": "SO-YT"})
    other = hub.as_key(body_of(issued, 201)["api_key"])
    sneaky = await hub.client.post(
        GRANTS,
        json={"client_agency": "SO-TP", "provider": "VN/DKDN", "service": "enterprise.get"},
        headers=other,
    )
    assert sneaky.status_code == 403, sneaky.text
    listed = body_of(await hub.client.get(GRANTS, headers=other), 200)
    assert listed["items"] == []  # another agency's grants are not its business
    everything = body_of(await hub.client.get(GRANTS), 200)
    assert [g["id"] for g in everything["items"]] == [granted["id"]]

    # A provider of the province is not a national service: refused at the door.
    provincial = await hub.client.post(
        GRANTS, json={"client_agency": "SO-TP", "provider": "HO-TICH", "service": "birth-record.get"}
    )
    assert provincial.status_code == 422, provincial.text
    # The same grant twice is a conflict.
    twice = await hub.client.post(
        GRANTS, json={"client_agency": "SO-TP", "provider": "VN/DAN-CU", "service": "citizen.get"}
    )
    assert twice.status_code == 409, twice.text
