"""Connectivity tracking: ingest hellos, heartbeats and probe replies; probe; evaluate; count."""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import UUID, uuid4

from sqlalchemy import case, func, update
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.bus.kafka import Bus, Delivery, Rejection, Worker, partition_for
from lgsp.connectivity.models import (
    HubUptime,
    LinkStateChange,
    StateChangePublic,
    SystemConnectivity,
    SystemLinks,
    SystemStatus,
)
from lgsp.connectivity.rules import Thresholds, Verdict, lgsp_verdict, ngsp_verdict
from lgsp.db import Database
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


async def current_counts(session: AsyncSession) -> LinkCounts:
    """Count in-scope live systems and the connected ones per link, in one aggregate query."""
    row = (
        await session.exec(
            select(
                func.count(),
                func.coalesce(func.sum(case((col(SystemStatus.lgsp_connected), 1), else_=0)), 0),
                func.coalesce(func.sum(case((col(SystemStatus.ngsp_connected), 1), else_=0)), 0),
            )
            .select_from(System)
            .join(SystemStatus, col(SystemStatus.system_id) == col(System.id))
            .where(col(System.exempt).is_(False), col(System.retired_at).is_(None))
        )
    ).one()
    return LinkCounts(int(row[0]), int(row[1]), int(row[2]))


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


async def _load(session: AsyncSession, codes: Iterable[str]) -> dict[str, tuple[System, SystemStatus]]:
    rows = await session.exec(
        select(System, SystemStatus)
        .join(SystemStatus, col(SystemStatus.system_id) == col(System.id))
        .where(col(System.code).in_(list(codes)), col(System.retired_at).is_(None))
    )
    return {system.code: (system, status) for system, status in rows}


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


