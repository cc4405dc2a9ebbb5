"""Supervised consumer workers: decode, dead-letter the bad, handle, then commit."""

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Generic, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import KafkaError, MessageSizeTooLargeError, RecordListTooLargeError
from sqlalchemy import exc as sa_exc

from buscore.deadletters import dead_letter, envelope_only
from buscore.lifecycle import cancelled_by_owner, close_consumer
from buscore.signing import signed_statement
from lgsp.bus.client import Bus
from lgsp.bus.redact import redact_record, redact_text
from monitoring.metrics import CONSUMED, CONSUMER_LAG, DEAD_LETTERS
from schemas.common import utcnow
from schemas.messages import Codec, DecodeError

log = logging.getLogger(__name__)
M = TypeVar("M")
YIELD_EVERY = 100  # records decoded between two turns of the event loop (30-40 µs each)


class _BrokerReturned(Exception):
    """The broker answers again after an outage: time to recreate the consumer."""


@dataclass(frozen=True, slots=True)
class Delivery(Generic[M]):
    """A decoded record with where and when it arrived."""

    message: M
    topic: str
    partition: int
    offset: int
    received_at: datetime
    size: int = 0  # bytes on the wire
    statement: bytes | None = None  # what its signer signed (buscore.signing), if it is signed


def transient(exc: BaseException) -> bool:
    """Whether a handler's failure may pass on its own (database or broker away), so the batch is
    retried; anything else is the record's own fault and retrying it would block its partition.

    A record the producer or the broker refuses for its size never goes through: that is the record's
    fault, not the broker's.
    """
    if isinstance(exc, MessageSizeTooLargeError | RecordListTooLargeError):
        return False
    return isinstance(
        exc,
        KafkaError
        | OSError
        | TimeoutError
        | sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.DisconnectionError
        | sa_exc.TimeoutError,
    ) or bool(getattr(exc, "connection_invalidated", False) or _transient_sqlstate(exc))


#: SQLSTATEs of a database that is going away or not taking work for now: connection exceptions (08),
#: shutting down or starting up (57P01-57P03), out of resources (53), serialisation failure and deadlock.
#: asyncpg reports these as plain DBAPIErrors, not OperationalErrors.
_TRANSIENT_SQLSTATES = ("08", "57P01", "57P02", "57P03", "53", "40001", "40P01")


def _transient_sqlstate(exc: BaseException) -> bool:
    state = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return (
        isinstance(exc, sa_exc.DBAPIError)
        and isinstance(state, str)
        and state.startswith(_TRANSIENT_SQLSTATES)
    )


@dataclass(frozen=True, slots=True)
class Rejection:
    """A record the handler refused (e.g. unauthenticated): it goes to the dead-letter topic."""

    delivery: Delivery[Any]
    reason: str
    detail: str


Handler = Callable[[Sequence[Delivery[M]]], Awaitable[Sequence[Rejection]]]
#: Splits decoded deliveries into the authentic ones and rejections (lgsp.bus.authentication).
Authenticate = Callable[[Sequence[Delivery[Any]]], Awaitable[tuple[list[Delivery[Any]], list[Rejection]]]]


