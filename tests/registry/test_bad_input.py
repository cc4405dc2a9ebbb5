"""The registry REST API refusing bad, unknown and unauthenticated input: a clear 4xx, nothing changed.

The cases share one hub per database kind (`shared_hub`): a refused request changes nothing, and each case
checks exactly that against the registry as it was just before. Every case runs against SQLite and
PostgreSQL (the 2147483648 ids overflow PostgreSQL's integer columns).
"""

from dataclasses import dataclass
from typing import Any

import pytest

from tests.registry.test_api import AGENCIES, KEYS, SYSTEMS, bad_request, error_of
from tests.support import Hub, make_agency


@dataclass
class Registry:
    """The shared hub and the one system registered on it (agencies SO-TP and A-SO)."""

    hub: Hub
    system: dict[str, Any]


@pytest.fixture(scope="module")
async def registry(shared_hub: Hub) -> Registry:
    """Agencies SO-TP and A-SO and the system HO-TICH, registered once per shared hub."""
    client = shared_hub.client
    await make_agency(client, exist_ok=True)
    await make_agency(client, "A-SO", exist_ok=True)
    listed = [s for s in (await client.get(SYSTEMS)).json()["items"] if s["code"] == "HO-TICH"]
    if not listed:
        response = await client.post(
            SYSTEMS, json={"code": "HO-TICH", "name": "System HO-TICH", "agency_code": "SO-TP"}
        )
        assert response.status_code == 201, response.text
        listed = [response.json()]
    # What GET answers: not the one-time key, nor the trust anchor given with it.
    return Registry(
        shared_hub, {k: v for k, v in listed[0].items() if k not in ("api_key", "bus_trust", "scope_request")}
    )


async def snapshot(hub: Hub) -> list[Any]:
    """Everything a refused request must leave as it was: systems, keys and agencies."""
    return [(await hub.client.get(url)).json() for url in (SYSTEMS, KEYS, AGENCIES)]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"exempt": "perhaps"}, "exempt"),
        ({"agency_code": "x" * 65}, "agency_code"),
    ],
)
async def test_list_rejects_bad_paging(registry: Registry, params: dict[str, Any], field: str) -> None:
    bad_request(await registry.hub.client.get(SYSTEMS, params=params), field)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": None}, "name"),
        ({"level": "country"}, "level"),
        ({"level": None}, "level"),
        ({"kind": None}, "kind"),
        ({"exempt": None}, "exempt"),
        ({"description": None}, "description"),
        ({"contact_email": "not-an-email"}, "contact_email"),
        ({"description": "x" * 2001}, "description"),
    ],
)
async def test_patch_rejects_bad_bodies(registry: Registry, body: dict[str, Any], field: str) -> None:
    client = registry.hub.client
    url = f"{SYSTEMS}/{registry.system['id']}"
    bad_request(await client.patch(url, json=body), field)
    assert (await client.get(url)).json() == registry.system


@pytest.mark.parametrize("system_id", ["999999", "2147483648", "99999999999999999999"])
async def test_unknown_system_is_404(registry: Registry, system_id: str) -> None:
    client = registry.hub.client
    before = await snapshot(registry.hub)
    url = f"{SYSTEMS}/{system_id}"
    assert system_id in error_of(await client.get(url), 404, "client.not_found")
    error_of(await client.patch(url, json={"name": "x"}), 404, "client.not_found")
    error_of(await client.delete(url), 404, "client.not_found")
    error_of(await client.get(f"{url}/status"), 404, "client.not_found")
    error_of(await client.post(f"{url}/key"), 404, "client.not_found")
    assert await snapshot(registry.hub) == before


async def test_non_integer_system_id_is_422(registry: Registry) -> None:
    bad_request(await registry.hub.client.get(f"{SYSTEMS}/abc"), "system_id")


