"""Connectivity tracking: ingest hellos, heartbeats and probe replies; probe; evaluate; count.

Built to stay cheap with ten thousand systems heartbeating (bench/registry_scale.py):

- ingest turns a batch of up to a thousand records into a few set-based UPDATEs on one connection (no
  ORM objects): one for every heartbeat of the batch, one executemany for the probe replies and the
  hellos;
- the evaluator asks the database only for the systems whose stored verdict no longer holds
  (`rules.stale_verdicts`, the rules of DESIGN.md section 5 as SQL); usually none, or the few that just
  connected or went stale, instead of loading every system every second;
- the prober spreads each round over half the probe interval in slices of PROBE_SLICE systems, so the
  event loop (serving the API as well) is never held for long, and re-registers a system the NGSP did not
  acknowledge at most every `reregister_after` seconds rather than every round.
"""

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from aiokafka import AIOKafkaProducer
from aiokafka.errors import KafkaError
from sqlalchemy import ColumnElement, bindparam, case, func, insert, or_, update
from sqlalchemy import select as columns
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.background import Background, Component, Every
from lgsp.bus import Bus, Delivery, Rejection, Worker, partition_for
from lgsp.connectivity.models import (
    HubUptime,
    LinkStateChange,
    StateChangePublic,
    SystemConnectivity,
    SystemLinks,
    SystemStatus,
)
from lgsp.connectivity.rules import REASON_LENGTH, Thresholds, Verdict, stale_verdicts, verdicts
from lgsp.db import Database, UTCDateTime
from lgsp.errors import NotFound
from lgsp.registry.models import ApiKey, Role, System
from lgsp.security import digest_key, keyed_hash, same_secret, split_key
from lgsp.settings import Settings
from monitoring.metrics import (
    CONNECTIVITY_RATIO,
    HEARTBEATS,
    PROBES,
    STATE_CHANGES,
    SYSTEMS_CONNECTED,
    SYSTEMS_DISCONNECTED_MAX,
    SYSTEMS_IN_SCOPE,
)
from schemas.common import Link, utcnow
from schemas.messages import (
    CONNECTIVITY,
    NGSP_EVENTS,
    Heartbeat,
    Hello,
    Message,
    NgspAck,
    NgspProbeRequest,
    NgspProbeResult,
    NgspRegistration,
    Probe,
    ProbeReply,
    SessionReset,
    encode,
)
from schemas.topics import Topics

log = logging.getLogger(__name__)

#: Systems probed per slice of a probe round; a round is spread over PROBE_SPREAD of the probe interval.
PROBE_SLICE = 50
PROBE_SPREAD = 0.5
#: Systems' rows of a probe round filtered by partition between two yields of the event loop.
PROBE_ROWS_CHUNK = 1000
#: At most this many ids in one `IN (...)` list.
IN_CHUNK = 1000
#: Systems whose verdict changed handled between two yields of the event loop.
EVALUATE_CHUNK = 500
#: How often the metadata of each inbox topic the prober sends to is refreshed: every 5 s, or 5 ms per
#: topic (a refresh costs about 15 µs per topic), at most every 5 minutes.
INBOX_METADATA_MIN_AGE = 5.0
INBOX_METADATA_SECONDS_PER_TOPIC = 0.005
INBOX_METADATA_MAX_AGE = 300.0
#: Inbox topics per prober producer: one refresh decodes the metadata of all of a producer's topics at
#: once on the event loop, so each holds few enough for that to take a few milliseconds.
INBOX_TOPICS_PER_PRODUCER = 500


def probe_token(key: bytes, probe_id: UUID, system: str, via: Link, sent_at: datetime) -> str:
    """An unforgeable token tying a probe reply to the probe the hub (or NGSP) really sent."""
    return keyed_hash(key, f"{probe_id}|{system}|{via.value}|{sent_at.timestamp():.6f}")[:32]


def make_probe(key: bytes, system: str, via: Link, reply_to: str) -> Probe:
    """A probe for `system` whose reply goes to `reply_to`."""
    probe_id, sent_at = uuid4(), utcnow()
    return Probe(
        system=system,
        probe_id=probe_id,
        token=probe_token(key, probe_id, system, via, sent_at),
        reply_to=reply_to,
        via=via,
        sent_at=sent_at,
    )


