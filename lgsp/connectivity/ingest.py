"""Ingest: hellos, heartbeats, probe replies and NGSP events applied to the systems' status in a few
set-based statements per batch.

A batch of up to a thousand records becomes a few set-based UPDATEs on one connection (no ORM objects):
one for every heartbeat of the batch, one executemany for the probe replies and the hellos; that keeps
ten thousand systems heartbeating cheap (bench/registry_scale.py).
"""

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import bindparam, case, or_, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col, select

from lgsp.bus import Delivery, Rejection
from lgsp.connectivity.models import SystemStatus
from lgsp.connectivity.probes import check_probe_reply
from lgsp.db import Database, UTCDateTime
from lgsp.registry.models import System
from lgsp.security import PlatformKeys
from monitoring.metrics import HEARTBEATS, PROBES
from schemas.common import Link
from schemas.messages import (
    Heartbeat,
    Hello,
    NgspAck,
    NgspProbeResult,
    ProbeReply,
    SessionReset,
)

#: At most this many ids in one `IN (...)` list.
IN_CHUNK = 1000


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None or b > a else a


def chunks(ids: Sequence[int]) -> Iterable[Sequence[int]]:
    """`ids` in slices of at most IN_CHUNK, one `IN (...)` list each."""
    return (ids[i : i + IN_CHUNK] for i in range(0, len(ids), IN_CHUNK))


async def _live_systems(conn: AsyncConnection, codes: Iterable[str]) -> dict[str, tuple[int, UUID | None]]:
    """Live systems among `codes`: code -> (id, the session their last hello opened)."""
    rows = await conn.execute(
        select(col(System.code), col(System.id), col(SystemStatus.session_id))
        .join(SystemStatus, col(SystemStatus.system_id) == col(System.id))
        .where(col(System.code).in_(list(codes)), col(System.retired_at).is_(None))
    )
    return {code: (int(system_id or 0), session_id) for code, system_id, session_id in rows}


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
        for chunk in chunks(ids):
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


async def apply_connectivity(
    database: Database,
    keys: PlatformKeys,
    probe_timeout: float,
    deliveries: Sequence[Delivery[Hello | Heartbeat | ProbeReply]],
) -> tuple[list[Rejection], list[SessionReset]]:
    """Apply a batch of authenticated hellos, heartbeats and probe replies in one transaction; return the
    records refused and the session resets owed to systems that beat without a hello."""
    rejections: list[Rejection] = []
    resets: list[SessionReset] = []
    heartbeats = 0
    hellos: dict[int, dict[str, Any]] = {}
    beats: dict[int, datetime] = {}
    probes: dict[int, tuple[datetime, float]] = {}
    async with database.engine.begin() as conn:
        known = await _live_systems(conn, {d.message.system for d in deliveries})
        for delivery in deliveries:
            message = delivery.message
            found = known.get(message.system)
            if found is None:
                rejections.append(Rejection(delivery, "unknown_system", f"no live system {message.system}"))
                continue
            system_id, session_id = found
            at = delivery.received_at
            if isinstance(message, Hello):  # signed by a live key of the system (lgsp.bus.authentication)
                known[message.system] = (system_id, message.session_id)
                hellos[system_id] = {"b_id": system_id, "b_session": message.session_id, "b_at": at}
                beats[system_id] = _later(beats.get(system_id), at)
            elif isinstance(message, Heartbeat):
                if session_id == message.session_id:
                    beats[system_id] = _later(beats.get(system_id), at)
                    heartbeats += 1
                else:
                    rejections.append(Rejection(delivery, "unknown_session", "heartbeat without hello"))
                    resets.append(SessionReset(system=message.system, reason="unknown session"))
            else:
                outcome = check_probe_reply(keys, message, at, probe_timeout)
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
    return rejections, resets


async def apply_ngsp_events(
    database: Database, deliveries: Sequence[Delivery[NgspAck | NgspProbeResult]]
) -> None:
    """Apply national-catalogue acknowledgements and NGSP probe results in one transaction."""
    acks: dict[int, dict[str, Any]] = {}
    probes_ok: dict[int, datetime] = {}
    async with database.engine.begin() as conn:
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
