"""Fault 4 of issue 7: a misbehaving connector floods the bus, sends an oversized message and replays old
messages; it is limited, rejected with a reason, or refused as a replay (deduplicated once the replay
window is over), and a well-behaved connector's exchanges go on meanwhile.

The misbehaving connector (ROGUE) is a registered, granted system with an open session (its SDK connector
said hello), which then writes to the bus with a plain producer, as a buggy or hostile integrator can,
signing what it writes with its own key (it has it). Replays are copies of other systems' messages taken
off the bus, their signatures intact.
"""

import asyncio
import json
import statistics
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from connectors.sdk import Connector
from lgsp.settings import Settings
from schemas.messages import (
    DOSSIERS,
    INBOX,
    REQUESTS,
    Codec,
    DeadLetter,
    DossierReport,
    Message,
    ServiceCall,
    ServiceRequest,
    ServiceResult,
    encode,
)
from schemas.onceonly import load_catalogue
from schemas.topics import Topics
from tests.faults.support import (
    DossierStream,
    ExchangeStream,
    Tap,
    citizen_id,
    dossier_rows,
    duplicates,
    eventually_true,
    exchange_records,
    fault_settings,
    report,
)
from tests.support import (
    Broker,
    Hub,
    connector_for,
    delete_topics,
    eventually,
    make_agency,
    make_system,
    running_hub,
)
from tests.support.exchange import BIRTH_RECORD

pytestmark = [pytest.mark.faults, pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)]

SERVICE = str(BIRTH_RECORD["code"])
FLOOD = 2000  # requests the rogue fires at once
#: The flood test's per-client limit: well above the well-behaved client's 5 requests/s, far below a flood.
FLOOD_RATE, FLOOD_BURST = 20.0, 40
OVERSIZED = 2 * 1024 * 1024  # bytes of payload: over the bus's size limit (LGSP_MAX_MESSAGE_BYTES, 1 MB)
GOOD_WHILE_OVERSIZED = 20.0  # seconds the well-behaved client keeps exchanging after the oversized one
GOOD_LATENCY_BOUND = 5.0  # seconds: a round trip takes well under one on an idle hub
#: The replay test's window (LGSP_BUS_REPLAY_WINDOW): long enough for its copies to arrive within it,
#: short enough to wait for its end.
REPLAY_WINDOW = 15.0
DEAD_LETTERS: Codec[DeadLetter] = Codec(DeadLetter)


@dataclass
class Axis:
    """The hub, a provider, a well-behaved client (MOT-CUA) and the rogue, all connected."""

    hub: Hub
    settings: Settings
    topics: Topics
    provider: Connector
    good: Connector
    rogue: Connector
    provider_key: str
    producer: AIOKafkaProducer  # the rogue's own, unrestrained producer
    served: Counter[str]  # citizen ids the provider served, by its handler

    def rogue_request(self, n: int, **payload: Any) -> ServiceRequest:
        """A request of the rogue in its own (valid) session, to a service it is granted."""
        citizen = citizen_id(1_000_000 + n)
        return ServiceRequest(
            client="ROGUE",
            session_id=self.rogue.session_id,
            provider="HO-TICH",
            service=SERVICE,
            payload={"citizen_id": citizen, **payload},
            timeout_ms=10_000,
            subject=citizen,
            purpose="identity-verification",
        )

    async def publish(self, topic: str, messages: list[Message], key: str) -> float:
        """Write messages, signed by the rogue, as fast as the producer takes them; returns how long
        that took."""
        return await self.write(topic, [self.rogue.signer.seal(m) for m in messages], key)

    async def copy(self, topic: str, messages: list[Message], key: str) -> float:
        """Write copies of messages read off the bus, signatures and all (a replay)."""
        return await self.write(topic, [encode(m) for m in messages], key)

    async def write(self, topic: str, values: list[bytes], key: str) -> float:
        """Write records as fast as the producer takes them; returns how long that took."""
        started = time.perf_counter()
        futures = [await self.producer.send(topic, value, key=key.encode()) for value in values]
        await asyncio.gather(*futures)
        return time.perf_counter() - started