def check_probe_reply(key: bytes, reply: ProbeReply, received_at: datetime, timeout: float) -> str:
    """`ok`, `bad_token` or `late` for a probe reply received at `received_at`."""
    expected = probe_token(key, reply.probe_id, reply.system, reply.via, reply.probe_sent_at)
    if not same_secret(expected, reply.token):
        return "bad_token"
    if (received_at - reply.probe_sent_at).total_seconds() > timeout:
        return "late"
    return "ok"


@dataclass(frozen=True, slots=True)
class LinkCounts:
    """In-scope systems and how many are connected on each link, now."""

    in_scope: int
    lgsp_connected: int
    ngsp_connected: int


def _down_since(connected: bool, since: datetime | None) -> ColumnElement[datetime]:
    return func.min(case((col(connected).is_(False), func.coalesce(col(since), col(System.created_at)))))


#: Over in-scope live systems: how many, how many connected per link, and when each link's oldest
#: current outage began. One aggregate over the join, the figures of the indicator and the gauges.
_SUMMARY = (
    columns(
        func.count(),
        func.coalesce(func.sum(case((col(SystemStatus.lgsp_connected), 1), else_=0)), 0),
        func.coalesce(func.sum(case((col(SystemStatus.ngsp_connected), 1), else_=0)), 0),
        _down_since(SystemStatus.lgsp_connected, SystemStatus.lgsp_since),
        _down_since(SystemStatus.ngsp_connected, SystemStatus.ngsp_since),
    )
    .select_from(System)
    .join(SystemStatus, col(SystemStatus.system_id) == col(System.id))
    .where(col(System.exempt).is_(False), col(System.retired_at).is_(None))
)


async def _summary(conn: AsyncConnection) -> tuple[LinkCounts, dict[Link, datetime | None]]:
    row = (await conn.execute(_SUMMARY)).one()
    counts = LinkCounts(int(row[0]), int(row[1]), int(row[2]))
    return counts, {Link.LGSP: row[3], Link.NGSP: row[4]}


async def current_counts(session: AsyncSession) -> LinkCounts:
    """Count in-scope live systems and the connected ones per link, in one aggregate query."""
    counts, _ = await _summary(await session.connection())
    return counts


async def oldest_outages(session: AsyncSession) -> dict[Link, datetime | None]:
    """Per link, when the oldest current outage among in-scope live systems began (None: none is down).

    A system never connected on a link has been down on it since its registration.
    """
    _, outages = await _summary(await session.connection())
    return outages


async def system_connectivity(session: AsyncSession, system: System, history: int = 20) -> SystemConnectivity:
    """A system's live status on both links and its latest state changes."""
    status = await session.get(SystemStatus, system.id)
    if status is None:
        raise NotFound(f"no status for system {system.id}")
    changes = (
        await session.exec(
            select(LinkStateChange)
            .where(LinkStateChange.system_id == system.id)
            .order_by(col(LinkStateChange.at).desc(), col(LinkStateChange.id).desc())
            .limit(history)
        )
    ).all()
    return SystemConnectivity.model_validate(
        status,
        update={
            "code": system.code,
            "in_scope": not system.exempt,
            "recent_changes": [StateChangePublic.model_validate(c) for c in changes],
        },
    )


async def list_links(session: AsyncSession, *, limit: int, offset: int) -> tuple[list[SystemLinks], int]:
    """A page of every live system with both links, by system id, and the total."""
    base = (
        select(System, SystemStatus)
        .join(SystemStatus, col(SystemStatus.system_id) == col(System.id))
        .where(col(System.retired_at).is_(None))
    )
    total = await session.scalar(
        select(func.count()).select_from(System).where(col(System.retired_at).is_(None))
    )
    rows = await session.exec(base.order_by(col(System.id)).limit(limit).offset(offset))
    page = [
        SystemLinks.model_validate(
            status,
            update={
                "code": system.code,
                "name": system.name,
                "agency_code": system.agency_code,
                "level": system.level,
                "in_scope": not system.exempt,
            },
        )
        for system, status in rows
    ]
    return page, int(total or 0)


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def _chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    return (ids[i : i + IN_CHUNK] for i in range(0, len(ids), IN_CHUNK))


