"""The service catalogue over REST: declaring services, granting them, deny by default."""

from typing import Any

from tests.support import Hub, make_agency, make_system

BIRTH_RECORD = {
    "code": "birth-record.get",
    "description": "Trích lục khai sinh by citizen id",
    "request_schema": {
        "type": "object",
        "properties": {"citizen_id": {"type": "string", "pattern": "^[0-9]{12}$"}},
        "required": ["citizen_id"],
    },
}


async def provider_and_clients(hub: Hub) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    await make_agency(hub.client, "SO-TP")
    await make_agency(hub.client, "VP-UBND")
    provider = await make_system(hub.client, "HO-TICH", "SO-TP")
    one_stop = await make_system(hub.client, "MOT-CUA", "VP-UBND")
    documents = await make_system(hub.client, "QLVB", "VP-UBND")
    return provider, one_stop, documents


async def allowed(hub: Hub, system: dict[str, Any]) -> list[tuple[str, str]]:
    response = await hub.client.get(f"/api/v1/systems/{system['id']}/allowed-services")
    assert response.status_code == 200, response.text
    return [(s["provider"], s["code"]) for s in response.json()]


async def test_a_service_is_declared_listed_and_unique(hub: Hub) -> None:
    provider, one_stop, _ = await provider_and_clients(hub)
    created = await hub.client.post(f"/api/v1/systems/{provider['id']}/services", json=BIRTH_RECORD)
    assert created.status_code == 201, created.text
    assert created.json()["provider"] == "HO-TICH"
    again = await hub.client.post(f"/api/v1/systems/{provider['id']}/services", json=BIRTH_RECORD)
    assert again.status_code == 409
    # Any key may read the catalogue, another system's own key included.
    listed = await hub.client.get(
        f"/api/v1/systems/{provider['id']}/services", headers=hub.as_key(one_stop["api_key"])
    )
    assert listed.status_code == 200
    assert [s["code"] for s in listed.json()] == ["birth-record.get"]
    assert listed.json()[0]["request_schema"] == BIRTH_RECORD["request_schema"]


async def test_bad_service_bodies_are_refused_with_a_message(hub: Hub) -> None:
    provider, _, _ = await provider_and_clients(hub)
    url = f"/api/v1/systems/{provider['id']}/services"
    for body, field in [
        ({"code": "Bad Code"}, "code"),
        ({"code": "x.get", "request_schema": {"type": "no-such-type"}}, "request_schema"),
    ]:
        response = await hub.client.post(url, json=body)
        assert response.status_code == 422, response.text
        assert field in response.json()["error"]["message"]
    assert (await hub.client.post("/api/v1/systems/999/services", json=BIRTH_RECORD)).status_code == 404


async def test_access_is_denied_until_granted_to_the_system_or_its_agency(hub: Hub) -> None:
    provider, one_stop, documents = await provider_and_clients(hub)
    await hub.client.post(f"/api/v1/systems/{provider['id']}/services", json=BIRTH_RECORD)
    assert await allowed(hub, one_stop) == []

    grants = f"/api/v1/systems/{provider['id']}/grants"
    to_system = await hub.client.post(
        grants, json={"service": "birth-record.get", "client_system": "MOT-CUA"}
    )
    assert to_system.status_code == 201, to_system.text
    assert await allowed(hub, one_stop) == [("HO-TICH", "birth-record.get")]
    assert await allowed(hub, documents) == []

    to_agency = await hub.client.post(
        grants, json={"service": "birth-record.get", "client_agency": "VP-UBND"}
    )
    assert to_agency.status_code == 201, to_agency.text
    assert await allowed(hub, documents) == [("HO-TICH", "birth-record.get")]
    assert await allowed(hub, one_stop) == [("HO-TICH", "birth-record.get")]  # once, though granted twice

    duplicate = await hub.client.post(
        grants, json={"service": "birth-record.get", "client_system": "MOT-CUA"}
    )
    assert duplicate.status_code == 409
    listed = (await hub.client.get(grants)).json()
    assert {(g["client_system"], g["client_agency"]) for g in listed} == {
        ("MOT-CUA", None),
        (None, "VP-UBND"),
    }

    revoked = await hub.client.delete(f"{grants}/{to_agency.json()['id']}")
    assert revoked.status_code == 204
    assert await allowed(hub, documents) == []
    assert (await hub.client.delete(f"{grants}/{to_agency.json()['id']}")).status_code == 404


async def test_bad_grants_are_refused(hub: Hub) -> None:
    provider, _, _ = await provider_and_clients(hub)
    await hub.client.post(f"/api/v1/systems/{provider['id']}/services", json=BIRTH_RECORD)
    grants = f"/api/v1/systems/{provider['id']}/grants"
    cases: list[tuple[dict[str, str], int, str]] = [
        ({"service": "birth-record.get"}, 422, "exactly one"),
        (
            {"service": "birth-record.get", "client_system": "MOT-CUA", "client_agency": "VP-UBND"},
            422,
            "exactly one",
        ),
        ({"service": "birth-record.get", "client_system": "NOBODY"}, 422, "client_system"),
        ({"service": "birth-record.get", "client_agency": "NO-AGENCY"}, 422, "client_agency"),
        ({"service": "no-such.service", "client_system": "MOT-CUA"}, 404, "no-such.service"),
    ]
    for body, code, words in cases:
        response = await hub.client.post(grants, json=body)
        assert response.status_code == code, (body, response.text)
        assert words in response.json()["error"]["message"]


async def test_withdrawing_a_service_takes_its_grants_along(hub: Hub) -> None:
    provider, one_stop, _ = await provider_and_clients(hub)
    await hub.client.post(f"/api/v1/systems/{provider['id']}/services", json=BIRTH_RECORD)
    await hub.client.post(
        f"/api/v1/systems/{provider['id']}/grants",
        json={"service": "birth-record.get", "client_system": "MOT-CUA"},
    )
    gone = await hub.client.delete(f"/api/v1/systems/{provider['id']}/services/birth-record.get")
    assert gone.status_code == 204
    assert await allowed(hub, one_stop) == []
    assert (await hub.client.get(f"/api/v1/systems/{provider['id']}/grants")).json() == []


async def test_only_the_providers_agency_manages_its_catalogue(hub: Hub) -> None:
    provider, one_stop, _ = await provider_and_clients(hub)
    key = await hub.client.post("/api/v1/keys", json={"role": "integrator", "agency_code": "VP-UBND"})
    other_integrator = hub.as_key(key.json()["api_key"])
    url = f"/api/v1/systems/{provider['id']}"
    assert (
        await hub.client.post(f"{url}/services", json=BIRTH_RECORD, headers=other_integrator)
    ).status_code == 403
    await hub.client.post(f"{url}/services", json=BIRTH_RECORD)
    forged = {"service": "birth-record.get", "client_system": "MOT-CUA"}
    # A client cannot grant itself access, neither as its integrator nor with its own system key.
    assert (await hub.client.post(f"{url}/grants", json=forged, headers=other_integrator)).status_code == 403
    assert (
        await hub.client.post(f"{url}/grants", json=forged, headers=hub.as_key(one_stop["api_key"]))
    ).status_code == 403
    assert await allowed(hub, one_stop) == []
