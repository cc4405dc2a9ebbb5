"""Exchanges through the hub on the real broker: every outcome gets its code and exactly one record."""

import asyncio
from collections.abc import Iterable
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaTimeoutError

from connectors.sdk import Connector, ExchangeError
from lgsp.bus import Bus
from lgsp.exchange.admission import Outgoing
from lgsp.settings import Settings
from schemas.messages import ServiceRequest
from schemas.topics import Topics
from tests.support import eventually
from tests.support.exchange import CITIZEN, PURPOSE, Axis, records


async def test_a_granted_request_round_trips_and_leaves_one_record(axis: Axis) -> None:
    answer = await axis.client.request(
        "HO-TICH", "birth-record.get", {"citizen_id": CITIZEN}, subject=CITIZEN, purpose=PURPOSE
    )
    assert answer["father"] == "Nguyễn Văn An"
    [record] = await records(axis.settings)
    assert (record.client, record.provider, record.service) == ("MOT-CUA", "HO-TICH", "birth-record.get")
    assert record.outcome == "success" and record.fault_code is None
    assert record.request_in_at <= record.request_out_at <= record.response_in_at <= record.response_out_at  # type: ignore[operator]
    assert record.request_size > 0 and (record.response_size or 0) > 0
    assert record.subject_hash and CITIZEN not in record.subject_hash  # only a keyed hash is kept
    assert not record.crossed_ngsp


FAILURES = [
    ("outsider", "birth-record.get", {"citizen_id": CITIZEN}, "client.access_denied"),
    ("client", "no-such.get", {}, "client.unknown_service"),
    ("client", "birth-record.get", {"citizen_id": "12"}, "client.bad_request"),
    ("client", "broken.get", {}, "server.provider_error"),
    # What is behind the provider is away: said as it is. A code only the hub may give is not.
    ("client", "broken.get", {"fault": "server.provider_unreachable"}, "server.provider_unreachable"),
    ("client", "broken.get", {"fault": "client.bad_request"}, "client.bad_request"),
    ("client", "broken.get", {"fault": "client.not_found"}, "client.not_found"),
    ("client", "broken.get", {"fault": "server.timeout"}, "server.provider_error"),
    ("client", "broken.get", {"fault": "client.access_denied"}, "server.provider_error"),
    ("client", "unserved.get", {}, "server.provider_error"),
]


async def test_each_failure_has_its_code_and_a_record(axis: Axis) -> None:
    # One axis for every case (each costs a hub and three connectors): each adds exactly one record.
    for who, service, payload, code in FAILURES:
        connector: Connector = getattr(axis, who)
        before = {r.id for r in await records(axis.settings)}
        with pytest.raises(ExchangeError) as failed:
            await connector.request("HO-TICH", service, payload)
        assert failed.value.code == code, (who, service)
        [record] = [r for r in await records(axis.settings) if r.id not in before]
        assert (record.outcome, record.fault_code) == ("fault", code), (who, service)


async def test_a_slow_provider_times_out(axis: Axis) -> None:
    with pytest.raises(ExchangeError) as failed:
        await axis.client.request("HO-TICH", "slow.get", timeout=0.5)
    assert failed.value.code == "server.timeout"
    await asyncio.sleep(3)  # the late answer arrives and must change nothing
    [record] = await records(axis.settings)
    assert (record.outcome, record.fault_code) == ("fault", "server.timeout")


async def test_a_disconnected_provider_is_unreachable(axis: Axis) -> None:
    await axis.provider.stop()

    async def provider_down() -> bool:
        status = (await axis.hub.client.get("/api/v1/connectivity/systems")).json()["items"]
        return not next(s for s in status if s["code"] == "HO-TICH")["lgsp_connected"]

    await eventually(provider_down, timeout=10, what="the provider to disconnect")
    with pytest.raises(ExchangeError) as failed:
        await axis.client.request("HO-TICH", "birth-record.get", {"citizen_id": CITIZEN})
    assert failed.value.code == "server.provider_unreachable"


async def test_many_concurrent_requests_are_correlated(axis: Axis) -> None:
    ids = [f"0792030{n:05d}" for n in range(200)]
    answers = await asyncio.gather(
        *(axis.client.request("HO-TICH", "birth-record.get", {"citizen_id": i}, timeout=20) for i in ids)
    )
    assert [a["citizen_id"] for a in answers] == ids
    assert len(await records(axis.settings)) == len(ids)


class RefusesResultsOnce:
    """The hub's bus, except that the broker refuses the first batch carrying a result for `client`."""

    def __init__(self, bus: Bus, client: str) -> None:
        self.bus = bus
        self.inbox = bus.topics.inbox(client)
        self.refused: list[Outgoing] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bus, name)

    async def send_all(self, items: Iterable[tuple[str, bytes, str | None]]) -> None:
        items = list(items)
        if not self.refused and any(topic == self.inbox for topic, _, _ in items):
            self.refused = items
            raise KafkaTimeoutError("the broker did not acknowledge in time")
        await self.bus.send_all(items)


@pytest.fixture
def refusing_bus(axis: Axis, monkeypatch: pytest.MonkeyPatch) -> RefusesResultsOnce:
    """The hub's router sending through a bus that refuses the first batch of results for MOT-CUA."""
    router = axis.hub.app.state.runtime.facade.router
    bus = RefusesResultsOnce(router.bus, "MOT-CUA")
    monkeypatch.setattr(router, "bus", bus)
    monkeypatch.setattr(router.settlement, "bus", bus)  # results are sent by the router's settlement
    return bus


