"""Connectivity tracking: the component that takes in hellos, heartbeats and probe replies (`ingest`),
probes every system, evaluates its links (`evaluation`) and records the hub's own uptime.

Built to stay cheap with ten thousand systems heartbeating (bench/registry_scale.py):

- the evaluator asks the database only for the systems whose stored verdict no longer holds
  (`rules.stale_verdicts`: the definition of connected, docs/architecture/definitions.md, as SQL);
  usually none, or the few that just connected or went stale, instead of loading every system every
  second;
- the prober spreads each round over half the probe interval in slices of PROBE_SLICE systems, so the
  event loop (serving the API as well) is never held for long, and re-registers a system the NGSP did not
  acknowledge at most every `reregister_after` seconds rather than every round.
"""

import asyncio
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import uuid4

from sqlalchemy import insert, update
from sqlalchemy import select as columns
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from lgsp.background import Background, Component, Every
from lgsp.bus import Bus, Delivery, Rejection, Worker, partition_for
from lgsp.bus.inboxes import InboxProducer
from lgsp.connectivity.evaluation import evaluate
from lgsp.connectivity.ingest import apply_connectivity, apply_ngsp_events, chunks
from lgsp.connectivity.models import HubUptime, SystemStatus
from lgsp.connectivity.probes import make_probe
from lgsp.connectivity.queries import link_summary, publish_gauges
from lgsp.connectivity.rules import Thresholds
from lgsp.db import Database
from lgsp.registry.keys import bus_keys
from lgsp.registry.models import System
from lgsp.security import PlatformKeys
from lgsp.settings import Settings
from monitoring.metrics import PROBES
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
    ProbeReply,
)
from schemas.topics import Topics

#: Systems probed per slice of a probe round; a round is spread over PROBE_SPREAD of the probe interval.
PROBE_SLICE = 50
PROBE_SPREAD = 0.5
#: Systems' rows of a probe round filtered by partition between two yields of the event loop.
PROBE_ROWS_CHUNK = 1000
#: Probes made and signed between two yields of the event loop: a slice's messages cost about 100 µs of
#: CPU per system (a signed probe, and an NGSP probe or registration), 5 ms for a whole slice: the most
#: frequent hold of the loop over 8 ms at 2,000 systems, five times as frequent at 10,000. The slice's
#: records are still sent together.
PROBE_SEAL_CHUNK = 10


class ConnectivityTracker(Component):
    """The hub's half of tracking who is connected, safe to run in several hub processes at once.

    Each process probes and evaluates only the systems whose connectivity partition it owns in the
    consumer group, so work is split without a coordinator and moves on rebalance.
    """

    def __init__(self, settings: Settings, database: Database, bus: Bus, platform_keys: PlatformKeys) -> None:
        self.settings = settings
        self.database = database
        self.bus = bus
        self.topics: Topics = bus.topics
        self.platform_keys = platform_keys
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
        """Apply a batch of hellos, heartbeats and probe replies; tell senders of unknown sessions."""
        rejections, resets = await apply_connectivity(
            self.database, self.platform_keys, self.settings.probe_timeout, deliveries
        )
        if resets:
            await self.bus.send_all((self.topics.inbox(r.system), self.bus.seal(r), r.system) for r in resets)
        return rejections

    async def on_ngsp_events(
        self, deliveries: Sequence[Delivery[NgspAck | NgspProbeResult]]
    ) -> list[Rejection]:
        """Apply national-catalogue acknowledgements and NGSP probe results."""
        await apply_ngsp_events(self.database, deliveries)
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
                    for chunk in chunks(ids):
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
        keys: dict[int, dict[str, str]] | None = None  # read only for a round that re-registers
        for n, system in enumerate(systems):
            if n and n % PROBE_SEAL_CHUNK == 0:
                await asyncio.sleep(0)  # let the API and the workers in between
            probe = make_probe(self.platform_keys, system.code, Link.LGSP, self.topics.connectivity)
            probes.append((self.topics.inbox(system.code), self.bus.seal(probe), system.code))
            national: Message | None = None
            if not system.exempt and system.ngsp_registered:
                national = NgspProbeRequest(system=system.code)
            elif system.exempt == system.ngsp_registered:
                sent = self._registration_sent.get(system.code)
                if sent is None or now - sent >= self.reregister_after:
                    self._registration_sent[system.code] = now
                    if keys is None:
                        keys = await bus_keys(self.database, [s.id for s in systems])
                    national = NgspRegistration(
                        system=system.code,
                        name=system.name,
                        agency=system.agency_code,
                        province=self.settings.province,
                        withdraw=system.exempt,
                        keys=keys.get(system.id, {}),
                    )
            else:
                self._registration_sent.pop(system.code, None)
            if national is not None:
                records.append((self.topics.ngsp_requests, self.bus.seal(national), system.code))
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
                await evaluate(
                    conn,
                    now,
                    self.limits,
                    warm=warm,
                    owned=lambda code: self._partition(code, total) in partitions,
                )
            if on_bus:
                await self._beat(conn, now, blind)
        async with self.database.engine.connect() as conn:
            counts, outages = await link_summary(conn)
        publish_gauges(counts, outages)

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
