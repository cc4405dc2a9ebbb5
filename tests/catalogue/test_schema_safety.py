"""Request schemas that could hurt the hub: refused when declared, or applied in bounded time; and faults
that say which field broke which rule without repeating the value.

Before: `"pattern": "^(a+)+$"` was accepted and run by Python's `re` on the event loop every exchange,
heartbeat and API call shares (34 characters took minutes); `{"allOf": [{"$ref": "#"}]}` was accepted
and raised RecursionError on every request; and a fault message quoted the payload's value (a citizen
id), kept in the exchange record and readable over the API."""

import asyncio
import contextlib
import signal
from collections.abc import Iterator
from dataclasses import dataclass
from types import FrameType
from typing import Any
from uuid import uuid4

import pytest

from lgsp.exchange.admission import Refuse, bad_request
from lgsp.exchange.directory import load_directory
from lgsp.exchange.service import RECHECK_AGE
from lgsp.runtime import Runtime
from schemas.messages import ServiceRequest
from tests.support import Hub, make_agency, make_system

CITIZEN = "079203001234"
#: A pattern that backtracks catastrophically in Python's `re` (2^n steps for n letters and a mismatch).
EVIL = "^(a+)+$"
EVIL_SCHEMA = {"type": "object", "properties": {"name": {"type": "string", "pattern": EVIL}}}
CITIZEN_SCHEMA = {
    "type": "object",
    "properties": {"citizen_id": {"type": "string", "pattern": "^[0-9]{12}$"}},
    "required": ["citizen_id"],
    "additionalProperties": False,
}


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Raise TimeoutError in whatever runs longer than `seconds` (Python's regex engine checks signals
    as it backtracks, so a runaway match is interrupted, not waited out)."""

    def expire(signum: int, frame: FrameType | None) -> None:
        raise TimeoutError(f"still running after {seconds} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


#: A system may declare this many services here (LGSP_MAX_SERVICES_PER_SYSTEM, 100 by default).
SERVICES_PER_SYSTEM = 6


@pytest.fixture(scope="module")
def shared_settings() -> dict[str, Any]:
    """The shared hub of this module lets a system declare SERVICES_PER_SYSTEM services."""
    return {"max_services_per_system": SERVICES_PER_SYSTEM}


@dataclass
class Province:
    """The shared hub with a provider (HO-TICH), a client granted its services (MOT-CUA) and its key."""

    hub: Hub
    provider_id: int
    client_key: str


@pytest.fixture(scope="module")
async def province(shared_hub: Hub) -> Province:
    """HO-TICH and MOT-CUA, registered once per shared hub."""
    await make_agency(shared_hub.client, exist_ok=True)
    provider = await make_system(shared_hub.client, "HO-TICH")
    client = await make_system(shared_hub.client, "MOT-CUA")
    return Province(shared_hub, provider["id"], client["api_key"])


async def declare(province: Province, code: str, **schemas: Any) -> Any:
    """Declare a service of HO-TICH and grant it to MOT-CUA when it was accepted; the declaration's answer."""
    url = f"/api/v1/systems/{province.provider_id}"
    response = await province.hub.client.post(f"{url}/services", json={"code": code, **schemas})
    if response.status_code == 201:
        granted = await province.hub.client.post(
            f"{url}/grants", json={"service": code, "client_system": "MOT-CUA"}
        )
        assert granted.status_code == 201, granted.text
        await asyncio.sleep(RECHECK_AGE * 1.5)  # the router's directory may predate the grant this long
    return response


async def call(province: Province, service: str, payload: dict[str, Any]) -> Any:
    """MOT-CUA's call of HO-TICH's `service` through the REST façade."""
    body = {"provider": "HO-TICH", "service": service, "payload": payload, "timeout_ms": 300}
    return await province.hub.client.post(
        "/api/v1/exchange", json=body, headers=province.hub.as_key(province.client_key)
    )


def request(service: str, payload: dict[str, Any]) -> ServiceRequest:
    """MOT-CUA's request, as admission reads it."""
    return ServiceRequest.model_validate(
        {"client": "MOT-CUA", "session_id": uuid4(), "provider": "HO-TICH", "service": service}
        | {"payload": payload}
    )


async def test_a_catastrophic_pattern_is_matched_in_linear_time(province: Province) -> None:
    declared = await declare(province, "evil.get", request_schema=EVIL_SCHEMA)
    assert declared.status_code == 201, declared.text  # the hub's engine cannot backtrack: nothing to refuse
    runtime: Runtime = province.hub.app.state.runtime
    async with runtime.database.sessions() as session:
        directory = await load_directory(session)
    with time_limit(2.0):
        for length in (34, 100_000):
            refused = bad_request(request("evil.get", {"name": "a" * length + "!"}), directory)
            assert isinstance(refused, Refuse), length
            assert refused.fault.message == f"name: does not match pattern {EVIL}"
        assert bad_request(request("evil.get", {"name": "a" * 100_000}), directory) is None
        # Through the REST façade: answered at once, and the hub goes on answering.
        answer = await call(province, "evil.get", {"name": "a" * 34 + "!"})
    assert answer.status_code == 422, answer.text
    assert (await province.hub.client.get("/api/v1/agencies")).status_code == 200


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ({"allOf": [{"$ref": "#"}]}, '$ref "#" at /allOf/0 leads back to /'),
        ({"$ref": "#"}, '$ref "#" at / leads back to /'),
        (
            {"$defs": {"a": {"anyOf": [{"$ref": "#/$defs/b"}]}, "b": {"not": {"$ref": "#/$defs/a"}}}}
            | {"$ref": "#/$defs/a"},
            "leads back to /$defs/a",
        ),
        ({"$id": "https://x.example/s", "oneOf": [{"$ref": "s"}]}, "at /oneOf/0 leads back to /"),
        ({"$defs": {"n": {"$anchor": "node", "allOf": [{"$ref": "#node"}]}}, "$ref": "#node"}, "#node"),
    ],
)
async def test_a_loop_of_references_is_refused_when_declared(
    province: Province, schema: dict[str, Any], words: str
) -> None:
    response = await declare(province, "loop.get", request_schema=schema)
    assert response.status_code == 422, response.text
    message = response.json()["error"]["message"]
    assert message.startswith("request_schema: ") and words in message, message
    assert "never end" in message