class ConnectivityTracker:
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
        # disconnection until every connected system has had the chance to heartbeat and be probed.
        warmup = max(settings.heartbeat_ttl, settings.probe_interval + settings.probe_timeout)
        self.warm_until = self.started_at + timedelta(seconds=warmup)
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

    def tasks(self) -> list[asyncio.Task[None]]:
        """Start the tracker's workers and loops."""
        return [
            asyncio.create_task(self.connectivity_worker.run(), name="connectivity-worker"),
            asyncio.create_task(self.ngsp_worker.run(), name="ngsp-events-worker"),
            asyncio.create_task(self._every(self.settings.probe_interval, self.probe_once), name="prober"),
            asyncio.create_task(
                self._every(self.settings.evaluate_interval, self.evaluate_once), name="evaluator"
            ),
        ]

    @staticmethod
    async def _every(interval: float, step: Callable[[], Awaitable[None]]) -> None:
        while True:
            try:
                await step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # database or broker away: try again next round
                log.warning("%s failed: %s", getattr(step, "__name__", "step"), exc)
            await asyncio.sleep(interval)

    # -- ingest -------------------------------------------------------------------------------------

    async def on_connectivity(
        self, deliveries: Sequence[Delivery[Hello | Heartbeat | ProbeReply]]
    ) -> list[Rejection]:
        """Apply a batch of hellos, heartbeats and probe replies in one transaction."""
        rejections: list[Rejection] = []
        resets: list[SessionReset] = []
        heartbeats = 0
        async with self.database.sessions() as session:
            known = await _load(session, {d.message.system for d in deliveries})
            for delivery in deliveries:
                message = delivery.message
                found = known.get(message.system)
                if found is None:
                    rejections.append(
                        Rejection(delivery, "unknown_system", f"no live system {message.system}")
                    )
                    continue
                system, status = found
                if isinstance(message, Hello):
                    if await self._key_matches(session, system, message.api_key):
                        status.session_id = message.session_id
                        status.last_hello_at = delivery.received_at
                        status.last_heartbeat_at = _later(status.last_heartbeat_at, delivery.received_at)
                    else:
                        rejections.append(Rejection(delivery, "unauthenticated", "API key does not match"))
                elif isinstance(message, Heartbeat):
                    if status.session_id == message.session_id:
                        status.last_heartbeat_at = _later(status.last_heartbeat_at, delivery.received_at)
                        heartbeats += 1
                    else:
                        rejections.append(Rejection(delivery, "unknown_session", "heartbeat without hello"))
                        resets.append(SessionReset(system=system.code, reason="unknown session"))
                else:
                    outcome = check_probe_reply(
                        self.key, message, delivery.received_at, self.settings.probe_timeout
                    )
                    PROBES.labels(message.via.value, outcome).inc()
                    if outcome == "bad_token":
                        rejections.append(Rejection(delivery, "bad_token", "probe token does not verify"))
                    elif outcome == "ok":
                        status.last_probe_ok_at = _later(status.last_probe_ok_at, delivery.received_at)
                        status.last_probe_rtt_seconds = (
                            delivery.received_at - message.probe_sent_at
                        ).total_seconds()
                session.add(status)
            await session.commit()
        HEARTBEATS.inc(heartbeats)
        if resets:
            await self.bus.send_all((self.topics.inbox(r.system), encode(r), r.system) for r in resets)
        return rejections

    async def _key_matches(self, session: AsyncSession, system: System, api_key: str) -> bool:
        lookup = split_key(api_key)
        if lookup is None:
            return False
        key = (await session.exec(select(ApiKey).where(ApiKey.lookup == lookup))).first()
        return (
            key is not None
            and key.role == Role.SYSTEM
            and key.system_id == system.id
            and key.revoked_at is None
            and same_secret(key.digest, digest_key(api_key))
        )

    async def on_ngsp_events(
        self, deliveries: Sequence[Delivery[NgspAck | NgspProbeResult]]
    ) -> list[Rejection]:
        """Apply national-catalogue acknowledgements and NGSP probe results."""
        rejections: list[Rejection] = []
        async with self.database.sessions() as session:
            known = await _load(session, {d.message.system for d in deliveries})
            for delivery in deliveries:
                message = delivery.message
                found = known.get(message.system)
                if found is None:
                    continue  # a withdrawn system's late event: nothing to update
                _, status = found
                if isinstance(message, NgspAck):
                    status.ngsp_registered = message.registered
                    status.ngsp_registered_at = delivery.received_at if message.registered else None
                else:
                    PROBES.labels(Link.NGSP.value, "ok" if message.ok else "failed").inc()
                    if message.ok:
                        status.last_ngsp_probe_ok_at = _later(
                            status.last_ngsp_probe_ok_at, delivery.received_at
                        )
                session.add(status)
            await session.commit()
        return rejections

    # -- probing and evaluation ---------------------------------------------------------------------

    async def _owned(
        self, session: AsyncSession, *, include_retired: bool
    ) -> list[tuple[System, SystemStatus]]:
        partitions, total = self.connectivity_worker.owned_partitions()
        if not partitions:
            return []
        query = select(System, SystemStatus).join(SystemStatus, col(SystemStatus.system_id) == col(System.id))
        if not include_retired:
            query = query.where(col(System.retired_at).is_(None))
        rows = (await session.exec(query)).all()
        return [(s, st) for s, st in rows if partition_for(s.code, total) in partitions]

    async def probe_once(self) -> None:
        """Probe every owned system through the hub, and through the NGSP when it is registered there.

        Systems not (or no longer) in the national catalogue as they should be are (re)registered or
        withdrawn here as well, so the NGSP side converges even after messages were lost.
        """
        async with self.database.sessions() as session:
            owned = await self._owned(session, include_retired=False)
            if not owned:
                return
            await self.bus.ensure_topics(
                {self.topics.inbox(s.code): self.settings.inbox_partitions for s, _ in owned}
            )
            records: list[tuple[str, bytes, str | None]] = []
            for system, status in owned:
                probe = make_probe(self.key, system.code, Link.LGSP, self.topics.connectivity)
                records.append((self.topics.inbox(system.code), encode(probe), system.code))
                national: Message | None = None
                if not system.exempt and status.ngsp_registered:
                    national = NgspProbeRequest(system=system.code)
                elif system.exempt == status.ngsp_registered:
                    national = NgspRegistration(
                        system=system.code,
                        name=system.name,
                        agency=system.agency_code,
                        province=self.settings.province,
                        withdraw=system.exempt,
                    )
                if national is not None:
                    records.append((self.topics.ngsp_requests, encode(national), system.code))
            await self.bus.send_all(records)
            PROBES.labels(Link.LGSP.value, "sent").inc(len(owned))
            await session.exec(
                update(SystemStatus)
                .where(col(SystemStatus.system_id).in_([s.id for s, _ in owned]))
                .values(last_probe_sent_at=utcnow())
            )
            await session.commit()

    async def evaluate_once(self) -> None:
        """Derive both links of every owned system, store the changes, and refresh the gauges."""
        now = utcnow()
        warm = now < self.warm_until
        async with self.database.sessions() as session:
            for system, status in await self._owned(session, include_retired=True):
                if system.retired_at is not None:
                    lgsp = ngsp = Verdict(False, "retired")
                else:
                    lgsp = lgsp_verdict(status, now, self.limits)
                    ngsp = (
                        Verdict(False, f"exempt ({system.exempt_reason}): not linked to the NGSP")
                        if system.exempt
                        else ngsp_verdict(status, lgsp, now, self.limits)
                    )
                if self._apply(session, status, Link.LGSP, lgsp, now, warm) | self._apply(
                    session, status, Link.NGSP, ngsp, now, warm
                ):
                    session.add(status)
            await self._beat(session, now)
            await session.commit()
            counts = await current_counts(session)
        publish_gauges(counts)

    def _apply(
        self,
        session: AsyncSession,
        status: SystemStatus,
        link: Link,
        verdict: Verdict,
        now: datetime,
        warm: bool,
    ) -> bool:
        connected: bool = getattr(status, f"{link.value}_connected")
        reason: str = getattr(status, f"{link.value}_reason")
        if connected and not verdict.connected and warm:
            return False
        if connected == verdict.connected:
            if reason == verdict.reason:
                return False
            setattr(status, f"{link.value}_reason", verdict.reason)
            return True
        setattr(status, f"{link.value}_connected", verdict.connected)
        setattr(status, f"{link.value}_since", now)
        setattr(status, f"{link.value}_reason", verdict.reason)
        session.add(
            LinkStateChange(
                system_id=status.system_id,
                link=link,
                connected=verdict.connected,
                at=now,
                reason=verdict.reason,
            )
        )
        STATE_CHANGES.labels(link.value, str(verdict.connected).lower()).inc()
        return True

    async def _beat(self, session: AsyncSession, now: datetime) -> None:
        uptime = await session.get(HubUptime, self.instance_id)
        if uptime is None:
            uptime = HubUptime(instance_id=self.instance_id, started_at=self.started_at)
        uptime.last_seen_at = now
        session.add(uptime)

    async def stopped(self) -> None:
        """Record a clean stop of this hub process."""
        async with self.database.sessions() as session:
            uptime = await session.get(HubUptime, self.instance_id)
            if uptime is not None:
                uptime.stopped_at = utcnow()
                uptime.last_seen_at = uptime.stopped_at
                session.add(uptime)
                await session.commit()


def publish_gauges(counts: LinkCounts) -> None:
    """Set the connectivity gauges from fresh counts."""
    SYSTEMS_IN_SCOPE.set(counts.in_scope)
    for link, connected in ((Link.LGSP, counts.lgsp_connected), (Link.NGSP, counts.ngsp_connected)):
        SYSTEMS_CONNECTED.labels(link.value).set(connected)
        CONNECTIVITY_RATIO.labels(link.value).set(
            connected / counts.in_scope if counts.in_scope else float("nan")
        )
