"""A 422 of request validation names the field and the rule, never the values the caller sent.

Pydantic's findings (`detail`) carried each failing value as `input`, and a missing field's `input` is
its whole parent: a façade request without `service` was answered with its payload, citizen id included,
into whatever logs the answers pass through."""

import pytest

from tests.support import Hub, make_agency, make_system

CITIZEN = "079203001234"


@pytest.fixture(scope="module")
async def system_key(shared_hub: Hub) -> str:
    """The API key of a system (the façade takes only systems' keys)."""
    await make_agency(shared_hub.client, exist_ok=True)
    return str((await make_system(shared_hub.client, "ECHO-CLIENT"))["api_key"])


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider": "HO-TICH", "payload": {"citizen_id": CITIZEN}}, "body.service"),
        ({"provider": "HO-TICH", "service": "x.get", "subject": CITIZEN * 6}, "body.subject"),
        ({"provider": f"HO-TICH {CITIZEN}", "service": "x.get"}, "body.provider"),
        (
            {"provider": "HO-TICH", "service": "x.get", "payload": {"citizen_id": CITIZEN}, "timeout_ms": 1},
            "body.timeout_ms",
        ),
    ],
)
async def test_a_refused_body_is_not_echoed(
    shared_hub: Hub, system_key: str, body: dict[str, object], field: str
) -> None:
    response = await shared_hub.client.post(
        "/api/v1/exchange", json=body, headers=shared_hub.as_key(system_key)
    )
    assert response.status_code == 422, response.text
    assert CITIZEN not in response.text
    answer = response.json()
    assert answer["error"]["message"].startswith(f"{field}: ")
    assert [".".join(map(str, d["loc"])) for d in answer["detail"]] == [field]
    assert all("input" not in d and {"type", "loc", "msg"} <= d.keys() for d in answer["detail"])
