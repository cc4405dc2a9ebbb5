"""The REST façade gives the same answers and the same records as the bus path."""

import asyncio

from tests.support.exchange import CITIZEN, Axis, records


async def post(axis: Axis, key: str, body: dict[str, object]) -> tuple[int, dict[str, object]]:
    response = await axis.hub.client.post("/api/v1/exchange", json=body, headers=axis.hub.as_key(key))
    return response.status_code, response.json()


async def test_a_granted_rest_request_round_trips_and_is_recorded(axis: Axis) -> None:
    status, body = await post(
        axis,
        axis.keys["MOT-CUA"],
        {"provider": "HO-TICH", "service": "birth-record.get", "payload": {"citizen_id": CITIZEN}},
    )
    assert status == 200, body
    assert body["payload"] == {"citizen_id": CITIZEN, "father": "Nguyễn Văn An", "registered": "2003-04-05"}
    [record] = await records(axis.settings)
    assert (record.id, record.client, record.outcome) == (body["exchange_id"], "MOT-CUA", "success")


FAILURES = [
    ("QLVB", "birth-record.get", {"citizen_id": CITIZEN}, 403, "client.access_denied"),
    ("MOT-CUA", "no-such.get", {}, 404, "client.unknown_service"),
    ("MOT-CUA", "birth-record.get", {"citizen_id": "x"}, 422, "client.bad_request"),
    ("MOT-CUA", "broken.get", {}, 502, "server.provider_error"),
]


async def test_rest_failures_match_the_bus_codes(axis: Axis) -> None:
    # One axis for every case (each costs a hub and three connectors): each adds exactly one record.
    for client, service, payload, status, code in FAILURES:
        before = {r.id for r in await records(axis.settings)}
        answer_status, body = await post(
            axis, axis.keys[client], {"provider": "HO-TICH", "service": service, "payload": payload}
        )
        assert answer_status == status, (client, service, body)
        assert body["error"]["code"] == code  # type: ignore[index]
        [record] = [r for r in await records(axis.settings) if r.id not in before]
        assert record.fault_code == code, (client, service)


async def test_a_rest_timeout_is_504(axis: Axis) -> None:
    status, body = await post(
        axis, axis.keys["MOT-CUA"], {"provider": "HO-TICH", "service": "slow.get", "timeout_ms": 300}
    )
    assert status == 504
    assert body["error"]["code"] == "server.timeout"  # type: ignore[index]


async def test_only_a_systems_own_key_may_exchange(axis: Axis) -> None:
    response = await axis.hub.client.post(
        "/api/v1/exchange", json={"provider": "HO-TICH", "service": "birth-record.get"}
    )
    assert response.status_code == 403  # the admin token is not a system
    bad = await axis.hub.client.post(
        "/api/v1/exchange",
        json={"provider": "bad code!", "service": "x"},
        headers=axis.hub.as_key(axis.keys["MOT-CUA"]),
    )
    assert bad.status_code == 422
    assert await records(axis.settings) == []


async def test_slow_rest_exchanges_in_flight_do_not_hold_the_database(axis: Axis) -> None:
    """More façade calls waiting on a slow provider than the database pool has connections: the hub's
    other work (here a registry read) still gets a connection at once."""
    body = {"provider": "HO-TICH", "service": "slow.get", "timeout_ms": 2500}
    waiting = [asyncio.create_task(post(axis, axis.keys["MOT-CUA"], body)) for _ in range(40)]
    try:
        await asyncio.sleep(1.0)  # all of them in flight, each waiting for the provider
        async with asyncio.timeout(5):
            listing = await axis.hub.client.get("/api/v1/systems")
        assert listing.status_code == 200
    finally:
        answers = await asyncio.gather(*waiting)
    assert {status for status, _ in answers} == {504}, "each ended with the hub's timeout answer"
