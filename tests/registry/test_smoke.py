"""Smoke test of the fixtures: the hub starts on both databases and answers."""

from tests.support import Hub, make_agency, make_system


async def test_register_and_read_back(hub: Hub) -> None:
    await make_agency(hub.client)
    created = await make_system(hub.client, "HO-TICH")
    assert created["api_key"].startswith("lgsp_")
    response = await hub.client.get(f"/api/v1/systems/{created['id']}")
    assert response.status_code == 200
    assert "api_key" not in response.json()
