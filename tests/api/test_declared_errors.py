"""The connectivity and report routes declare their error answers in OpenAPI (so schemathesis checks
them), and answer them in the API's one error shape."""

from typing import Any

import pytest

from tests.support import Hub, make_agency, make_system

ERROR_BODY = "#/components/schemas/ErrorBody"
#: (method, path) -> the error statuses the operation must declare.
DECLARED = {
    ("get", "/api/v1/systems/{system_id}/status"): {401, 403, 404, 422},
    ("get", "/api/v1/connectivity/systems"): {401, 403, 422},
    ("get", "/api/v1/reports/connectivity"): {401, 403, 422},
}


def _schema_ref(response: dict[str, Any]) -> str | None:
    ref = response.get("content", {}).get("application/json", {}).get("schema", {}).get("$ref")
    return ref if isinstance(ref, str) else None


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_routes_declare_their_errors_with_the_error_shape(hub: Hub) -> None:
    spec = hub.app.openapi()
    for (method, path), statuses in DECLARED.items():
        responses = spec["paths"][path][method]["responses"]
        for status in statuses:
            assert str(status) in responses, (path, status)
            assert _schema_ref(responses[str(status)]) == ERROR_BODY, (path, status, responses[str(status)])


def assert_error(response: Any, status: int, code: str) -> None:
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code, response.text
    assert response.json()["error"]["message"]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_the_declared_errors_are_what_the_routes_answer(hub: Hub) -> None:
    await make_agency(hub.client)
    system = await make_system(hub.client, "HO-TICH")
    other = await make_system(hub.client, "DAT-DAI")
    as_system = hub.as_key(system["api_key"])
    no_key = {"Authorization": ""}
    status_of = f"/api/v1/systems/{system['id']}/status"

    for url in (status_of, "/api/v1/connectivity/systems", "/api/v1/reports/connectivity"):
        assert_error(await hub.client.get(url, headers=no_key), 401, "client.unauthenticated")
    assert (await hub.client.get(status_of, headers=as_system)).status_code == 200  # its own status
    for url in (
        f"/api/v1/systems/{other['id']}/status",
        "/api/v1/connectivity/systems",
        "/api/v1/reports/connectivity",
    ):
        assert_error(await hub.client.get(url, headers=as_system), 403, "client.access_denied")
    assert_error(await hub.client.get("/api/v1/systems/999999/status"), 404, "client.not_found")
    for url in (
        "/api/v1/systems/abc/status",
        "/api/v1/connectivity/systems?limit=-1",
        "/api/v1/reports/connectivity?from=2025-02-01&to=2025-01-01",
        "/api/v1/reports/connectivity?format=pdf",
    ):
        assert_error(await hub.client.get(url), 422, "client.bad_request")