@pytest.mark.parametrize("key_id", ["999999", "2147483648", "99999999999999999999"])
async def test_unknown_key_is_404(registry: Registry, key_id: str) -> None:
    before = await snapshot(registry.hub)
    assert key_id in error_of(await registry.hub.client.delete(f"{KEYS}/{key_id}"), 404, "client.not_found")
    assert await snapshot(registry.hub) == before


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ({"code": "-bad", "name": "x", "agency_code": "SO-TP"}, ("code",)),
        ({"code": "has space", "name": "x", "agency_code": "SO-TP"}, ("code",)),
        ({"code": "A", "name": "x", "agency_code": "SO-TP"}, ("code",)),
        ({"code": "x" * 65, "name": "x", "agency_code": "SO-TP"}, ("code",)),
        ({"name": "x", "agency_code": "SO-TP"}, ("code",)),
        ({"code": "HO-TICH", "agency_code": "SO-TP"}, ("name",)),
        ({"code": "HO-TICH", "name": "", "agency_code": "SO-TP"}, ("name",)),
        ({"code": "HO-TICH", "name": "x", "agency_code": "SO-TP", "exempt": True}, ("exempt_reason",)),
        (
            {"code": "HO-TICH", "name": "x", "agency_code": "SO-TP", "exempt": True, "exempt_reason": " "},
            ("exempt_reason",),
        ),
        ({"code": "HO-TICH", "name": "x", "agency_code": "NOBODY"}, ("NOBODY",)),
        ({"code": "HO-TICH", "name": "x", "agency_code": "bad code!"}, ("agency_code",)),
        ({"code": "HO-TICH", "name": "x"}, ("agency_code",)),
        (
            {"code": "HO-TICH", "name": "x", "agency_code": "SO-TP", "contact_email": "nope"},
            ("contact_email",),
        ),
        ({"code": "HO-TICH", "name": "x", "agency_code": "SO-TP", "level": "country"}, ("level",)),
        ({"code": "HO-TICH", "name": "x", "agency_code": "SO-TP", "kind": "spreadsheet"}, ("kind",)),
    ],
)
async def test_register_rejects_bad_bodies(
    registry: Registry, body: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    before = await snapshot(registry.hub)
    bad_request(await registry.hub.client.post(SYSTEMS, json=body), *fragments)
    assert await snapshot(registry.hub) == before


async def test_register_rejects_non_json(registry: Registry) -> None:
    response = await registry.hub.client.post(
        SYSTEMS, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    bad_request(response)


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ({"name": "x"}, ("code",)),
        ({"code": "A-SO"}, ("name",)),
        ({"code": "A SO", "name": "x"}, ("code",)),
        ({"code": "A-SO", "name": "x", "level": "country"}, ("level",)),
    ],
)
async def test_agency_rejects_bad_bodies(
    registry: Registry, body: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    before = await snapshot(registry.hub)
    bad_request(await registry.hub.client.post(AGENCIES, json=body), *fragments)
    assert await snapshot(registry.hub) == before


@pytest.mark.parametrize(
    ("body", "fragments"),
    [
        ({"role": "system", "agency_code": "A-SO"}, ("role", "system")),
        ({"role": "integrator"}, ("agency_code",)),
        ({"role": "integrator", "agency_code": ""}, ("agency_code",)),
        ({"role": "integrator", "agency_code": "NOBODY"}, ("NOBODY",)),
        ({"role": "superuser"}, ("role",)),
        ({}, ("role",)),
    ],
)
async def test_create_key_rejects_bad_bodies(
    registry: Registry, body: dict[str, Any], fragments: tuple[str, ...]
) -> None:
    before = await snapshot(registry.hub)
    bad_request(await registry.hub.client.post(KEYS, json=body), *fragments)
    assert await snapshot(registry.hub) == before


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "lgsp_000000000000_" + "x" * 43,
        "lgsp_short_secret",
        "test-admin-token-012345678",
        "test-admin-token-01234567890",
    ],
)
async def test_unknown_key_is_401(registry: Registry, token: str) -> None:
    response = await registry.hub.client.get(SYSTEMS, headers=registry.hub.as_key(token))
    error_of(response, 401, "client.unauthenticated")
    assert response.headers["www-authenticate"] == "Bearer"
