"""The audit trail (docs/architecture/design.md section 7): seal records into a hash chain, and verify it.

Records are sealed after they are final, in batches, by a background task holding the audit lock, so
the exchange path never waits for the chain and several hub processes never fork it. Each link holds
the digest of one record (canonical JSON of its columns) and the hash of the link before it. `verify`
walks the chain in pages and reports the first broken link: a changed or removed record, a changed or
removed link.
"""

import asyncio
import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel, col

from lgsp.audit.events import plain
from lgsp.audit.models import AuditEntry, IndicatorSnapshot, RegistryEvent
from lgsp.background import Background, Component, Every
from lgsp.db import Database
from lgsp.db.engine import AUDIT_LOCK
from lgsp.exchange.models import ExchangeRecord, Outcome
from lgsp.indicators.service import current_indicators
from lgsp.settings import Settings
from schemas.common import utcnow

log = logging.getLogger(__name__)
GENESIS = "0" * 64
SEAL_BATCH = 5000
VERIFY_PAGE = 5000


@dataclass(frozen=True, slots=True)
class Sealed:
    """One kind of record the chain covers: its table, key column, and which rows are ready."""

    kind: str
    table: type[SQLModel]
    key: str

    def ready(self) -> Any:
        """The condition of rows that are final and not yet sealed."""
        unsealed = col(getattr(self.table, "audit_seq")).is_(None)  # noqa: B009 (one attribute, any table)
        if self.table is ExchangeRecord:
            return unsealed & (col(ExchangeRecord.outcome) != Outcome.PENDING.value)
        return unsealed


KINDS = (
    Sealed("registry", RegistryEvent, "id"),
    Sealed("exchange", ExchangeRecord, "id"),
    Sealed("indicators", IndicatorSnapshot, "id"),
)
BY_KIND = {k.kind: k for k in KINDS}


def digest(row: Mapping[Any, Any]) -> str:
    """SHA-256 of a record's canonical JSON: every column (as the database returns it) but its own
    audit link. Rows are hashed as mappings, not models: sealing is on the hub's busiest path."""
    fields = {k: plain(v) for k, v in row.items() if k != "audit_seq"}
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def link_hash(prev_hash: str, seq: int, kind: str, ref: str, record_digest: str) -> str:
    """The hash of one link, over the link before it and the record's digest."""
    return hashlib.sha256(f"{prev_hash}|{seq}|{kind}|{ref}|{record_digest}".encode()).hexdigest()


async def seal(database: Database) -> int:
    """Chain every final, unsealed record (at most SEAL_BATCH per kind); returns how many were sealed."""
    async with database.engine.connect() as conn:
        # A read first: most rounds find nothing, and the audit lock would contend with the writers.
        if not any([(await conn.execute(select(k.table).where(k.ready()).limit(1))).first() for k in KINDS]):
            return 0
    async with database.exclusive(AUDIT_LOCK) as conn:
        last = (
            await conn.execute(
                select(col(AuditEntry.seq), col(AuditEntry.hash))
                .order_by(col(AuditEntry.seq).desc())
                .limit(1)
            )
        ).first()
        seq, prev = (last[0], last[1]) if last else (0, GENESIS)
        now = utcnow()
        entries: list[dict[str, Any]] = []
        for kind in KINDS:
            key = getattr(kind.table, kind.key)
            rows = (
                await conn.execute(
                    select(kind.table).where(kind.ready()).order_by(col(key)).limit(SEAL_BATCH)
                )
            ).all()
            links: list[dict[str, Any]] = []
            for row in rows:
                record = row._mapping
                seq += 1
                ref = str(record[kind.key])
                record_digest = digest(record)
                prev_hash, prev = prev, link_hash(prev, seq, kind.kind, ref, record_digest)
                entries.append(
                    {
                        "seq": seq,
                        "sealed_at": now,
                        "kind": kind.kind,
                        "ref": ref,
                        "digest": record_digest,
                        "prev_hash": prev_hash,
                        "hash": prev,
                    }
                )
                links.append({"_ref": record[kind.key], "_seq": seq})
            if links:
                await conn.execute(
                    update(kind.table).where(key == bindparam("_ref")).values(audit_seq=bindparam("_seq")),
                    links,
                )
        if entries:
            await conn.execute(AuditEntry.__table__.insert(), entries)  # type: ignore[attr-defined]
        return len(entries)


