"""The audit trail (docs/architecture/design.md section 7): seal records into a hash chain, and verify it.

Records are sealed after they are final, in batches, by a background task holding the audit lock, so
the exchange path never waits for the chain and several hub processes never fork it. Each link holds
the digest of one record (lgsp/audit/records.py says which) and the hash of the link before it. `verify`
walks the chain in pages and reports the first broken link: a changed or removed record, a changed or
removed link, or, against the anchors the hub signed (lgsp/audit/anchors.py), a tail cut off or sealed
again.
"""

import asyncio
import hashlib
import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import bindparam, delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from lgsp.audit.anchors import GENESIS, Anchoring, Anchors, chain_head
from lgsp.audit.models import AuditEntry, AuditPending, IndicatorSnapshot
from lgsp.audit.records import BY_KIND, KINDS, MARKED, UPTIME, Kind, Queued, Record, digest
from lgsp.background import Background, Component, Every
from lgsp.db import Database
from lgsp.db.engine import AUDIT_LOCK
from lgsp.indicators.service import current_indicators
from lgsp.settings import Settings
from schemas.common import utcnow
from schemas.messages import AuditAnchor

log = logging.getLogger(__name__)
SEAL_BATCH = 5000
VERIFY_PAGE = 5000
TRUNCATED = "links at the end of the chain were removed"
RESEALED = "the link is not the one anchored: the chain was re-sealed"
__all__ = ["GENESIS", "SEAL_BATCH", "AuditTrail", "Verification", "digest", "link_hash", "seal", "verify"]


def link_hash(prev_hash: str, seq: int, kind: str, ref: str, record_digest: str) -> str:
    """The hash of one link, over the link before it and the record's digest."""
    return hashlib.sha256(f"{prev_hash}|{seq}|{kind}|{ref}|{record_digest}".encode()).hexdigest()


class _Links:
    """The links one sealing round appends after the chain's head."""

    def __init__(self, seq: int, prev: str) -> None:
        self.seq, self.prev, self.now = seq, prev, utcnow()
        self.entries: list[dict[str, Any]] = []

    def add(self, kind: str, ref: str, record_digest: str) -> int:
        self.seq += 1
        prev_hash, self.prev = self.prev, link_hash(self.prev, self.seq, kind, ref, record_digest)
        self.entries.append(
            {
                "seq": self.seq,
                "sealed_at": self.now,
                "kind": kind,
                "ref": ref,
                "digest": record_digest,
                "prev_hash": prev_hash,
                "hash": self.prev,
            }
        )
        return self.seq


async def seal(database: Database) -> int:
    """Chain every final, unsealed record (at most SEAL_BATCH per kind); returns how many were sealed."""
    async with database.engine.connect() as conn:
        # A read first: most rounds find nothing, and the audit lock would contend with the writers.
        if not await _anything_to_seal(conn):
            return 0
    async with database.exclusive(AUDIT_LOCK) as conn:
        links = _Links(*await chain_head(conn))
        for kind in MARKED:
            key = getattr(kind.table, kind.key)
            rows = (
                await conn.execute(
                    select(kind.table).where(kind.ready()).order_by(col(key)).limit(SEAL_BATCH)
                )
            ).all()
            marks: list[dict[str, Any]] = []
            for row in rows:
                record = row._mapping
                seq = links.add(kind.kind, kind.ref(record[kind.key]), digest(record))
                marks.append({"_ref": record[kind.key], "_seq": seq})
            if marks:
                await conn.execute(
                    update(kind.table).where(key == bindparam("_ref")).values(audit_seq=bindparam("_seq")),
                    marks,
                )
        await _seal_queued(conn, links)
        if links.entries:
            await conn.execute(AuditEntry.__table__.insert(), links.entries)  # type: ignore[attr-defined]
        return len(links.entries)