async def _live_systems(conn: AsyncConnection, codes: Iterable[str]) -> dict[str, tuple[int, UUID | None]]:
    """Live systems among `codes`: code -> (id, the session their last hello opened)."""
    rows = await conn.execute(
        select(col(System.code), col(System.id), col(SystemStatus.session_id))
        .join(SystemStatus, col(SystemStatus.system_id) == col(System.id))
        .where(col(System.code).in_(list(codes)), col(System.retired_at).is_(None))
    )
    return {code: (int(system_id or 0), session_id) for code, system_id, session_id in rows}


async def _system_keys(conn: AsyncConnection, api_keys: Iterable[str]) -> dict[str, Any]:
    """The stored keys whose lookup part matches one of `api_keys`, by lookup."""
    lookups = {lookup for key in api_keys if (lookup := split_key(key)) is not None}
    if not lookups:
        return {}
    rows = await conn.execute(
        columns(
            col(ApiKey.lookup),
            col(ApiKey.digest),
            col(ApiKey.role),
            col(ApiKey.system_id),
            col(ApiKey.revoked_at),
        ).where(col(ApiKey.lookup).in_(lookups))
    )
    return {row.lookup: row for row in rows}


def _key_matches(keys: dict[str, Any], system_id: int, api_key: str) -> bool:
    lookup = split_key(api_key)
    key = keys.get(lookup) if lookup is not None else None
    return (
        key is not None
        and key.role == Role.SYSTEM
        and key.system_id == system_id
        and key.revoked_at is None
        and same_secret(key.digest, digest_key(api_key))
    )


def _later_sql(column: Any) -> Any:
    """SQL: the later of `column` and the bound time `b_at`."""
    at = bindparam("b_at", type_=UTCDateTime())
    return case((or_(col(column).is_(None), col(column) < at), at), else_=col(column))


async def _raise_to(conn: AsyncConnection, column: Any, latest: dict[int, datetime]) -> None:
    """Set `column` of each system's status to its time in `latest` unless it already holds a later one.

    The records of a batch share their receive time, so this is usually one UPDATE for the whole batch.
    """
    by_time: dict[datetime, list[int]] = {}
    for system_id, at in latest.items():
        by_time.setdefault(at, []).append(system_id)
    if len(by_time) > 4:
        await conn.execute(
            update(SystemStatus)
            .where(col(SystemStatus.system_id) == bindparam("b_id"))
            .values({column: _later_sql(column)}),
            [{"b_id": system_id, "b_at": at} for system_id, at in latest.items()],
        )
        return
    for at, ids in by_time.items():
        for chunk in _chunks(ids):
            await conn.execute(
                update(SystemStatus)
                .where(
                    col(SystemStatus.system_id).in_(chunk),
                    or_(col(column).is_(None), col(column) < at),
                )
                .values({column: at})
            )


_HELLO = (
    update(SystemStatus)
    .where(col(SystemStatus.system_id) == bindparam("b_id"))
    .values(session_id=bindparam("b_session"), last_hello_at=bindparam("b_at"))
)
_PROBE_OK = (
    update(SystemStatus)
    .where(col(SystemStatus.system_id) == bindparam("b_id"))
    .values(
        last_probe_ok_at=_later_sql(SystemStatus.last_probe_ok_at),
        last_probe_rtt_seconds=bindparam("b_rtt"),
    )
)
_NGSP_ACK = (
    update(SystemStatus)
    .where(col(SystemStatus.system_id) == bindparam("b_id"))
    .values(ngsp_registered=bindparam("b_registered"), ngsp_registered_at=bindparam("b_at"))
)
_LINKS = (
    update(SystemStatus)
    .where(col(SystemStatus.system_id) == bindparam("b_id"))
    .values(
        lgsp_connected=bindparam("b_lgsp_connected"),
        lgsp_since=bindparam("b_lgsp_since"),
        lgsp_reason=bindparam("b_lgsp_reason"),
        ngsp_connected=bindparam("b_ngsp_connected"),
        ngsp_since=bindparam("b_ngsp_since"),
        ngsp_reason=bindparam("b_ngsp_reason"),
    )
)