@pytest.fixture
def overrides() -> dict[str, Any]:
    """Settings a test changes from fault_settings' (a test parametrizes this name to change them)."""
    return {}


@pytest.fixture
async def axis(
    database_url: str, broker: Broker, tmp_path: Path, overrides: dict[str, Any]
) -> AsyncIterator[Axis]:
    settings = fault_settings(database_url, tmp_path, **overrides)
    served: Counter[str] = Counter()
    connectors: list[Connector] = []
    producer = AIOKafkaProducer(
        bootstrap_servers=broker.bootstrap, acks="all", linger_ms=5, max_request_size=16 * 1024 * 1024
    )
    try:
        async with running_hub(settings, broker.bootstrap) as hub:
            await make_agency(hub.client, "SO-TP")
            await make_agency(hub.client, "VP-UBND")
            systems = {
                code: await make_system(hub.client, code, agency)
                for code, agency in (("HO-TICH", "SO-TP"), ("MOT-CUA", "VP-UBND"), ("ROGUE", "VP-UBND"))
            }
            url = f"/api/v1/systems/{systems['HO-TICH']['id']}"
            assert (await hub.client.post(f"{url}/services", json=BIRTH_RECORD)).status_code == 201
            grant = {"service": SERVICE, "client_agency": "VP-UBND"}  # both clients are granted
            assert (await hub.client.post(f"{url}/grants", json=grant)).status_code == 201
            provider, good, rogue = (connector_for(systems[c], settings, broker.bootstrap) for c in systems)
            connectors += [provider, good, rogue]

            @provider.service(SERVICE)
            async def birth_record(payload: dict[str, Any]) -> dict[str, Any]:
                served[payload["citizen_id"]] += 1
                return {"citizen_id": payload["citizen_id"]}

            for connector in connectors:
                await connector.start()
            await producer.start()

            async def provider_connected() -> bool:
                return bool((await hub.client.get(f"{url}/status")).json()["lgsp_connected"])

            await eventually(provider_connected, timeout=30, what="the provider to connect")
            await asyncio.sleep(1.5)  # the router's directory cache catches up
            topics = Topics(settings.topic_prefix)
            key = str(systems["HO-TICH"]["api_key"])
            yield Axis(hub, settings, topics, provider, good, rogue, key, producer, served)
    finally:
        await producer.stop()
        for connector in connectors:
            await connector.stop()
        await delete_topics(broker.bootstrap, settings.topic_prefix)


async def copy_all(axis: Axis, requests: list[ServiceRequest], reports: list[DossierReport]) -> None:
    """Copy old requests and dossier reports to the bus again, keyed as their senders keyed them."""
    await axis.copy(axis.topics.requests, list(requests), "MOT-CUA")
    for old in reports:
        await axis.copy(axis.topics.dossiers, [old], old.applicant)


def consumed(worker: str) -> float:
    """Records a worker of the (in-process) hub consumed so far, from its Prometheus counter."""
    value = REGISTRY.get_sample_value("lgsp_bus_records_consumed_total", {"worker": worker})
    return value or 0.0


def latency_ms(stream: ExchangeStream, percentile: int) -> float:
    values = sorted(stream.latencies.values())
    if len(values) < 2:
        return round(1000 * (values[0] if values else 0.0), 1)
    return round(1000 * statistics.quantiles(values, n=100)[percentile - 1], 1)