class Worker(Generic[M]):
    """Consumes one topic in a consumer group: decode, authenticate, dead-letter the bad, handle, commit.

    Every decoded record goes through the bus's `authenticate` first: the handler sees only records
    signed by the party they claim to come from; the others are dead-lettered with the reason.

    Offsets are committed only after the handler returned (its effects are durable) and the dead letters
    were acknowledged, so a crash anywhere replays the batch; handlers are idempotent. If the handler
    fails (database away), the consumer seeks back and retries with backoff instead of losing the batch.
    Broker loss is survived by recreating the consumer.

    A record larger than the bus's `max_message_bytes` is dead-lettered (`too_large`) and never reaches
    the handler; `oversized`, if given, is handed those that decode, to answer their senders.
    """

    health_check_interval = 2.0

    def __init__(
        self,
        bus: Bus,
        name: str,
        topic: str,
        codec: Codec[M],
        handler: Handler[M],
        *,
        group: str,
        max_batch: int = 1000,
        oversized: Callable[[Sequence[Delivery[M]]], Awaitable[object]] | None = None,
    ) -> None:
        self.bus = bus
        self.name = name
        self.topic = topic
        self.codec = codec
        self.handler = handler
        self.authenticate: Authenticate = bus.authenticate
        self.oversized = oversized
        self.group = group
        self.max_batch = max_batch
        self._consumer: AIOKafkaConsumer | None = None
        self._committed: set[TopicPartition] = set()
        self.healthy = False  # consuming, and the broker answered within the last health_check_interval

    def owned_partitions(self) -> tuple[set[int], int]:
        """Partitions of the topic this process owns now, and how many the topic has."""
        consumer = self._consumer
        if consumer is None:
            return set(), 0
        total = consumer.partitions_for_topic(self.topic) or set()
        return {tp.partition for tp in consumer.assignment() if tp.topic == self.topic}, len(total)

    async def run(self) -> None:
        """Consume until cancelled, recreating the consumer after any failure."""
        backoff = 0.5
        while True:
            try:
                await self._consume()
            except _BrokerReturned:
                log.info("worker %s: the broker is back; reconnecting with fresh state", self.name)
            except (Exception, asyncio.CancelledError) as exc:
                # A cancellation not meant for this task came out of aiokafka's own tasks: ending here
                # would stop this topic for good.
                if isinstance(exc, asyncio.CancelledError) and cancelled_by_owner():
                    raise
                self.healthy = False
                # A driver's error can quote the statement's parameters: no key goes to the log.
                reason = redact_text(str(exc) or repr(exc))
                log.warning("worker %s: %s; restarting in %.1fs", self.name, reason, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            else:
                backoff = 0.5

    async def _consume(self) -> None:
        await self.bus.topic_ready(self.topic)
        consumer = self.bus.new_consumer(
            self.topic,
            group_id=self.group,
            client_id=f"{self.bus.client_id}-{self.name}",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.max_batch,
            metadata_max_age_ms=5_000,
            session_timeout_ms=self.bus.session_timeout_ms,
            heartbeat_interval_ms=max(100, self.bus.session_timeout_ms // 4),
            fetch_max_wait_ms=self.bus.fetch_max_wait_ms,
        )
        try:
            await consumer.start()
        except BaseException:
            # Cancelled (a hub stopping) or failed while joining its group: the consumer's background
            # tasks already run and would poll forever.
            await asyncio.shield(close_consumer(consumer))
            raise
        self._consumer = consumer
        loop = asyncio.get_running_loop()
        checked = -self.health_check_interval
        outage = False
        self._committed.clear()
        try:
            while True:
                batches = await consumer.getmany(timeout_ms=500, max_records=self.max_batch)
                await self._record_lag(consumer)
                if batches:  # records prove the broker answers
                    self.healthy, checked = True, loop.time()
                elif loop.time() - checked >= self.health_check_interval:
                    answers, lost = await self._check_group(consumer)
                    self.healthy = answers
                    checked = loop.time()
                    if answers and (outage or lost):
                        # The broker is back, or lost our group's offsets (a memory-only broker restarted):
                        # the old consumer would wait at an offset the new log lacks, so start afresh.
                        await self.bus.repair()
                        raise _BrokerReturned
                    outage = not answers
                if batches:
                    await self._process(consumer, batches)
        finally:
            self._consumer = None
            self.healthy = False
            await close_consumer(consumer)

    async def _record_lag(self, consumer: AIOKafkaConsumer) -> None:
        """Set this worker's consumer lag from what the fetches already reported (no broker round trip).

        Partitions not fetched yet have no high watermark and are left out; a negative difference (the
        embedded broker's watermarks can undercount batches) counts as none.
        """
        lag = 0
        for tp in consumer.assignment():
            highwater = consumer.highwater(tp)
            if highwater is not None:
                # A fetched partition has a valid position: position() returns at once, without I/O.
                lag += max(0, highwater - await consumer.position(tp))
        CONSUMER_LAG.labels(self.name).set(lag)

    async def _check_group(self, consumer: AIOKafkaConsumer) -> tuple[bool, bool]:
        """Whether the group coordinator answers, and whether offsets this consumer committed are gone.

        getmany() just returns nothing while the broker is away; an offset fetch tells the cases apart
        and costs one small request (a full metadata fetch grows with the number of topics).
        """
        partitions = consumer.assignment() or {TopicPartition(self.topic, 0)}
        try:
            async with asyncio.timeout(2):  # not wait_for: on 3.11 it can swallow a cancellation
                for tp in partitions:
                    if await consumer.committed(tp) is None and tp in self._committed:
                        return True, True
        except (KafkaError, TimeoutError):
            return False, False
        return True, False

    async def _process(
        self, consumer: AIOKafkaConsumer, batches: dict[TopicPartition, list[ConsumerRecord[bytes, bytes]]]
    ) -> None:
        received_at = utcnow()
        limit = self.bus.max_message_bytes
        deliveries: list[Delivery[M]] = []
        too_large: list[ConsumerRecord[bytes, bytes]] = []
        dead: list[tuple[ConsumerRecord[bytes, bytes], str, str]] = []
        for records in batches.values():
            for n, record in enumerate(records, 1):
                if n % YIELD_EVERY == 0:  # a whole batch decoded at once held the API and other workers
                    await asyncio.sleep(0)
                size = len(record.value or b"")
                if size > limit:
                    # Never handled: forwarding it would run into the broker's own limit, and a record
                    # that cannot go on must not hold up the ones behind it.
                    too_large.append(record)
                    dead.append((record, "too_large", f"{size} bytes, over the limit of {limit} bytes"))
                    continue
                try:
                    deliveries.append(self._decode(record, received_at))
                except DecodeError as exc:
                    dead.append((record, exc.reason, exc.detail))
        CONSUMED.labels(self.name).inc(len(deliveries) + len(dead))
        try:
            # Authenticated first, and outside the handler's failure handling: a record is handled
            # (even alone, to isolate a failure) only once its signature has been checked.
            refused: list[Rejection] = []
            if deliveries:
                deliveries, refused = await self._authenticated(deliveries)
            try:
                if too_large and self.oversized is not None:
                    readable, _ = await self.authenticate(self._readable(too_large, received_at))
                    await self.oversized(readable)
                rejections = refused + (list(await self.handler(deliveries)) if deliveries else [])
            except Exception as exc:
                if transient(exc):
                    raise
                # A record the handler can never take (bad data that passed validation) must not block
                # its partition for ever: find it by handling the batch one record at a time.
                rejections = refused + await self._isolate(deliveries)
        except Exception:
            # Nothing is committed: go back to the batch's start so it is handled again.
            for tp, records in batches.items():
                consumer.seek(tp, records[0].offset)
            raise
        by_position = {(r.partition, r.offset): r for rs in batches.values() for r in rs}
        dead += [
            (by_position[(r.delivery.partition, r.delivery.offset)], r.reason, r.detail) for r in rejections
        ]
        if dead:
            await self._dead_letter(dead)
        offsets = {tp: records[-1].offset + 1 for tp, records in batches.items()}
        try:
            await consumer.commit(offsets)
        except KafkaError as exc:
            # Effects are idempotent: a lost commit only means a harmless replay. A fresh consumer
            # recovers from whatever made the broker refuse it (e.g. it restarted and lost the group).
            log.warning("worker %s: commit failed (%s); records may be replayed", self.name, exc)
            raise _BrokerReturned from exc
        self._committed.update(offsets)

    def _decode(self, record: ConsumerRecord[bytes, bytes], received_at: datetime) -> Delivery[M]:
        """The record as a delivery; raises DecodeError if it is not a valid message."""
        raw = record.value
        message = self.codec.decode(raw)
        signature = getattr(message, "signature", None)
        statement = signed_statement(raw, signature) if raw is not None and signature is not None else None
        return Delivery(
            message, record.topic, record.partition, record.offset, received_at, len(raw or b""), statement
        )

    def _readable(
        self, records: Sequence[ConsumerRecord[bytes, bytes]], received_at: datetime
    ) -> list[Delivery[M]]:
        """The records that decode, as deliveries; the others are skipped."""
        readable: list[Delivery[M]] = []
        for record in records:
            with contextlib.suppress(DecodeError):
                readable.append(self._decode(record, received_at))
        return readable

    async def _authenticated(
        self, deliveries: list[Delivery[M]]
    ) -> tuple[list[Delivery[Any]], list[Rejection]]:
        """The authentic deliveries and the refusals; a record whose check fails for a reason that will
        not pass (not the database or the broker away) is refused alone, so it cannot jam the batch."""
        try:
            return await self.authenticate(deliveries)
        except Exception as exc:
            if transient(exc):
                raise
        accepted: list[Delivery[Any]] = []
        refused: list[Rejection] = []
        for delivery in deliveries:
            try:
                ok, no = await self.authenticate([delivery])
            except Exception as exc:
                if transient(exc):
                    raise
                no = [Rejection(delivery, "handler_failed", f"{type(exc).__name__}: {exc}"[:1000])]
                ok = []
            accepted += ok
            refused += no
        return accepted, refused

    async def _isolate(self, deliveries: Sequence[Delivery[M]]) -> list[Rejection]:
        """Handle each delivery alone; those that fail for a reason that will not pass are rejected."""
        rejections: list[Rejection] = []
        for delivery in deliveries:
            try:
                rejections += await self.handler([delivery])
            except Exception as exc:
                if transient(exc):
                    raise
                log.warning(
                    "worker %s: record at %d cannot be handled: %s",
                    self.name,
                    delivery.offset,
                    redact_text(str(exc)),
                )
                rejections.append(
                    Rejection(delivery, "handler_failed", f"{type(exc).__name__}: {exc}"[:1000])
                )
        return rejections

    async def _dead_letter(self, dead: list[tuple[ConsumerRecord[bytes, bytes], str, str]]) -> None:
        items: list[tuple[str, bytes, str | None]] = []
        raw: list[tuple[str, bytes, str | None]] = []
        # Base64 makes the original a third larger: cut to this, a letter stays within the bus's limit.
        keep = self.bus.max_message_bytes * 3 // 4
        topics = self.bus.topics
        for record, reason, detail in dead:
            # Never an API key (redacted whole before anything is cut, so a key the cut would split is
            # found), and on the long-kept topic never personal data (buscore.deadletters).
            original = redact_record(record.value or b"")
            detail = redact_text(detail[:2000])
            position = (record.topic, record.partition, record.offset)
            kept = envelope_only(original, self.bus.signer)
            letter = dead_letter(self.bus.signer, *position, reason, detail, kept, keep)
            key = record.key.decode(errors="replace") if record.key else None
            items.append((topics.dead_letters, self.bus.seal(letter), key))
            if self.bus.dead_letter_raw_ms is not None:
                whole = dead_letter(self.bus.signer, *position, reason, detail, original, keep)
                raw.append((topics.dead_letters_raw, self.bus.seal(whole), key))
            DEAD_LETTERS.labels(reason).inc()
            log.info("dead letter from %s@%d: %s (%s)", record.topic, record.offset, reason, detail[:200])
        if raw:
            retention = {"retention.ms": str(self.bus.dead_letter_raw_ms)}
            await self.bus.ensure_topics({topics.dead_letters_raw: 1}, {topics.dead_letters_raw: retention})
        await self.bus.send_all(items + raw)