class InboxProducer:
    """The prober's own producers, for the probes to the systems' inbox topics.

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


class ConnectivityTracker(Component):
    """The hub's half of DESIGN.md section 5, safe to run in several hub processes at once.

    Each process probes and evaluates only the systems whose connectivity partition it owns in the
    consumer group, so work is split without a coordinator and moves on rebalance.
    """

    def __init__(self, settings: Settings, database: Database, bus: Bus, key: bytes) -> None:
        self.settings = settings
        self.database = database
        self.bus = bus
        self.topics: Topics = bus.topics
        self.key = key
        self.limits = Thresholds(
            heartbeat_ttl=timedelta(seconds=settings.heartbeat_ttl),
            probe_ttl=timedelta(seconds=settings.probe_ttl),
        )
        self.instance_id = uuid4()
        self.started_at = utcnow()
        # After a (re)start, evidence from before is stale through no fault of the systems: record no
        # disconnection until every connected system has had the chance to heartbeat and be probed, counted
        # from when this hub first (or again) consumes the bus, which may be seconds after it started.
        self.warmup = timedelta(
            seconds=max(settings.heartbeat_ttl, settings.probe_interval + settings.probe_timeout)
        )
        self.warm_until = self.started_at + self.warmup
        # A hub that could not beat (no bus or no database) for longer than this was blind: that time is
        # platform downtime, so its stretch of uptime is closed and a new one opens when it sees again. Two
        # missed bus health checks are not yet blindness (a slow broker answer is not an outage).
        self.blind_after = timedelta(
            seconds=max(settings.heartbeat_ttl, 2 * Worker.health_check_interval + settings.evaluate_interval)
        )
        self._last_beat: datetime | None = None
        #: A registration the NGSP did not acknowledge is sent again after this many seconds.
        self.reregister_after = max(settings.probe_ttl, 10 * settings.probe_interval)
        self._registration_sent: dict[str, float] = {}  # system code -> loop time
        self._inboxes: set[str] = set()  # inbox topics ensured by this process
        self._partitions: dict[str, int] = {}  # system code -> connectivity partition
        self._partition_count = 0
        self._uptime_recorded = False
        self.inboxes = InboxProducer(bus)
        group = f"{self.topics.prefix}.hub"
        self.connectivity_worker: Worker[Hello | Heartbeat | ProbeReply] = Worker(
            bus,
            "connectivity",
            self.topics.connectivity,
            CONNECTIVITY,
            self.on_connectivity,
            group=f"{group}.connectivity",
        )
        self.ngsp_worker: Worker[NgspAck | NgspProbeResult] = Worker(
            bus,
            "ngsp-events",
            self.topics.ngsp_events,
            NGSP_EVENTS,
            self.on_ngsp_events,
            group=f"{group}.ngsp-events",
        )

    def background(self) -> list[Background]:
        """The tracker's workers, its prober and its evaluator."""
        return [
            self.connectivity_worker,
            self.ngsp_worker,
            # A probe round every probe interval (from start to start), each spread over part of it.
            Every(
                "prober",
                self.settings.probe_interval,
                lambda: self.probe_once(spread=self.settings.probe_interval * PROBE_SPREAD),
                from_start=True,
            ),
            Every("evaluator", self.settings.evaluate_interval, self.evaluate_once),
        ]

    # -- ingest -------------------------------------------------------------------------------------

    async def on_connectivity(
        self, deliveries: Sequence[Delivery[Hello | Heartbeat | ProbeReply]]
    ) -> list[Rejection]:
        """Apply a batch of hellos, heartbeats and probe replies in one transaction."""
        rejections: list[Rejection] = []
        resets: list[SessionReset] = []
        heartbeats = 0
        hellos: dict[int, dict[str, Any]] = {}
        beats: dict[int, datetime] = {}
        probes: dict[int, tuple[datetime, float]] = {}
        async with self.database.engine.begin() as conn:
            known = await _live_systems(conn, {d.message.system for d in deliveries})
            keys = await _system_keys(
                conn, [d.message.api_key for d in deliveries if isinstance(d.message, Hello)]
            )
            for delivery in deliveries:
                message = delivery.message
                found = known.get(message.system)
                if found is None:
                    rejections.append(
                        Rejection(delivery, "unknown_system", f"no live system {message.system}")
                    )
                    continue
                system_id, session_id = found
                at = delivery.received_at
                if isinstance(message, Hello):
                    if _key_matches(keys, system_id, message.api_key):
                        known[message.system] = (system_id, message.session_id)
                        hellos[system_id] = {"b_id": system_id, "b_session": message.session_id, "b_at": at}
                        beats[system_id] = _later(beats.get(system_id), at)
                    else:
                        rejections.append(Rejection(delivery, "unauthenticated", "API key does not match"))
                elif isinstance(message, Heartbeat):
                    if session_id == message.session_id:
                        beats[system_id] = _later(beats.get(system_id), at)
                        heartbeats += 1
                    else:
                        rejections.append(Rejection(delivery, "unknown_session", "heartbeat without hello"))
                        resets.append(SessionReset(system=message.system, reason="unknown session"))
                else:
                    outcome = check_probe_reply(self.key, message, at, self.settings.probe_timeout)
                    PROBES.labels(message.via.value, outcome).inc()
                    if outcome == "bad_token":
                        rejections.append(Rejection(delivery, "bad_token", "probe token does not verify"))
                    elif outcome == "ok":
                        previous = probes.get(system_id)
                        rtt = (at - message.probe_sent_at).total_seconds()
                        probes[system_id] = (_later(previous[0] if previous else None, at), rtt)
            if hellos:
                await conn.execute(_HELLO, list(hellos.values()))
            if beats:
                await _raise_to(conn, SystemStatus.last_heartbeat_at, beats)
            if probes:
                await conn.execute(
                    _PROBE_OK,
                    [{"b_id": sid, "b_at": at, "b_rtt": rtt} for sid, (at, rtt) in probes.items()],
                )
        HEARTBEATS.inc(heartbeats)
        if resets:
            await self.bus.send_all((self.topics.inbox(r.system), encode(r), r.system) for r in resets)
        return rejections

    async def on_ngsp_events(
        self, deliveries: Sequence[Delivery[NgspAck | NgspProbeResult]]
    ) -> list[Rejection]:
        """Apply national-catalogue acknowledgements and NGSP probe results."""
        acks: dict[int, dict[str, Any]] = {}
        probes_ok: dict[int, datetime] = {}
        async with self.database.engine.begin() as conn:
            known = await _live_systems(conn, {d.message.system for d in deliveries})
            for delivery in deliveries:
                message = delivery.message
                found = known.get(message.system)
                if found is None:
                    continue  # a withdrawn system's late event: nothing to update
                system_id, _ = found
                if isinstance(message, NgspAck):
                    at = delivery.received_at if message.registered else None
                    acks[system_id] = {"b_id": system_id, "b_registered": message.registered, "b_at": at}
                else:
                    PROBES.labels(Link.NGSP.value, "ok" if message.ok else "failed").inc()
                    if message.ok:
                        probes_ok[system_id] = _later(probes_ok.get(system_id), delivery.received_at)
            if acks:
                await conn.execute(_NGSP_ACK, list(acks.values()))
            if probes_ok:
                await _raise_to(conn, SystemStatus.last_ngsp_probe_ok_at, probes_ok)
        return []

    # -- probing and evaluation ---------------------------------------------------------------------

    def _partition(self, code: str, total: int) -> int:
        """The connectivity partition of a system (murmur2 is slow in Python: computed once per code)."""
        if total != self._partition_count:
            self._partitions, self._partition_count = {}, total
        partition = self._partitions.get(code)
        if partition is None:
            partition = self._partitions[code] = partition_for(code, total)
        return partition

    async def probe_once(self, spread: float = 0.0) -> None:
        """Probe every owned system through the hub, and through the NGSP when it is registered there.

        Systems not (or no longer) in the national catalogue as they should be are (re)registered or
        withdrawn here as well, at most every `reregister_after` seconds each, so the NGSP side converges
        even after messages were lost. The round is sent in slices of PROBE_SLICE systems spread evenly
        over `spread` seconds.
        """
        partitions, total = self.connectivity_worker.owned_partitions()
        if not partitions:
            return
        async with self.database.engine.connect() as conn:
            rows = await conn.execute(
                columns(
                    col(System.id),
                    col(System.code),
                    col(System.name),
                    col(System.agency_code),
                    col(System.exempt),
                    col(SystemStatus.ngsp_registered),
                )
                .join(SystemStatus, col(SystemStatus.system_id) == col(System.id))
                .where(col(System.retired_at).is_(None))
                .order_by(col(System.id))
            )
            owned: list[Any] = []
            for batch in rows.partitions(PROBE_ROWS_CHUNK):  # ten thousand rows: let the API in between
                owned.extend(row for row in batch if self._partition(row.code, total) in partitions)
                await asyncio.sleep(0)
        if not owned:
            return
        # In system id order, as the round goes: the inbox producer shards its topics in this order.
        new = [topic for row in owned if (topic := self.topics.inbox(row.code)) not in self._inboxes]
        if new:
            await self.bus.ensure_topics({topic: self.settings.inbox_partitions for topic in new})
            await self.inboxes.track(new)
            self._inboxes.update(new)
        loop = asyncio.get_running_loop()
        start = loop.time()
        slices = [owned[i : i + PROBE_SLICE] for i in range(0, len(owned), PROBE_SLICE)]
        sent: dict[datetime, list[int]] = {}  # when (to the second), which systems
        failure: Exception | None = None
        try:
            for n, part in enumerate(slices):
                if n:
                    await asyncio.sleep(max(0.0, start + n * spread / len(slices) - loop.time()))
                await self._probe_slice(part, loop.time())
                sent.setdefault(utcnow().replace(microsecond=0), []).extend(row.id for row in part)
        except Exception as exc:  # the broker went away mid-round: record what went out, then fail
            failure = exc
        if sent:  # one short write per round, not one per slice: the database has one writer at a time
            async with self.database.engine.begin() as conn:
                for at, ids in sent.items():
                    for chunk in _chunks(ids):
                        await conn.execute(
                            update(SystemStatus)
                            .where(col(SystemStatus.system_id).in_(chunk))
                            .values(last_probe_sent_at=at)
                        )
        if failure is not None:
            raise failure

    async def _probe_slice(self, systems: Sequence[Any], now: float) -> None:
        probes: list[tuple[str, bytes, str]] = []
        records: list[tuple[str, bytes, str | None]] = []
        for system in systems:
            probe = make_probe(self.key, system.code, Link.LGSP, self.topics.connectivity)
            probes.append((self.topics.inbox(system.code), encode(probe), system.code))
            national: Message | None = None
            if not system.exempt and system.ngsp_registered:
                national = NgspProbeRequest(system=system.code)
            elif system.exempt == system.ngsp_registered:
                sent = self._registration_sent.get(system.code)
                if sent is None or now - sent >= self.reregister_after:
                    self._registration_sent[system.code] = now
                    national = NgspRegistration(
                        system=system.code,
                        name=system.name,
                        agency=system.agency_code,
                        province=self.settings.province,
                        withdraw=system.exempt,
                    )
            else:
                self._registration_sent.pop(system.code, None)
            if national is not None:
                records.append((self.topics.ngsp_requests, encode(national), system.code))
        await asyncio.gather(self.inboxes.send_all(probes), self.bus.send_all(records))
        PROBES.labels(Link.LGSP.value, "sent").inc(len(systems))

    async def evaluate_once(self) -> None:
        """Derive both links of the owned systems whose stored state no longer holds, store the changes,
        and refresh the gauges."""
        now = utcnow()
        # The platform is up while a hub runs and sees the systems, i.e. consumes the bus: only then it beats.
        on_bus = self.connectivity_worker.healthy
        blind = now - (self._last_beat or self.started_at) > self.blind_after
        if on_bus and (blind or self._last_beat is None):
            self.warm_until = max(self.warm_until, now + self.warmup)
        warm = now < self.warm_until
        partitions, total = self.connectivity_worker.owned_partitions()
        async with self.database.engine.begin() as conn:
            if partitions:
                await self._evaluate(conn, partitions, total, now, warm)
            if on_bus:
                await self._beat(conn, now, blind)
        async with self.database.engine.connect() as conn:
            counts, outages = await _summary(conn)
        publish_gauges(counts, outages)

    async def _evaluate(
        self, conn: AsyncConnection, partitions: set[int], total: int, now: datetime, warm: bool
    ) -> None:
        rows = await conn.execute(
            columns(
                col(System.id),
                col(System.code),
                col(System.exempt),
                col(System.exempt_reason),
                col(System.retired_at),
                col(SystemStatus.session_id),
                col(SystemStatus.last_heartbeat_at),
                col(SystemStatus.last_probe_ok_at),
                col(SystemStatus.ngsp_registered),
                col(SystemStatus.last_ngsp_probe_ok_at),
                col(SystemStatus.lgsp_connected),
                col(SystemStatus.lgsp_since),
                col(SystemStatus.lgsp_reason),
                col(SystemStatus.ngsp_connected),
                col(SystemStatus.ngsp_since),
                col(SystemStatus.ngsp_reason),
            )
            .join(SystemStatus, col(SystemStatus.system_id) == col(System.id))
            .where(stale_verdicts(now, self.limits))
        )
        for chunk in rows.partitions(EVALUATE_CHUNK):  # many only when many systems change at once
            links: list[dict[str, Any]] = []
            changes: list[dict[str, Any]] = []
            for row in chunk:
                if self._partition(row.code, total) not in partitions:
                    continue
                lgsp, ngsp = verdicts(
                    row,
                    exempt=row.exempt,
                    exempt_because=row.exempt_reason,
                    retired=row.retired_at is not None,
                    now=now,
                    limits=self.limits,
                )
                values = {"b_id": row.id}
                changed = False
                for link, verdict in ((Link.LGSP, lgsp), (Link.NGSP, ngsp)):
                    changed |= self._apply(row, link, verdict, now, warm, values, changes)
                if changed:
                    links.append(values)
            if links:
                await conn.execute(_LINKS, links)
            if changes:
                await conn.execute(insert(LinkStateChange), changes)
            await asyncio.sleep(0)

    @staticmethod
    def _apply(
        row: Any,
        link: Link,
        verdict: Verdict,
        now: datetime,
        warm: bool,
        values: dict[str, Any],
        changes: list[dict[str, Any]],
    ) -> bool:
        """Put the link's stored state (changed or not) into `values`, and a transition into `changes`;
        whether anything changed."""
        connected: bool = getattr(row, f"{link.value}_connected")
        since: datetime | None = getattr(row, f"{link.value}_since")
        reason: str = getattr(row, f"{link.value}_reason")
        new_reason = verdict.reason[:REASON_LENGTH]
        changed = True
        if (connected and not verdict.connected and warm) or (
            connected == verdict.connected and reason == new_reason
        ):
            changed = False
        elif connected == verdict.connected:
            reason = new_reason
        else:
            connected, since, reason = verdict.connected, now, new_reason
            changes.append(
                {"system_id": row.id, "link": link, "connected": connected, "at": now, "reason": reason}
            )
            STATE_CHANGES.labels(link.value, str(connected).lower()).inc()
        values |= {
            f"b_{link.value}_connected": connected,
            f"b_{link.value}_since": since,
            f"b_{link.value}_reason": reason,
        }
        return changed

    async def _beat(self, conn: AsyncConnection, now: datetime, blind: bool) -> None:
        """Extend this hub's stretch of uptime to `now`; after blindness, close it at its last beat and
        open a new one, so the blind time shows as platform downtime."""
        this = col(HubUptime.instance_id) == self.instance_id
        if blind:
            if self._uptime_recorded:
                await conn.execute(
                    update(HubUptime).where(this).values(stopped_at=col(HubUptime.last_seen_at))
                )
            self.instance_id, self.started_at, self._uptime_recorded = uuid4(), now, False
        elif self._uptime_recorded:
            result = await conn.execute(update(HubUptime).where(this).values(last_seen_at=now))
            if result.rowcount:
                self._last_beat = now
                return
        await conn.execute(
            insert(HubUptime).values(
                instance_id=self.instance_id, started_at=self.started_at, last_seen_at=now
            )
        )
        self._uptime_recorded = True
        self._last_beat = now

    async def stop(self) -> None:
        """Close the prober's producers and record a clean stop of this hub process."""
        await self.inboxes.stop()
        async with self.database.sessions() as session:
            uptime = await session.get(HubUptime, self.instance_id)
            if uptime is not None:
                uptime.stopped_at = utcnow()
                uptime.last_seen_at = uptime.stopped_at
                session.add(uptime)
                await session.commit()


def publish_gauges(counts: LinkCounts, outages: dict[Link, datetime | None]) -> None:
    """Set the connectivity gauges from fresh counts and outage starts."""
    SYSTEMS_IN_SCOPE.set(counts.in_scope)
    now = utcnow()
    for link, down_since in outages.items():
        SYSTEMS_DISCONNECTED_MAX.labels(link.value).set(
            max(0.0, (now - down_since).total_seconds()) if down_since else 0.0
        )
    for link, connected in ((Link.LGSP, counts.lgsp_connected), (Link.NGSP, counts.ngsp_connected)):
        SYSTEMS_CONNECTED.labels(link.value).set(connected)
        CONNECTIVITY_RATIO.labels(link.value).set(
            connected / counts.in_scope if counts.in_scope else float("nan")
        )
