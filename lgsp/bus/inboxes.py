"""Producers for the systems' inbox topics, thousands of them: the topics are sharded over several
producers whose metadata is refreshed in turn, so sending to ten thousand inboxes (the connectivity
prober does, every round) never holds the event loop for long."""

import asyncio
import contextlib
from collections.abc import Iterable, Sequence

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError

from lgsp.background import Every
from lgsp.bus import Bus

#: How often the metadata of each inbox topic the prober sends to is refreshed: every 5 s, or 5 ms per
#: topic (a refresh costs about 15 µs per topic), at most every 5 minutes.
INBOX_METADATA_MIN_AGE = 5.0
INBOX_METADATA_SECONDS_PER_TOPIC = 0.005
INBOX_METADATA_MAX_AGE = 300.0
#: Inbox topics per prober producer: one refresh decodes the metadata of all of a producer's topics at
#: once on the event loop, so each holds few enough for that to take a few milliseconds.
INBOX_TOPICS_PER_PRODUCER = 500


class InboxProducer:
    """Producers besides the bus's own, for records to many inbox topics (the connectivity prober's probes).

    A Kafka producer refreshes the metadata of every topic it ever sent to; the bus's producer does so
    every 5 s, because a restarted memory-only broker may recreate topics with other partition counts (and
    then accepts records for partitions that no longer exist). With ten thousand inbox topics one refresh
    of them all decodes ten thousand topics in Python, 150-400 ms during which the event loop serves
    nothing. So the inbox topics are split, in the order they are tracked (system id order, so a slice of
    a probe round goes through one or two producers), over producers of INBOX_TOPICS_PER_PRODUCER topics
    each, refreshed one at a time in turn: every topic's metadata is refreshed every 5 s while there are
    few and less often as their number grows (INBOX_METADATA_SECONDS_PER_TOPIC, at most
    INBOX_METADATA_MAX_AGE), about 0.1 % of the loop's time, and no refresh holds the loop for long.
    Starting a producer still decodes every topic once (its bootstrap request gets them all), which now
    happens once per producer at the first round and after an error. After any error every producer is
    replaced at the next round; a lost probe is only a missed round.
    """

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self._producers: list[AIOKafkaProducer] = []  # the one of shard i at index i
        self._refresher: asyncio.Task[None] | None = None
        self._starting = asyncio.Lock()
        self._topics: list[str] = []  # in the order tracked
        self._shard: dict[str, int] = {}  # topic -> index of the producer that sends to it
        self._turn = 0  # the producer whose metadata was refreshed last

    def refresh_interval(self) -> float:
        """Seconds between two refreshes of the metadata of each inbox topic sent to."""
        per_topic = len(self._topics) * INBOX_METADATA_SECONDS_PER_TOPIC
        return min(INBOX_METADATA_MAX_AGE, max(INBOX_METADATA_MIN_AGE, per_topic))

    async def _started(self) -> list[AIOKafkaProducer]:
        """A started producer for every shard of the tracked topics (at least one)."""
        async with self._starting:
            shards = max(1, -(-len(self._topics) // INBOX_TOPICS_PER_PRODUCER))
            while len(self._producers) < shards:
                shard = len(self._producers)
                producer = self.bus.new_producer(
                    client_id=f"{self.bus.client_id}-prober-{shard}",
                    acks="all",
                    linger_ms=2,
                    request_timeout_ms=10_000,
                    metadata_max_age_ms=int(INBOX_METADATA_MAX_AGE * 1000),
                )
                try:
                    await producer.start()
                    first = shard * INBOX_TOPICS_PER_PRODUCER
                    await self._learn(producer, self._topics[first : first + INBOX_TOPICS_PER_PRODUCER])
                except BaseException:
                    await producer.stop()
                    raise
                self._producers.append(producer)
            if self._refresher is None:
                # The broker being away makes a refresh fail: the next one, or fresh producers, retry.
                refresher = Every(
                    "inbox-metadata",
                    lambda: self.refresh_interval() / len(self._producers),
                    self._refresh_next,
                )
                self._refresher = asyncio.create_task(refresher.run(), name=refresher.name)
            return self._producers

    async def _refresh_next(self) -> None:
        """Refresh the metadata of the next producer in turn (each thus every `refresh_interval()`)."""
        self._turn = (self._turn + 1) % len(self._producers)
        await self._producers[self._turn].client.force_metadata_update()

    @staticmethod
    async def _learn(producer: AIOKafkaProducer, topics: Sequence[str]) -> None:
        """Fetch the metadata of `topics` in one refresh (sending to each new one would cost one each)."""
        for topic in topics:
            producer.client.add_topic(topic)
        if topics:
            await producer.client.force_metadata_update()

    async def track(self, topics: Iterable[str]) -> None:
        """Keep the metadata of `topics` from now on, each in the shard its turn of tracking gives it."""
        running = len(self._producers)  # producers started from now on learn their topics as they start
        learn: dict[int, list[str]] = {}
        for topic in topics:
            if topic not in self._shard:
                shard = self._shard[topic] = len(self._topics) // INBOX_TOPICS_PER_PRODUCER
                self._topics.append(topic)
                if shard < running:
                    learn.setdefault(shard, []).append(topic)
        producers = await self._started()
        for shard, new in learn.items():
            await self._learn(producers[shard], new)

    async def send_all(self, items: Sequence[tuple[str, bytes, str]]) -> None:
        """Publish records to tracked topics and wait for every acknowledgement."""
        producers = await self._started()
        try:
            futures = [
                await producers[self._shard[topic]].send(topic, value, key=key.encode())
                for topic, value, key in items
            ]
            await asyncio.gather(*futures)
        except KafkaError:
            await self.bus.repair()  # a restarted broker may have lost the topics
            await self.stop()
            raise

    async def stop(self) -> None:
        """Flush and close the producers."""
        producers, self._producers = self._producers, []
        refresher, self._refresher = self._refresher, None
        if refresher is not None:
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
        for producer in producers:
            await producer.stop()