async def test_an_answer_whose_result_was_not_sent_is_sent_again(
    axis: Axis, refusing_bus: RefusesResultsOnce
) -> None:
    # The settlement commits before its result is sent: when the send fails (or the hub dies in between),
    # the redelivered answer finds the record settled, not pending, and must still send the result.
    answer = await axis.client.request(
        "HO-TICH", "birth-record.get", {"citizen_id": CITIZEN}, subject=CITIZEN, purpose=PURPOSE, timeout=10
    )
    assert answer["citizen_id"] == CITIZEN
    assert refusing_bus.refused, "the result's first send was not refused: the test proves nothing"
    [record] = await records(axis.settings)
    assert (record.outcome, record.fault_code) == ("success", None)


async def test_a_timeout_the_bus_refused_goes_out_with_the_next_sweep(
    axis: Axis, refusing_bus: RefusesResultsOnce
) -> None:
    # No answer will come to send a server.timeout again: the sweeper keeps what the bus refused.
    with pytest.raises(ExchangeError) as failed:
        await axis.client.request("HO-TICH", "slow.get", timeout=0.5)
    assert failed.value.code == "server.timeout"
    assert refusing_bus.refused, "the timeout's first send was not refused: the test proves nothing"


class RecordsAtSend:
    """The hub's bus, noting what the database says of the exchange records whenever a batch carrying a
    result for `client` goes out."""

    def __init__(self, bus: Bus, client: str, settings: Settings) -> None:
        self.bus = bus
        self.inbox = bus.topics.inbox(client)
        self.settings = settings
        self.outcomes_seen: list[list[str]] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.bus, name)

    async def send_all(self, items: Iterable[tuple[str, bytes, str | None]]) -> None:
        items = list(items)
        if any(topic == self.inbox for topic, _, _ in items):
            self.outcomes_seen.append([r.outcome for r in await records(self.settings)])
        await self.bus.send_all(items)


async def test_a_client_that_hears_back_finds_its_record_settled(
    axis: Axis, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A result sent before its settlement commits can reach the client first: it would then read its
    # exchange as still pending (seen in CI on PostgreSQL, for a fault coming back from the NGSP).
    router = axis.hub.app.state.runtime.facade.router
    bus = RecordsAtSend(router.bus, "MOT-CUA", axis.settings)
    monkeypatch.setattr(router, "bus", bus)
    monkeypatch.setattr(router.settlement, "bus", bus)  # results are sent by the router's settlement
    await axis.client.request(
        "HO-TICH", "birth-record.get", {"citizen_id": CITIZEN}, subject=CITIZEN, purpose=PURPOSE
    )
    assert bus.outcomes_seen == [["success"]]


async def test_a_redelivered_request_makes_no_second_record(axis: Axis) -> None:
    # What a consumer restarted before its commit sees: the very same record again.
    request = ServiceRequest(
        client="MOT-CUA",
        session_id=axis.client.session_id,
        provider="HO-TICH",
        service="birth-record.get",
        payload={"citizen_id": CITIZEN},
    )
    producer = AIOKafkaProducer(bootstrap_servers=axis.client.bootstrap)
    await producer.start()
    try:
        for _ in range(3):
            await producer.send_and_wait(
                Topics(axis.settings.topic_prefix).requests, axis.client.signer.seal(request), key=b"MOT-CUA"
            )
    finally:
        await producer.stop()

    async def settled() -> bool:
        return [r.outcome for r in await records(axis.settings)] == ["success"]

    await eventually(settled, timeout=10, what="one settled record")
    await asyncio.sleep(1)  # room for any duplicate to appear
    assert len(await records(axis.settings)) == 1


async def test_records_are_queryable_with_paging_and_scoped_to_their_parties(axis: Axis) -> None:
    for n in range(5):
        await axis.client.request("HO-TICH", "birth-record.get", {"citizen_id": f"07920300000{n}"})
    with pytest.raises(ExchangeError):
        await axis.outsider.request("HO-TICH", "birth-record.get", {"citizen_id": CITIZEN})
    page = (await axis.hub.client.get("/api/v1/exchanges", params={"limit": 2})).json()
    assert (page["total"], len(page["items"])) == (6, 2)
    assert page["items"][0]["client"] == "QLVB"  # newest first
    denied = (await axis.hub.client.get("/api/v1/exchanges", params={"outcome": "fault"})).json()
    assert [r["fault_code"] for r in denied["items"]] == ["client.access_denied"]
    own = await axis.hub.client.get("/api/v1/exchanges", headers=axis.hub.as_key(axis.keys["QLVB"]))
    assert [r["client"] for r in own.json()["items"]] == ["QLVB"]  # a system sees only its own exchanges
    assert all("subject" not in key or key == "subject_hash" for key in page["items"][0])


async def test_metaservices_list_systems_services_and_what_a_client_may_call(axis: Axis) -> None:
    systems = await axis.outsider.request("LGSP", "systems.list")
    assert systems["systems"] == ["HO-TICH", "MOT-CUA", "QLVB"]
    services = await axis.outsider.request("LGSP", "services.list", {"provider": "HO-TICH"})
    assert services["services"] == ["birth-record.get", "broken.get", "slow.get", "unserved.get"]
    mine = await axis.client.request("LGSP", "allowed-services.list")
    assert {a["service"] for a in mine["allowed"]} == {
        "birth-record.get",
        "broken.get",
        "slow.get",
        "unserved.get",
    }
    assert (await axis.outsider.request("LGSP", "allowed-services.list"))["allowed"] == []
    with pytest.raises(ExchangeError) as failed:
        await axis.client.request("LGSP", "nothing.here")
    assert failed.value.code == "client.unknown_service"
    assert len(await records(axis.settings)) == 5  # metaservice calls are exchanges too
