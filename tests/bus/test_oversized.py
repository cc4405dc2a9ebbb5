"""Records over the bus's size limit: dead-lettered (too_large) without reaching the handler, their
senders told through the worker's `oversized` hook (only those whose signature proves who they are), and
the records behind them handled as usual."""

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError
from prometheus_client import REGISTRY

from buscore.signing import HUB
from lgsp.bus import Bus, Delivery, Rejection, Worker, transient
from schemas.messages import REQUESTS, ServiceRequest, encode
from schemas.topics import Topics
from tests.bus.test_dead_letters import kept, read_dead_letters
from tests.support import Broker, delete_topics, eventually
from tests.support.signing import authenticator, made_up_signer

LIMIT = 4096
KEEP = LIMIT * 3 // 4  # what a dead letter keeps of an original (base64 then fits the limit)
CLIENT = made_up_signer("MOT-CUA")  # the requests' client, whose key the bus's workers know


def request(**payload: Any) -> ServiceRequest:
    return ServiceRequest(
        client="MOT-CUA", session_id=uuid.uuid4(), provider="HO-TICH", service="echo.get", payload=payload
    )


def too_large_count() -> float:
    return REGISTRY.get_sample_value("lgsp_dead_letters_total", {"reason": "too_large"}) or 0.0


@pytest.fixture
async def bus(broker: Broker) -> AsyncIterator[Bus]:
    """A bus with a small size limit, on topics of its own, signing as a hub and knowing MOT-CUA's key."""
    running = Bus(
        broker.bootstrap,
        Topics(f"t{uuid.uuid4().hex[:10]}"),
        signer=made_up_signer(HUB),
        authenticate=authenticator(CLIENT),
        session_timeout_ms=2000,
        fetch_max_wait_ms=100,
        max_message_bytes=LIMIT,
    )
    await running.start()
    try:
        await running.ensure_topics({running.topics.requests: 1, running.topics.dead_letters: 1})
        yield running
    finally:
        await running.stop()
        await delete_topics(broker.bootstrap, running.topics.prefix)


async def test_records_over_the_limit_are_dead_lettered_and_the_worker_carries_on(
    bus: Bus, broker: Broker
) -> None:
    topic = bus.topics.requests
    first, big, last = request(n=1), request(blob="x" * LIMIT), request(n=2)
    signed = {m.message_id: CLIENT.seal(m) for m in (first, big, last)}
    stray = encode(request(blob="y" * LIMIT))  # valid but unsigned: its sender proves nothing
    garbage = b"{not json " + b"x" * LIMIT
    # A key behind an escape is found only by parsing the whole record: the letter's copy is cut after.
    keyed = b'{"api\\u005fkey": "hunter2-secret", "pad": "' + b"x" * LIMIT + b'"}'
    handled: list[ServiceRequest] = []
    refused: list[Delivery[ServiceRequest]] = []

    async def handler(deliveries: Sequence[Delivery[ServiceRequest]]) -> list[Rejection]:
        handled.extend(d.message for d in deliveries)
        return []

    async def oversized(deliveries: Sequence[Delivery[ServiceRequest]]) -> None:
        refused.extend(deliveries)

    before = too_large_count()
    # A producer that allows big records, as a misbehaving connector's may; one partition, so the big
    # records sit between the good ones.
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        for value in (
            signed[first.message_id],
            signed[big.message_id],
            garbage,
            keyed,
            stray,
            signed[last.message_id],
        ):
            await producer.send_and_wait(topic, value, key=b"MOT-CUA")
    finally:
        await producer.stop()

    name = f"oversized-{uuid.uuid4().hex[:8]}"
    worker = Worker(bus, name, topic, REQUESTS, handler, group=f"{topic}.{name}", oversized=oversized)
    running = asyncio.create_task(worker.run())
    try:
        letters = await read_dead_letters(broker.bootstrap, bus.topics, lambda ls: len(ls) >= 4)

        async def both_handled() -> bool:
            return len(handled) == 2

        await eventually(both_handled, timeout=15, what="the records behind the big ones to be handled")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running

    assert [m.message_id for m in handled] == [first.message_id, last.message_id]
    # Only the big record that is a valid message signed by its client can be answered: its sender is
    # named in it and proven by its signature.
    big_raw = signed[big.message_id]
    assert [(d.message.message_id, d.size) for d in refused] == [(big.message_id, len(big_raw))]
    assert len(letters) == 4 and {x.letter.reason for x in letters} == {"too_large"}
    for letter, raw in zip((x.letter for x in letters), (big_raw, garbage, keyed, stray), strict=True):
        assert letter.source_topic == topic
        assert f"{len(raw)} bytes, over the limit of {LIMIT} bytes" in letter.detail
        # What a letter keeps (the envelope) is cut to fit the bus only when it is still too long.
        whole = kept(raw, bus.signer)
        cut = len(whole) > KEEP
        assert (f"original cut to its first {KEEP} bytes" in letter.detail) == cut
        assert letter.original == whole[:KEEP]
    big_letter, garbage_letter, keyed_letter, stray_letter = (x.letter for x in letters)
    # A big message's envelope holds its message id; the payload that made it big is a keyed hash.
    assert str(big.message_id).encode() in big_letter.original and b"x" * 64 not in big_letter.original
    assert garbage_letter.original.startswith(b"[removed: ")
    assert b"hunter2" not in keyed_letter.original and b"[redacted]" in keyed_letter.original
    assert len(keyed_letter.original) == KEEP, "no personal field to hash away: cut to fit"
    assert b"y" * 64 not in stray_letter.original, "an unsigned one's payload is hashed away too"
    assert too_large_count() == before + 4


def test_a_record_refused_for_its_size_is_not_retried() -> None:
    """The producer (or the broker) refusing a record for its size will refuse it again: retrying the
    batch would block its partition for good."""
    assert not transient(MessageSizeTooLargeError("too big"))
    assert transient(KafkaConnectionError("broker away"))


async def test_a_record_whose_check_fails_is_refused_alone(bus: Bus, broker: Broker) -> None:
    """A key source that fails for one record (a database refusing its key id, say) must not jam the
    batch: that record is dead-lettered, the others are handled."""
    topic = bus.topics.requests
    poison, good = request(n=1), request(n=2)
    checks = bus.authenticate

    async def fragile(deliveries: Sequence[Delivery[Any]]) -> tuple[list[Delivery[Any]], list[Rejection]]:
        if any(d.message.message_id == poison.message_id for d in deliveries):
            raise ValueError("the key source cannot look this key up")
        return await checks(deliveries)

    bus.authenticate = fragile
    handled: list[ServiceRequest] = []

    async def handler(deliveries: Sequence[Delivery[ServiceRequest]]) -> list[Rejection]:
        handled.extend(d.message for d in deliveries)
        return []

    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        for message in (poison, good):
            await producer.send_and_wait(topic, CLIENT.seal(message), key=b"MOT-CUA")
    finally:
        await producer.stop()
    name = f"fragile-{uuid.uuid4().hex[:8]}"
    worker = Worker(bus, name, topic, REQUESTS, handler, group=f"{topic}.{name}")
    running = asyncio.create_task(worker.run())
    try:
        letters = await read_dead_letters(broker.bootstrap, bus.topics, lambda ls: len(ls) >= 1)

        async def handled_good() -> bool:
            return [m.message_id for m in handled] == [good.message_id]

        await eventually(handled_good, timeout=15, what="the record behind the poison to be handled")
    finally:
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running
    (letter,) = [x.letter for x in letters]
    assert letter.reason == "handler_failed" and "cannot look this key up" in letter.detail
    assert str(poison.message_id).encode() in letter.original
