"""Per-client rate limits: a burst above a client's rate is answered client.rate_limited at once and
recorded, on the bus and through the REST façade (429), while another client's requests go through."""

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from connectors.sdk import Connector, ExchangeError
from lgsp.exchange.ratelimit import RateLimiter
from lgsp.exchange.service import ExchangeRouter
from lgsp.settings import Settings
from tests.exchange.test_outcome_labels import exchange_counts
from tests.support import Broker, delete_topics, fast_settings
from tests.support.exchange import CITIZEN, Axis, records

RATE, BURST = 5.0, 10
FIRED = 4 * BURST  # requests the greedy client sends at once
LIMITED = "client.rate_limited"


def test_a_bucket_allows_its_burst_then_its_rate() -> None:
    limiter = RateLimiter(rate=2.0, burst=3)
    assert [limiter.allow("A", 0.0) for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("B", 0.0), "each client has a bucket of its own"
    assert not limiter.allow("A", 0.4), "0.8 of a token is not a token"
    assert limiter.allow("A", 0.5) and not limiter.allow("A", 0.5), "one token back after 0.5 s at 2/s"
    assert not limiter.allow("A", 0.2), "a clock read out of order adds nothing"
    # However long a client was quiet, it gets its burst back and no more.
    assert [limiter.allow("A", 100.0) for _ in range(4)] == [True, True, True, False]


@pytest.fixture
async def settings(database_url: str, tmp_path: Path, broker: Broker) -> AsyncIterator[Settings]:
    """The usual per-test settings with a low rate limit (the `hub` and `axis` fixtures use these)."""
    per_test = fast_settings(
        database_url, tmp_path, exchange_rate_per_client=RATE, exchange_burst_per_client=BURST
    )
    yield per_test
    await delete_topics(broker.bootstrap, per_test.topic_prefix)


async def outcome(connector: Connector) -> str:
    """One birth-record request's outcome: success or the fault code."""
    try:
        await connector.request("HO-TICH", "birth-record.get", {"citizen_id": CITIZEN}, timeout=10)
    except ExchangeError as exc:
        return exc.code
    return "success"


async def facade_call(hub_client: httpx.AsyncClient, key: str) -> tuple[int, str | None]:
    """One REST exchange with a system's key: the HTTP status and the fault code, if any."""
    response = await hub_client.post(
        "/api/v1/exchange",
        json={"provider": "HO-TICH", "service": "birth-record.get", "payload": {"citizen_id": CITIZEN}},
        headers={"Authorization": f"Bearer {key}"},
    )
    return response.status_code, response.json().get("error", {}).get("code")


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the limiter keeps no state in it
async def test_a_burst_over_a_clients_rate_is_limited_and_the_others_are_served(axis: Axis) -> None:
    api = axis.hub.client
    systems = (await api.get("/api/v1/systems")).json()["items"]
    provider_id = next(s["id"] for s in systems if s["code"] == "HO-TICH")
    grant = {"service": "birth-record.get", "client_system": "QLVB"}
    assert (await api.post(f"/api/v1/systems/{provider_id}/grants", json=grant)).status_code == 201
    before = exchange_counts((await api.get("/metrics")).text)

    started = time.perf_counter()
    greedy, other = await asyncio.gather(
        asyncio.gather(*(outcome(axis.client) for _ in range(FIRED))),
        asyncio.gather(*(outcome(axis.outsider) for _ in range(BURST // 2))),
    )
    elapsed = time.perf_counter() - started

    tally = Counter(greedy)
    assert set(tally) == {"success", LIMITED}, tally
    # The burst at least, and no more than the rate allowed over the whole run.
    assert BURST <= tally["success"] <= BURST + RATE * elapsed + 1, (tally, elapsed)
    assert other == ["success"] * (BURST // 2), "another client's requests are not limited"

    # Every limited request is recorded like any refusal, and counted under its own outcome.
    rows = await records(axis.settings)
    faults = Counter((r.client, r.outcome, r.fault_code) for r in rows if r.outcome != "success")
    assert faults == {("MOT-CUA", "fault", LIMITED): tally[LIMITED]}
    assert len(rows) == FIRED + BURST // 2
    after = exchange_counts((await api.get("/metrics")).text)
    assert after.get(LIMITED, 0) == before.get(LIMITED, 0) + tally[LIMITED]

    # The REST façade admits through the router's limiter too: given one that allows a single request
    # (and refills too slowly to matter), the second call is refused with 429 and the same code.
    router: ExchangeRouter = axis.hub.app.state.runtime.facade.router
    router.limiter = RateLimiter(rate=1e-6, burst=1)
    answers = [await facade_call(api, axis.keys["QLVB"]) for _ in range(2)]
    assert answers == [(200, None), (429, LIMITED)], answers