@pytest.mark.parametrize(
    "overrides",
    [{"exchange_rate_per_client": FLOOD_RATE, "exchange_burst_per_client": FLOOD_BURST}],
)
async def test_a_flood_is_limited_and_the_others_are_served(axis: Axis, database_url: str) -> None:
    """The rogue fires FLOOD valid requests at once, far over its rate limit. The hub serves its burst
    and its rate and answers the rest client.rate_limited at once: every flood request gets exactly one
    record and an answer, and the well-behaved client's exchanges, running meanwhile, all succeed."""
    began = time.perf_counter()
    stop = asyncio.Event()
    good = ExchangeStream(axis.good, "HO-TICH", SERVICE, rate=5.0, timeout=10.0)
    stream = asyncio.create_task(good.run(stop))
    results = await Tap(axis.good.bootstrap, [axis.topics.inbox("ROGUE")], INBOX).start()
    try:
        await asyncio.sleep(1.0)
        flood = [axis.rogue_request(n) for n in range(FLOOD)]
        publish_s = await axis.publish(axis.topics.requests, list(flood), "ROGUE")
        flood_ids = {str(m.message_id) for m in flood}

        async def flood_settled() -> bool:
            records = await exchange_records(database_url)
            mine = [records[i] for i in flood_ids if i in records]
            return len(mine) == FLOOD and all(o != "pending" for _, o, _ in mine)

        settled = await eventually_true(flood_settled, timeout=90, interval=0.5)
        drain_s = time.perf_counter() - began
        await asyncio.sleep(3.0)
        stop.set()
        await stream
        await good.settle()
        await asyncio.sleep(1.0)  # the tap catches up with the last results
    finally:
        stop.set()
        await results.stop()

    records = await exchange_records(database_url)
    flood_records = {i: records[i] for i in flood_ids if i in records}
    answered = Counter(
        str(m.exchange_id) for m in results.of(ServiceResult) if str(m.exchange_id) in flood_ids
    )
    tally = good.tally()
    outcomes = Counter(o if o == "success" else c for _, o, c in flood_records.values())
    summary = {
        "flood_sent": FLOOD,
        "flood_publish_s": round(publish_s, 2),
        "flood_records": len(flood_records),
        "flood_lost": FLOOD - len(flood_records),
        "flood_duplicated": duplicates(c for c, _, _ in flood_records.values()),
        "flood_outcomes": dict(outcomes),
        "flood_answered": len(answered),
        "flood_settled_after_s": round(drain_s, 1),
        "limit_per_s": FLOOD_RATE,
        "limit_burst": FLOOD_BURST,
        "rate_limited": outcomes["client.rate_limited"],
        "good_sent": good.started,
        "good_outcomes": dict(tally),
        "good_latency_p50_ms": latency_ms(good, 50),
        "good_latency_p95_ms": latency_ms(good, 95),
        "good_latency_max_ms": round(1000 * max(good.latencies.values()), 1),
        "runtime_s": round(time.perf_counter() - began, 1),
    }
    report("flooding connector", summary)

    assert settled, f"the flood was not settled within 90 s: {summary}"
    assert summary["flood_lost"] == 0 and summary["flood_duplicated"] == 0
    assert len(answered) == FLOOD, "every flood request is answered (success or a fault code)"
    # Limited: no more served than its burst and its rate over the flood's span allow, the rest refused.
    assert set(outcomes) == {"success", "client.rate_limited"}, summary
    assert outcomes["success"] <= FLOOD_BURST + FLOOD_RATE * drain_s + 1, summary
    assert tally == Counter({"success": good.started}), f"the well-behaved client suffered: {tally}"
    assert summary["good_latency_max_ms"] < 1000 * GOOD_LATENCY_BOUND, (
        f"the well-behaved client waited: {summary}"
    )