async def test_recursion_that_reads_deeper_into_the_payload_is_accepted(province: Province) -> None:
    tree = {"type": "object", "properties": {"child": {"$ref": "#"}, "name": {"type": "string"}}}
    assert (await declare(province, "tree.get", request_schema=tree)).status_code == 201
    nested: dict[str, Any] = {"name": "leaf"}
    for _ in range(50):
        nested = {"child": nested}
    answer = await call(province, "tree.get", {"child": {"name": 3}})
    assert (
        answer.status_code == 422 and answer.json()["error"]["message"] == "child/name: is not of type string"
    )
    # A valid payload passes the schema (and waits for HO-TICH, which is not connected).
    assert (await call(province, "tree.get", nested)).json()["error"]["code"] == "server.provider_unreachable"


@pytest.mark.parametrize(
    ("schema", "words"),
    [
        ({"type": "no-such-type"}, "not a valid JSON Schema (Draft 2020-12) at /type"),
        ({"pattern": "(?=a)b"}, "no lookaround and no backreferences"),
        ({"pattern": "(a)\\1"}, "no lookaround and no backreferences"),
        ({"pattern": "^\\p{L}{1,64}$"}, "bound lengths with minLength and maxLength"),
        ({"patternProperties": {"(?<=a)b": {}}}, "the regular expression at /patternProperties"),
        ({"$ref": "https://example.com/schema.json"}, "the hub fetches none"),
        ({"$ref": "#/$defs/missing"}, "cannot be resolved"),
        ({"properties": {f"p{n}": {"pattern": f"^{n}$"} for n in range(101)}}, "101 regular expressions"),
    ],
)
async def test_schemas_the_hub_cannot_apply_safely_are_refused(
    province: Province, schema: dict[str, Any], words: str
) -> None:
    for field in ("request_schema", "response_schema"):
        response = await declare(province, "refused.get", **{field: schema})
        assert response.status_code == 422, response.text
        message = response.json()["error"]["message"]
        assert message.startswith(f"{field}: ") and words in message, message


async def test_a_schema_over_the_size_limit_is_refused(province: Province) -> None:
    limit = province.hub.settings.max_schema_bytes
    big = {"description": "x" * limit}
    response = await declare(province, "big.get", request_schema=big)
    assert response.status_code == 422, response.text
    assert f"over the hub's limit of {limit}" in response.json()["error"]["message"]


async def test_a_fault_names_the_field_and_the_rule_never_the_value(province: Province) -> None:
    assert (await declare(province, "citizen.get", request_schema=CITIZEN_SCHEMA)).status_code == 201
    wrong = CITIZEN[:-1] + "X"
    cases = {
        "citizen_id: does not match pattern ^[0-9]{12}$": {"citizen_id": wrong},
        "citizen_id: is not of type string": {"citizen_id": int(CITIZEN)},
        "payload: lacks required property citizen_id": {},
        "payload: has properties the schema does not allow": {"citizen_id": CITIZEN, CITIZEN + "9": 1},
    }
    for expected, payload in cases.items():
        answer = await call(province, "citizen.get", payload)
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["message"] == expected
    # Nor is the value in the exchange records, which the API serves and the audit trail seals.
    listed = await province.hub.client.get("/api/v1/exchanges", params={"provider": "HO-TICH", "limit": 1000})
    messages = [r["fault_message"] for r in listed.json()["items"] if r["service"] == "citizen.get"]
    assert sorted(messages) == sorted(cases)
    assert not any(CITIZEN in m or wrong in m or CITIZEN[:6] in m for m in messages)


async def test_a_system_declares_a_bounded_number_of_services(province: Province) -> None:
    system = await make_system(province.hub.client, "MANY-SERVICES")
    url = f"/api/v1/systems/{system['id']}/services"
    for n in range(SERVICES_PER_SYSTEM):
        response = await province.hub.client.post(url, json={"code": f"s{n}.get"})
        assert response.status_code == 201, response.text
    response = await province.hub.client.post(url, json={"code": "one-too-many.get"})
    assert response.status_code == 409, response.text
    assert "LGSP_MAX_SERVICES_PER_SYSTEM" in response.json()["error"]["message"]
    # Withdrawing one makes room for another.
    assert (await province.hub.client.delete(f"{url}/s0.get")).status_code == 204
    assert (await province.hub.client.post(url, json={"code": "one-too-many.get"})).status_code == 201
