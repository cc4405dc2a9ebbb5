"""What anyone can call is limited per client address, and so are failed keys: the 1000th anonymous
request within a second from one address gets 429 `client.rate_limited` with a Retry-After, and an
address that keeps presenting bad keys is refused for a while before its requests reach the database,
while other addresses and keyed callers carry on. Run with the limits' defaults (the test hubs raise them).
"""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from lgsp.api import addresses
from lgsp.api.addresses import BURST_SECONDS
from lgsp.settings import Settings
from tests.api.statements import statements
from tests.support import Broker, Hub, delete_topics, fast_settings, make_agency, make_system

#: Addresses as a trusted proxy (the test client's 127.0.0.1) reports them in X-Forwarded-For.
FLOODER, BRUTE, OTHER = "198.51.100.7", "203.0.113.9", "192.0.2.44"
#: Well formed, so the hub looks its lookup part up in the database before refusing it.
BAD_KEY = "lgsp_abcdefghijkl_" + "x" * 40
LIMITS = ("public_rate_per_address", "auth_failures_per_address")


@pytest.fixture
async def settings(database_url: str, tmp_path: Path, broker: Broker) -> AsyncIterator[Settings]:
    """The hub with its default limits, not the test hubs' raised ones."""
    defaults = {name: Settings.model_fields[name].default for name in LIMITS}
    per_test = fast_settings(database_url, tmp_path, **defaults)
    yield per_test
    await delete_topics(broker.bootstrap, per_test.topic_prefix)


def from_address(address: str, key: str | None = None) -> dict[str, str]:
    """Headers of a request relayed by the trusted proxy for `address`, with `key` if given."""
    headers = {"X-Forwarded-For": address}
    return headers | ({"Authorization": f"Bearer {key}"} if key else {})


@pytest.fixture
async def anyone(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the hub without a key."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=hub.app), base_url="http://hub") as client:
        yield client


@pytest.fixture
def stopped(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The limits' clock, stopped (the test moves it on by hand): the buckets refill only when it says."""
    now = [addresses.clock()]
    monkeypatch.setattr(addresses, "clock", lambda: now[0])
    return now


def assert_rate_limited(response: httpx.Response) -> None:
    assert response.status_code == 429, response.text
    assert response.json()["error"]["code"] == "client.rate_limited"
    assert int(response.headers["Retry-After"]) >= 1


async def test_the_thousandth_anonymous_request_within_a_second_gets_429(
    hub: Hub, anyone: httpx.AsyncClient, stopped: list[float]
) -> None:
    headers = from_address(FLOODER)
    answers: list[httpx.Response] = []
    for _ in range(10):  # a thousand requests at one instant of the limits' clock
        answers += await asyncio.gather(
            *(anyone.get("/api/v1/indicators", headers=headers) for _ in range(100))
        )
    rate = hub.settings.public_rate_per_address
    burst = int(rate * BURST_SECONDS)
    assert [a.status_code for a in answers] == [200] * burst + [429] * (1000 - burst)
    assert_rate_limited(answers[-1])
    # A second later the address has its rate again, and no more.
    stopped[0] += 1.0
    later = [
        (await anyone.get("/api/v1/indicators", headers=headers)).status_code for _ in range(int(rate) + 1)
    ]
    assert later == [200] * int(rate) + [429]
    # Other addresses, and keyed callers from the same one, are not affected.
    assert (await anyone.get("/api/v1/indicators", headers=from_address(OTHER))).status_code == 200
    assert (await hub.client.get("/api/v1/agencies", headers=from_address(FLOODER))).status_code == 200


async def test_repeated_bad_keys_from_one_address_get_429_without_a_database_query(
    hub: Hub, anyone: httpx.AsyncClient, stopped: list[float]
) -> None:
    await make_agency(hub.client)
    good = (await make_system(hub.client, "QLVB"))["api_key"]
    allowed = hub.settings.auth_failures_per_address
    statuses = [
        (await anyone.get("/api/v1/agencies", headers=from_address(BRUTE, BAD_KEY))).status_code
        for _ in range(allowed + 2)
    ]
    assert statuses[:allowed] == [401] * allowed
    assert statuses[-1] == 429, statuses

    with statements() as seen:
        refused = await anyone.get("/api/v1/agencies", headers=from_address(BRUTE, BAD_KEY))
    assert_rate_limited(refused)
    assert not [s for s in seen if "apikey" in s.lower()], "a refused key was still looked up"
    # Even a good key is refused from that address for a while; from another address it works.
    assert_rate_limited(await anyone.get("/api/v1/agencies", headers=from_address(BRUTE, good)))
    assert (await anyone.get("/api/v1/agencies", headers=from_address(OTHER, good))).status_code == 200
    # Public pages stay open to the address (they take no key).
    assert (await anyone.get("/api/v1/indicators", headers=from_address(BRUTE))).status_code == 200