async def test_an_oversized_message_is_rejected_with_a_reason(axis: Axis, database_url: str) -> None:
    """The rogue sends one request of OVERSIZED bytes (its own producer allows it; the broker takes it).
    It is rejected with a reason, not retried: dead-lettered as too_large, and answered to the rogue as
    client.bad_request (recorded so); no consumer blocks, and the well-behaved client's exchanges go on."""
    began = time.perf_counter()
    letters = await Tap(axis.good.bootstrap, [axis.topics.dead_letters], DEAD_LETTERS).start()
    results = await Tap(axis.good.bootstrap, [axis.topics.inbox("ROGUE")], INBOX).start()
    stop = asyncio.Event()
    good = ExchangeStream(axis.good, "HO-TICH", SERVICE, rate=5.0, timeout=10.0)
    try:
        big = axis.rogue_request(0, blob="x" * OVERSIZED)
        size = len(axis.rogue.signer.seal(big))  # signatures are of one length
        await axis.publish(axis.topics.requests, [big], "ROGUE")
        stream = asyncio.create_task(good.run(stop))
        # Long enough to see a consumer that retries the record for ever (its backoff grows to 10 s).
        await asyncio.sleep(GOOD_WHILE_OVERSIZED)
        stop.set()
        await stream
        await good.settle()

        def dead_letter() -> str | None:
            for letter in letters.of(DeadLetter):
                # The letter keeps the record's start (cut to fit the limit): its message id comes first.
                if str(big.message_id).encode() in letter.original:
                    return f"{letter.reason} ({letter.detail[:160]})"
            return None

        def answer() -> str | None:
            for result in results.of(ServiceResult):
                fault = result.fault
                if result.exchange_id == big.message_id:
                    return f"{fault.code} ({fault.message[:120]})" if fault else "success"
            return None

        async def rejected() -> bool:
            return dead_letter() is not None and answer() is not None

        await eventually_true(rejected, timeout=5)
    finally:
        stop.set()
        await letters.stop()
        await results.stop()

    record = (await exchange_records(database_url)).get(str(big.message_id))
    tally = good.tally()
    summary = {
        "oversized_bytes": size,
        "dead_letter": dead_letter(),
        "answer": answer(),
        "record": record,
        "provider_served_it": axis.served[big.payload["citizen_id"]],
        "good_sent": good.started,
        "good_outcomes": dict(tally),
        "good_latency_max_ms": round(1000 * max(good.latencies.values(), default=0.0), 1),
        "runtime_s": round(time.perf_counter() - began, 1),
    }
    report("oversized message", summary)

    assert tally == Counter({"success": good.started}), f"the well-behaved client suffered: {tally}"
    assert str(summary["dead_letter"]).startswith("too_large ("), summary
    assert str(summary["answer"]).startswith("client.bad_request ("), summary
    assert record == (1, "fault", "client.bad_request"), summary
    assert summary["provider_served_it"] == 0, "an oversized request reached the provider"
    # Unaffected means not held up either: a request consumer retrying the big record would stall them.
    assert max(good.latencies.values()) < GOOD_LATENCY_BOUND, f"the well-behaved client waited: {summary}"