async def snapshot_indicators(database: Database, settings: Settings) -> None:
    """Keep the indicators as they are now; the sealer chains the snapshot."""
    async with database.sessions() as session:
        indicators = await current_indicators(session, settings)
        session.add(IndicatorSnapshot(at=indicators.as_of, data=indicators.model_dump(mode="json")))
        await session.commit()


class Verification(BaseModel):
    """The outcome of walking the chain."""

    ok: bool
    links: int = 0
    last_hash: str = GENESIS
    broken_at: int | None = None
    kind: str | None = None
    ref: str | None = None
    problem: str | None = None


async def verify(database: Database) -> Verification:
    """Walk the whole chain; the first broken link, if any (a record changed or removed, a link changed,
    removed or out of order)."""
    prev, expected, links = GENESIS, 1, 0
    async with database.engine.connect() as conn:
        while True:
            rows = await conn.execute(
                select(AuditEntry)
                .where(col(AuditEntry.seq) >= expected)
                .order_by(col(AuditEntry.seq))
                .limit(VERIFY_PAGE)
            )
            page = [AuditEntry.model_validate(row._mapping) for row in rows]
            if not page:
                break
            records = await _records(conn, page)
            for entry in page:
                problem = _check(entry, prev, expected, records.get((entry.kind, entry.ref)))
                if problem is not None:
                    at = expected if problem == "a link is missing before this one" else entry.seq
                    return Verification(
                        ok=False,
                        links=links,
                        last_hash=prev,
                        broken_at=at,
                        kind=entry.kind,
                        ref=entry.ref,
                        problem=problem,
                    )
                prev, expected, links = entry.hash, expected + 1, links + 1
        # Links cut off the end leave their records pointing past the chain's last link.
        for kind in KINDS:
            beyond = await conn.scalar(select(func.max(getattr(kind.table, "audit_seq"))))  # noqa: B009
            if beyond is not None and beyond >= expected:
                return Verification(
                    ok=False,
                    links=links,
                    last_hash=prev,
                    broken_at=expected,
                    kind=kind.kind,
                    problem="links at the end of the chain were removed",
                )
    return Verification(ok=True, links=links, last_hash=prev)


def _check(entry: AuditEntry, prev: str, expected: int, record: Mapping[Any, Any] | None) -> str | None:
    if entry.seq != expected:
        return "a link is missing before this one"
    if entry.prev_hash != prev:
        return "the link does not follow the one before it"
    if link_hash(entry.prev_hash, entry.seq, entry.kind, entry.ref, entry.digest) != entry.hash:
        return "the link was changed"
    if record is None:
        return "the record was removed"
    if digest(record) != entry.digest:
        return "the record was changed"
    return None


async def _records(
    conn: AsyncConnection, entries: Sequence[AuditEntry]
) -> dict[tuple[str, str], Mapping[Any, Any]]:
    """The records a page of links points at, one query per kind."""
    found: dict[tuple[str, str], Mapping[Any, Any]] = {}
    for kind in KINDS:
        refs = [e.ref for e in entries if e.kind == kind.kind]
        if not refs:
            continue
        key = getattr(kind.table, kind.key)
        keys: list[Any] = (
            [int(r) for r in refs] if kind.key == "id" and kind.table is not ExchangeRecord else refs
        )
        for row in (await conn.execute(select(kind.table).where(col(key).in_(keys)))).all():
            found[(kind.kind, str(row._mapping[kind.key]))] = row._mapping
    return found


class AuditTrail(Component):
    """The hub's background sealing and its periodic indicator snapshots."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self._next_snapshot = 0.0  # on the event loop's clock: the first round takes one

    def background(self) -> list[Background]:
        """Seal every LGSP_AUDIT_SEAL_INTERVAL, a backlog at once, with a snapshot when one is due."""
        return [
            Every(
                "audit-trail",
                self.settings.audit_seal_interval,
                self._round,
                again=lambda sealed: sealed >= SEAL_BATCH,
            )
        ]

    async def _round(self) -> int:
        now = asyncio.get_running_loop().time()
        if now >= self._next_snapshot:
            await snapshot_indicators(self.database, self.settings)
            self._next_snapshot = now + self.settings.audit_snapshot_interval
        return await seal(self.database)
