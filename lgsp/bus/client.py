"""The bus client of a process: one producer, topic administration, and how keys map to partitions."""

import asyncio
import logging
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    TopicAlreadyExistsError,
)
from aiokafka.partitioner import murmur2

from buscore.signing import Signer
from lgsp.settings import MAX_MESSAGE_BYTES, Settings
from schemas.messages import Message
from schemas.topics import Topics

if TYPE_CHECKING:
    from lgsp.bus.worker import Authenticate

log = logging.getLogger(__name__)
M = TypeVar("M")

#: What the hub's own records may add to the largest record it takes: a call or a result wraps a request
#: or a response in a few ids and times, and a dead letter adds its reason.
ENVELOPE_BYTES = 32 * 1024


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner gives a key (murmur2), so owners can be derived."""
    return int(murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def shared_topics(topics: Topics, partitions: int) -> dict[str, int]:
    """The topics every hub and NGSP process needs, with their partition counts."""
    return {
        topics.connectivity: partitions,
        topics.requests: partitions,
        topics.responses: partitions,
        topics.dossiers: partitions,
        topics.ngsp_requests: partitions,
        topics.ngsp_events: partitions,
        topics.ngsp_probe_replies: partitions,
        topics.ngsp_results: partitions,
        topics.dead_letters: 1,
    }


class Bus:
    """One producer shared by a process, plus topic administration.

    The bus remembers every topic it was asked to ensure. When a send fails (e.g. a memory-only broker
    restarted and lost its topics) it recreates the missing ones before the caller retries.

    Every aiokafka client of a process is made by `new_producer`, `new_consumer` or `new_admin`, which add
    `kafka_options` (security protocol, SASL, TLS: `Settings.kafka_options()`), so none can be left out.

    `max_message_bytes` is the largest record its workers take; its producer sends up to ENVELOPE_BYTES
    more, for what the hub makes out of a record it took.

    Topics it creates get `replication_factor` replicas and `min_insync_replicas` (with the producer's
    acks=all, a write then survives the loss of a broker); `idempotence` turns on the idempotent
    producer, which Apache Kafka supports and the embedded broker does not.

    `dead_letter_raw_ms`, if set, is raw mode: workers also keep rejected records whole on a topic of
    their own, deleted after that many milliseconds (buscore.deadletters).

    `signer` signs everything this process sends (`seal`): the hub's or the NGSP's platform key;
    `authenticate` checks everything its workers consume (lgsp.bus.authentication).
    """

    def __init__(
        self,
        bootstrap: str,
        topics: Topics,
        client_id: str = "lgsp",
        *,
        signer: Signer,
        authenticate: "Authenticate",
        session_timeout_ms: int = 10_000,
        fetch_max_wait_ms: int = 500,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        kafka_options: Mapping[str, Any] | None = None,
        replication_factor: int = 1,
        min_insync_replicas: int | None = None,
        idempotence: bool = False,
        dead_letter_raw_ms: int | None = None,
    ) -> None:
        self.bootstrap = bootstrap
        self.topics = topics
        self.client_id = client_id
        self.signer = signer
        self.authenticate = authenticate
        self.session_timeout_ms = session_timeout_ms
        self.fetch_max_wait_ms = fetch_max_wait_ms
        self.max_message_bytes = max_message_bytes
        self.kafka_options: dict[str, Any] = dict(kafka_options or {})
        self.replication_factor = replication_factor
        self.topic_configs = (
            {} if min_insync_replicas is None else {"min.insync.replicas": str(min_insync_replicas)}
        )
        self.idempotence = idempotence
        self.dead_letter_raw_ms = dead_letter_raw_ms
        self._configs: dict[str, dict[str, str]] = {}  # configs of single topics, beside topic_configs
        self._producer: AIOKafkaProducer | None = None
        self._admin: AIOKafkaAdminClient | None = None
        self._wanted: dict[str, int] = {}
        self._last_repair = 0.0
        self._starting = asyncio.Lock()  # several tasks may connect at once; one producer only
        self._ensured = asyncio.Event()  # set (then replaced) each time topics are added to _wanted
        self._tracked: set[str] = set()  # topics the producer's metadata refresh covers

    @classmethod
    def from_settings(
        cls, settings: Settings, bootstrap: str, client_id: str, signer: Signer, authenticate: "Authenticate"
    ) -> "Bus":
        """A bus client configured from settings (not yet connected), sending as `signer` and checking
        what it consumes with `authenticate`."""
        return cls(
            bootstrap,
            Topics(settings.topic_prefix),
            client_id,
            signer=signer,
            authenticate=authenticate,
            session_timeout_ms=settings.consumer_session_timeout_ms,
            fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
            max_message_bytes=settings.max_message_bytes,
            kafka_options=settings.kafka_options(),
            replication_factor=settings.kafka_replication_factor,
            min_insync_replicas=settings.kafka_min_insync_replicas,
            idempotence=settings.kafka_idempotence,
            dead_letter_raw_ms=(
                int(settings.dead_letter_raw_hours * 3_600_000) if settings.dead_letter_raw else None
            ),
        )

    @property
    def connected(self) -> bool:
        """Whether the producer is up (it may still be between reconnections)."""
        return self._producer is not None

    # A keyword given both here and in kafka_options is a TypeError (two ** unpackings), not a silent
    # override: a caller cannot quietly switch a client back to plaintext.
    def new_producer(self, **config: Any) -> AIOKafkaProducer:
        """A producer on this bus's cluster with `config` and the security options (not started)."""
        return AIOKafkaProducer(bootstrap_servers=self.bootstrap, **config, **self.kafka_options)

    def new_consumer(self, *topics: str, **config: Any) -> AIOKafkaConsumer:
        """A consumer on this bus's cluster with `config` and the security options (not started)."""
        return AIOKafkaConsumer(*topics, bootstrap_servers=self.bootstrap, **config, **self.kafka_options)

    def new_admin(self, **config: Any) -> AIOKafkaAdminClient:
        """An admin client on this bus's cluster with `config` and the security options (not started)."""
        return AIOKafkaAdminClient(bootstrap_servers=self.bootstrap, **config, **self.kafka_options)

    async def start(self) -> None:
        """Connect the producer and the admin client; raises if the broker does not answer."""
        producer = self.new_producer(
            client_id=self.client_id,
            acks="all",
            enable_idempotence=self.idempotence,
            linger_ms=2,
            request_timeout_ms=10_000,
            max_request_size=self.max_message_bytes + ENVELOPE_BYTES,
            # Partition counts can change under us (a restarted memory broker auto-creates topics with
            # its default count until they are recreated): refresh often so no record goes astray.
            metadata_max_age_ms=5_000,
        )
        admin = self.new_admin(client_id=f"{self.client_id}-admin")
        try:
            await producer.start()
            await admin.start()
        except BaseException:
            await producer.stop()
            await admin.close()
            raise
        self._producer, self._admin = producer, admin
        self._tracked = set()

    async def connect(self, topics: dict[str, int]) -> None:
        """Start, retrying with backoff while the broker is away, then ensure `topics`.

        Run as a background task, so a process serves (e.g. the registry API, writing to the outbox)
        before the broker is reachable.
        """
        backoff = 0.5
        while True:
            try:
                async with self._starting:
                    if self._producer is None:
                        await self.start()
                await self.ensure_topics(topics)
                return
            except Exception as exc:  # aiokafka raises several kinds while the broker is away
                log.warning("bus %s not reachable yet (%s); retrying in %.1fs", self.bootstrap, exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)

    async def stop(self) -> None:
        """Flush and close the producer and the admin client."""
        producer, admin, self._producer, self._admin = self._producer, self._admin, None, None
        if producer is not None:
            await producer.stop()
        if admin is not None:
            await admin.close()

    @property
    def producer(self) -> AIOKafkaProducer:
        """The started producer."""
        if self._producer is None:
            raise KafkaConnectionError("the bus is not connected yet")
        return self._producer

    def seal(self, message: Message) -> bytes:
        """The wire bytes of a message this process sends: signed by its signer."""
        return self.signer.seal(message)

    async def send(self, topic: str, message: Message, key: str | None = None) -> None:
        """Sign and publish one message and wait for the broker's acknowledgement."""
        await self.send_all([(topic, self.seal(message), key)])

    async def send_all(self, items: Iterable[tuple[str, bytes, str | None]]) -> None:
        """Publish many records (sealed by `seal`) at once, batched by the producer, and wait for every
        acknowledgement."""
        items = list(items)
        producer = self.producer
        # aiokafka refreshes metadata only for topics it was asked to wait for; a topic it knew from its
        # first full metadata fetch is dropped by the next refresh, and a record for it then waits for a
        # leader until it times out. Registering every topic we send to keeps them all in the refresh.
        for topic in {topic for topic, _, _ in items} - self._tracked:
            producer.client.add_topic(topic)
            self._tracked.add(topic)
        try:
            futures = [
                await producer.send(topic, value, key=key.encode() if key else None)
                for topic, value, key in items
            ]
            if futures:
                await asyncio.gather(*futures)
        except KafkaError:
            await self.repair()
            raise

    async def ensure_topics(
        self, partitions: dict[str, int], configs: dict[str, dict[str, str]] | None = None
    ) -> None:
        """Create the topics that do not exist yet (idempotent; topics already ensured cost nothing),
        `configs` adding settings of single topics (e.g. a short retention) to the bus's own."""
        new = {t: n for t, n in partitions.items() if t not in self._wanted}
        self._configs.update(configs or {})
        if new:
            await self._create_missing(new)
            self._wanted.update(new)
            self._ensured.set()
            self._ensured = asyncio.Event()

    async def topic_ready(self, topic: str) -> None:
        """Wait until `topic` has been ensured by `connect` or `ensure_topics`.

        A consumer that subscribes before its topic exists sees no partitions until its next metadata
        refresh, seconds later; waiting here makes a fresh process consume from its first second.
        """
        while topic not in self._wanted:
            await self._ensured.wait()

    async def _create_missing(self, partitions: dict[str, int]) -> None:
        if self._admin is None:
            raise KafkaConnectionError("the bus is not connected yet")
        existing = set(await self._admin.list_topics())
        missing = [
            NewTopic(
                t, n, self.replication_factor, topic_configs=self.topic_configs | self._configs.get(t, {})
            )
            for t, n in partitions.items()
            if t not in existing
        ]
        if missing:
            response = await self._admin.create_topics(missing)
            for topic, code, *_ in getattr(response, "topic_errors", []):
                if code not in (0, TopicAlreadyExistsError.errno):
                    log.warning("creating topic %s failed with error code %s", topic, code)

    async def repair(self) -> None:
        """Recreate the ensured topics the broker lost (at most once per outage)."""
        now = asyncio.get_running_loop().time()
        # Recreating a topic makes the broker refuse it for a few seconds while metadata settles:
        # repair once per outage, not on every failed send.
        if now - self._last_repair < 15.0 or not self._wanted:
            return
        self._last_repair = now
        try:
            await self._create_missing(self._wanted)
        except Exception as exc:  # the broker is still away: the next failure tries again
            log.debug("topic repair failed: %s", exc)