@pytest.mark.parametrize("overrides", [{"bus_replay_window": REPLAY_WINDOW}])
async def test_replayed_messages_are_refused_or_deduplicated(
    axis: Axis, database_url: str, broker: Broker
) -> None:
    """Old requests and dossier reports are copied to the bus again, twice, with their ids and signatures
    unchanged (a replay: a buggy retry or a hostile copy). Within the replay window a copy is refused
    as `replayed` (dead-lettered); after it, a copy passes authentication (requests and dossiers are
    durable) and is deduplicated by its id. Either way no second exchange record or dossier appears,
    none is forwarded to the provider again (which would make a provider that restarted meanwhile serve
    it twice), and the well-behaved client's new exchanges succeed."""
    began = time.perf_counter()
    catalogue = load_catalogue()
    taps = [
        await Tap(broker.bootstrap, [axis.topics.requests], REQUESTS).start(),
        await Tap(broker.bootstrap, [axis.topics.dossiers], DOSSIERS).start(),
        await Tap(broker.bootstrap, [axis.topics.inbox("HO-TICH")], INBOX).start(),
        await Tap(broker.bootstrap, [axis.topics.dead_letters], DEAD_LETTERS).start(),
    ]
    try:
        first = ExchangeStream(axis.good, "HO-TICH", SERVICE, rate=10.0, timeout=10.0)
        office = DossierStream(axis.good, catalogue, rate=10.0)
        stop = asyncio.Event()
        runs = [asyncio.create_task(first.run(stop)), asyncio.create_task(office.run(stop))]
        await asyncio.sleep(2.0)
        stop.set()
        await asyncio.gather(*runs)
        await first.settle()

        async def ledger_complete() -> bool:
            return set(await dossier_rows(database_url)) >= set(office.acknowledged)

        await eventually(ledger_complete, timeout=20, what="the first dossiers in the ledger")
        await asyncio.sleep(1.0)
        old_requests = [m for m in taps[0].of(ServiceRequest) if m.client == "MOT-CUA"]
        old_reports = [m for m in taps[1].of(DossierReport)]
        records_before = await exchange_records(database_url)
        dossiers_before = await dossier_rows(database_url)
        calls_before = Counter(str(m.exchange_id) for m in taps[2].of(ServiceCall))

        old_citizens = {m.payload["citizen_id"] for m in old_requests}
        served_before = {c: axis.served[c] for c in old_citizens}
        old_ids = {str(m.message_id) for m in old_requests} | {str(m.message_id) for m in old_reports}
        consumed_requests, consumed_dossiers = consumed("requests"), consumed("dossiers")

        def replayed_letters() -> Counter[str]:
            """Dead letters refusing a copy as a replay, by message id."""
            return Counter(
                message_id
                for letter in taps[3].of(DeadLetter)
                if letter.reason == "replayed"
                and (message_id := json.loads(letter.original).get("message_id")) in old_ids
            )

        async def replays_consumed(rounds: int) -> bool:
            return consumed("requests") >= consumed_requests + rounds * len(old_requests) and consumed(
                "dossiers"
            ) >= consumed_dossiers + rounds * len(old_reports)

        after = ExchangeStream(axis.good, "HO-TICH", SERVICE, rate=5.0, timeout=10.0, first=10_000)
        stop = asyncio.Event()
        run = asyncio.create_task(after.run(stop))
        # Within the window: every copy refused as a replay.
        copied_at = time.perf_counter()
        await copy_all(axis, old_requests, old_reports)

        async def all_refused() -> bool:
            return set(replayed_letters()) == old_ids

        refused_in_window = await eventually_true(all_refused, timeout=30)
        refused = replayed_letters()
        # After it (the originals were seen before the copies): copies pass and are deduplicated by id.
        await asyncio.sleep(max(0.0, REPLAY_WINDOW + 1.0 - (time.perf_counter() - copied_at)))
        await copy_all(axis, old_requests, old_reports)
        all_consumed = await eventually_true(lambda: replays_consumed(2), timeout=30)
        await asyncio.sleep(3.0)  # forwarded calls reach the provider, its answers come back
        stop.set()
        await run
        await after.settle()
        await asyncio.sleep(1.0)
    finally:
        for tap in taps:
            await tap.stop()

    records = await exchange_records(database_url)
    ledger = await dossier_rows(database_url)
    calls = Counter(str(m.exchange_id) for m in taps[2].of(ServiceCall))
    forwarded_again = sum(calls[i] - calls_before[i] for i in old_ids)
    # The SDK also remembers what it served, so a replay forwarded to it would be refused there: what
    # counts is that the hub forwarded none (a restarted provider would have served them again).
    served_again = sum(axis.served[c] - n for c, n in served_before.items())
    tally = after.tally()
    summary = {
        "requests_replayed": 2 * len(old_requests),
        "dossiers_replayed": 2 * len(old_reports),
        "refused_as_replays_in_window": sum(refused.values()),
        "refused_as_replays_in_all": sum(replayed_letters().values()),
        "replays_consumed": all_consumed,
        "new_exchange_records": len(set(records) - set(records_before)) - after.started,
        "duplicated_records": duplicates(c for c, _, _ in records.values()),
        "new_dossier_rows": sum(ledger.values()) - sum(dossiers_before.values()),
        "duplicated_dossiers": duplicates(ledger.values()),
        "replays_forwarded_to_provider": forwarded_again,
        "replays_served_by_provider": served_again,
        "good_outcomes_first": dict(first.tally()),
        "good_outcomes_during_replay": dict(tally),
        "runtime_s": round(time.perf_counter() - began, 1),
    }
    report("replayed messages", summary)

    assert refused_in_window, f"copies within the window were not all refused as replays: {summary}"
    assert refused == Counter(old_ids), f"each copy within the window is refused once: {summary}"
    assert replayed_letters() == refused, f"copies after the window are not replays: {summary}"
    assert all_consumed, "the hub did not consume the replays within 30 s"
    assert summary["new_exchange_records"] == 0 and summary["duplicated_records"] == 0
    assert summary["new_dossier_rows"] == 0 and summary["duplicated_dossiers"] == 0
    assert tally == Counter({"success": after.started}), f"the well-behaved client suffered: {tally}"
    assert forwarded_again == 0, f"the hub forwarded {forwarded_again} replayed requests to the provider"
    assert served_again == 0, f"the provider served {served_again} replayed requests again"