async def _anything_to_seal(conn: AsyncConnection) -> bool:
    for kind in MARKED:
        if (await conn.execute(select(kind.table).where(kind.ready()).limit(1))).first():
            return True
    others = select(col(AuditPending.id)).where(col(AuditPending.kind) != UPTIME.kind).limit(1)
    if (await conn.execute(others)).first():
        return True
    # Stretches of uptime wait in the queue while their hubs run: only one that is over is work.
    waiting = select(col(AuditPending.ref)).where(col(AuditPending.kind) == UPTIME.kind)
    raws = list((await conn.execute(waiting)).scalars())
    refs = [ref for raw in raws if (ref := _ref(UPTIME, raw)) is not None]
    if len(refs) < len(raws):
        return True  # something queued that is no key: to be dropped
    records = await UPTIME.fetch(conn, refs) if refs else {}
    return any(ref not in records or UPTIME.final(records[ref]) for ref in refs)


def _ref(kind: Kind | None, raw: str) -> str | None:
    """A queued key as a link names it; None if it is no key of a queued kind."""
    if not isinstance(kind, Queued):
        return None
    try:
        return kind.ref(kind.parse(raw))
    except ValueError:
        return None


async def _seal_queued(conn: AsyncConnection, links: _Links) -> None:
    """Seal what the triggers queued, in the order it was written; a record not final stays queued."""
    query = select(AuditPending).order_by(col(AuditPending.id)).limit(SEAL_BATCH)
    queue = [
        (row.id, row.kind, _ref(BY_KIND.get(row.kind), row.ref), row.ref) for row in await conn.execute(query)
    ]
    wanted: dict[str, list[str]] = {}
    for _, name, ref, _ in queue:
        if ref is not None:
            wanted.setdefault(name, []).append(ref)
    records: dict[str, dict[str, Record]] = {}
    sealed: dict[str, set[str]] = {}  # a record queued twice is sealed once
    for name, refs in wanted.items():
        records[name] = await BY_KIND[name].fetch(conn, refs)
        known = select(col(AuditEntry.ref)).where(col(AuditEntry.kind) == name, col(AuditEntry.ref).in_(refs))
        sealed[name] = set((await conn.execute(known)).scalars())
    done: list[int] = []
    for queue_id, name, ref, raw in queue:
        if ref is None:
            log.warning("audit: dropping a queued record that is none (%s %r)", name[:32], raw[:64])
        elif (record := records[name].get(ref)) is None:
            log.warning("audit: %s %s was removed before it was sealed", name, ref)
        elif ref not in sealed[name]:
            if not _final(BY_KIND[name], record):
                continue
            links.add(name, ref, digest(record))
            sealed[name].add(ref)
        done.append(queue_id)
    if done:
        await conn.execute(delete(AuditPending).where(col(AuditPending.id).in_(done)))


def _final(kind: Kind, record: Record) -> bool:
    """Whether `record` will change no more (a stretch of uptime grows until its hub stops)."""
    return not isinstance(kind, Queued) or kind.final(record)


async def snapshot_indicators(database: Database, settings: Settings) -> None:
    """Keep the indicators as they are now; the sealer chains the snapshot."""
    async with database.sessions() as session:
        indicators = await current_indicators(session, settings)
        session.add(IndicatorSnapshot(at=indicators.as_of, data=indicators.model_dump(mode="json")))
        await session.commit()


class Verification(BaseModel):
    """The outcome of walking the chain, and of checking it against the anchors given."""

    ok: bool
    links: int = 0
    last_hash: str = GENESIS
    broken_at: int | None = None
    kind: str | None = None
    ref: str | None = None
    problem: str | None = None
    anchors: int = Field(default=0, description="Anchors signed by the hub the chain was checked against")
    anchors_refused: int = Field(
        default=0, description="Lines of the anchor file not signed by the hub's key"
    )
    anchor_links: int | None = Field(
        default=None, description="The length of the chain the newest anchor signed (or the one it broke)"
    )
    anchor_at: datetime | None = Field(default=None, description="When that anchor was signed")


async def verify(database: Database, anchors: Anchors | None = None) -> Verification:
    """Walk the whole chain; the first broken link, if any (a record changed or removed, a link changed,
    removed or out of order, a link other than the one anchored, links cut off the end).

    Every anchor given is checked (the newest alone would not do: a hub started afresh could anchor a
    tail that was re-sealed before it started)."""
    anchors = anchors or Anchors()
    anchored: dict[int, list[AuditAnchor]] = {}
    for anchor in anchors.found:
        anchored.setdefault(anchor.links, []).append(anchor)
    latest = anchors.latest
    seen: dict[str, Any] = {
        "anchors": len(anchors.found),
        "anchors_refused": anchors.refused,
        "anchor_links": latest.links if latest else None,
        "anchor_at": latest.sent_at if latest else None,
    }
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
                differing = [a for a in anchored.get(entry.seq, ()) if a.head != entry.hash]
                if problem is None and differing:
                    problem = RESEALED
                    seen |= {"anchor_links": entry.seq, "anchor_at": differing[0].sent_at}
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
                        **seen,
                    )
                prev, expected, links = entry.hash, expected + 1, links + 1
        # Links cut off the end leave their records pointing past the chain's last link.
        for kind in MARKED:
            beyond = await conn.scalar(select(func.max(getattr(kind.table, "audit_seq"))))  # noqa: B009
            if beyond is not None and beyond >= expected:
                return Verification(
                    ok=False,
                    links=links,
                    last_hash=prev,
                    broken_at=expected,
                    kind=kind.kind,
                    problem=TRUNCATED,
                    **seen,
                )
    # Cut off with their records, they leave a chain shorter than its anchors.
    if latest is not None and latest.links > links:
        return Verification(
            ok=False, links=links, last_hash=prev, broken_at=expected, problem=TRUNCATED, **seen
        )
    return Verification(ok=True, links=links, last_hash=prev, **seen)


def _check(entry: AuditEntry, prev: str, expected: int, record: tuple[Kind, Record] | None) -> str | None:
    if entry.seq != expected:
        return "a link is missing before this one"
    if entry.prev_hash != prev:
        return "the link does not follow the one before it"
    if link_hash(entry.prev_hash, entry.seq, entry.kind, entry.ref, entry.digest) != entry.hash:
        return "the link was changed"
    if record is None:
        return "the record was removed"
    kind, row = record
    if not kind.matches(row, entry.digest):
        return "the record was changed"
    return None


async def _records(
    conn: AsyncConnection, entries: Sequence[AuditEntry]
) -> dict[tuple[str, str], tuple[Kind, Record]]:
    """The records a page of links points at, one query per kind (three for dossiers)."""
    found: dict[tuple[str, str], tuple[Kind, Mapping[str, Any]]] = {}
    for kind in KINDS:
        refs = [e.ref for e in entries if e.kind == kind.kind]
        if refs:
            for ref, record in (await kind.fetch(conn, refs)).items():
                found[(kind.kind, ref)] = (kind, record)
    return found


class AuditTrail(Component):
    """The hub's background sealing, its periodic indicator snapshots, and its anchors."""

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self.anchoring = Anchoring(settings, database)
        self._next_snapshot = 0.0  # on the event loop's clock: the first round takes one

    def background(self) -> list[Background]:
        """Seal every LGSP_AUDIT_SEAL_INTERVAL, a backlog at once, with a snapshot when one is due; anchor
        the chain every LGSP_AUDIT_ANCHOR_INTERVAL (a job of its own: a full disk stops no sealing)."""
        return [
            Every(
                "audit-trail",
                self.settings.audit_seal_interval,
                self._round,
                again=lambda sealed: sealed >= SEAL_BATCH,
            ),
            Every("audit-anchor", self.settings.audit_anchor_interval, self.anchoring.round, from_start=True),
        ]

    async def _round(self) -> int:
        now = asyncio.get_running_loop().time()
        if now >= self._next_snapshot:
            await snapshot_indicators(self.database, self.settings)
            self._next_snapshot = now + self.settings.audit_snapshot_interval
        return await seal(self.database)
