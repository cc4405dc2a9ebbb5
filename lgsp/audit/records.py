"""What the audit chain covers: each kind of record, how it is found, read and hashed.

Two ways of knowing what is not sealed yet:
- `Marked` kinds are tables of the audit's own, or that carry an `audit_seq` column: registry events,
  exchange records (once settled), indicator snapshots. The sealer writes the link's number into it.
- `Queued` kinds are other domains' tables, written by code that knows nothing of the audit: link state
  changes, hub uptime, dossiers. Database triggers queue each new row in `audit_pending` (migration 0009).

A record's digest is the SHA-256 of its canonical JSON: every column as the database returns it. A
dossier is one record with its components and the ledger documents it brought in, so a component changed
or a document removed or added in its name changes the dossier's digest.
"""

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import SQLModel, col

from lgsp.audit.events import plain
from lgsp.audit.models import IndicatorSnapshot, RegistryEvent
from lgsp.connectivity.models import HubUptime, LinkStateChange
from lgsp.exchange.models import ExchangeRecord, Outcome
from lgsp.onceonly.models import AcceptedDocument, Dossier, DossierComponentRecord
from schemas.common import utcnow

Record = Mapping[Any, Any]
#: A hub's stretch of uptime with no beat for this long is over: its hub died (or froze, and closes it
#: when it comes back, which verification accepts: `_closed_late`).
UPTIME_SETTLED = timedelta(minutes=10)


def digest(row: Mapping[Any, Any]) -> str:
    """SHA-256 of a record's canonical JSON: every column (as the database returns it) but its own
    audit link. Rows are hashed as mappings, not models: sealing is on the hub's busiest path.

    A column added to a sealed table changes the digest of the rows sealed before it (null or not):
    give the kind a `tolerate` rule for it, as for `actor_key` and the exchange evidence."""
    fields = {k: plain(v) for k, v in row.items() if k != "audit_seq"}
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _without_null(*columns: str) -> Callable[[Record], Iterator[Record]]:
    """The record as sealed before `columns` existed: they are null in it now."""

    def variants(record: Record) -> Iterator[Record]:
        if all(record.get(c) is None for c in columns):
            yield {k: v for k, v in record.items() if k not in columns}

    return variants


def _closed_late(record: Record) -> Iterator[Record]:
    """A stretch sealed once silent, then closed where it ended by its hub coming back from a freeze
    (lgsp/connectivity/tracker.py: `stopped_at` set to `last_seen_at`, nothing else changed)."""
    if record["stopped_at"] is not None and record["stopped_at"] == record["last_seen_at"]:
        yield dict(record) | {"stopped_at": None}


#: Columns migration 0010 added to a dossier and its components (claims checked): null in those sealed before.
_CLAIMS = ("unverified", "claimed_received_on")


def _before_claims(record: Record) -> Iterator[Record]:
    """A dossier as sealed before its claims were checked (migration 0010): the new columns, null in it
    now, were not there."""
    dossier, components = record["dossier"], record["components"]
    if all(dossier.get(c) is None for c in _CLAIMS) and all(c.get("evidence") is None for c in components):
        yield dict(record) | {
            "dossier": {k: v for k, v in dossier.items() if k not in _CLAIMS},
            "components": [{k: v for k, v in c.items() if k != "evidence"} for c in components],
        }


def _exchange_before(record: Record) -> Iterator[Record]:
    """An exchange record as sealed before its purpose (migration 0011), and before its evidence too
    (migration 0008): the columns, null in it now, were not there."""
    yield from _without_null("purpose")(record)
    if record.get("purpose") is None:
        yield from _without_null("request_evidence", "response_evidence")(
            {k: v for k, v in record.items() if k != "purpose"}
        )


def _no_variants(record: Record) -> Iterator[Record]:
    return iter(())


@dataclass(frozen=True, slots=True)
class Kind:
    """One kind of sealed record: its table, key column and how its records are read for a digest."""

    kind: str
    table: type[SQLModel]
    key: str
    #: Earlier forms of a record that its sealed digest may be of, without anything having been changed.
    tolerate: Callable[[Record], Iterator[Record]] = _no_variants

    def ref(self, value: Any) -> str:
        """The key as a link names it."""
        return str(value)

    def parse(self, ref: str) -> Any:
        """A link's ref (or a queued one, as the database wrote it) as a value of the key column."""
        return int(ref) if self.key == "id" and self.table not in (ExchangeRecord, Dossier) else ref

    async def fetch(self, conn: AsyncConnection, refs: Sequence[str]) -> dict[str, Record]:
        """The records named by `refs`, by ref."""
        values = []
        for ref in refs:
            try:
                values.append(self.parse(ref))
            except ValueError:  # a ref that names nothing (a link tampered with): no record
                continue
        rows = await conn.execute(select(self.table).where(col(getattr(self.table, self.key)).in_(values)))
        return {self.ref(row._mapping[self.key]): row._mapping for row in rows}

    def matches(self, record: Record, sealed: str) -> bool:
        """Whether `record` is what was sealed with digest `sealed`."""
        return digest(record) == sealed or any(digest(v) == sealed for v in self.tolerate(record))


@dataclass(frozen=True, slots=True)
class Marked(Kind):
    """A table with an `audit_seq` column: unsealed rows are those without one."""

    def ready(self) -> Any:
        """The condition of rows that are final and not yet sealed."""
        unsealed = col(getattr(self.table, "audit_seq")).is_(None)  # noqa: B009 (one attribute, any table)
        if self.table is ExchangeRecord:
            return unsealed & (col(ExchangeRecord.outcome) != Outcome.PENDING.value)
        return unsealed


@dataclass(frozen=True, slots=True)
class Queued(Kind):
    """A table whose new rows the database queues in `audit_pending`."""

    def final(self, record: Record) -> bool:
        """Whether the record will not change any more, so it can be sealed."""
        return True


class Uptime(Queued):
    """Hub uptime: a stretch grows with every beat of its hub, so it is sealed once over."""

    def parse(self, ref: str) -> Any:
        """A UUID, as the database writes it as text (32 hex digits on SQLite, dashed on PostgreSQL)."""
        return UUID(ref)

    def final(self, record: Record) -> bool:
        """Stopped, or silent for UPTIME_SETTLED."""
        return record["stopped_at"] is not None or record["last_seen_at"] < utcnow() - UPTIME_SETTLED


class Dossiers(Queued):
    """A dossier with its components and the accepted documents it brought into the ledger."""

    async def fetch(self, conn: AsyncConnection, refs: Sequence[str]) -> dict[str, Record]:
        ids = list(refs)
        found: dict[str, dict[str, Any]] = {}
        for dossier in await conn.execute(select(Dossier).where(col(Dossier.id).in_(ids))):
            found[dossier.id] = {"dossier": _plain(dossier._mapping), "components": [], "documents": []}
        parts: tuple[tuple[str, type[SQLModel], Any, Any], ...] = (
            (
                "components",
                DossierComponentRecord,
                DossierComponentRecord.dossier_id,
                DossierComponentRecord.id,
            ),
            ("documents", AcceptedDocument, AcceptedDocument.dossier_id, AcceptedDocument.id),
        )
        for part, table, owner, order in parts:
            for row in await conn.execute(select(table).where(col(owner).in_(ids)).order_by(col(order))):
                if row.dossier_id in found:
                    found[row.dossier_id][part].append(_plain(row._mapping))
        return {ref: record for ref, record in found.items()}


def _plain(row: Mapping[Any, Any]) -> dict[str, Any]:
    return {k: plain(v) for k, v in row.items()}


MARKED = (
    Marked("registry", RegistryEvent, "id", _without_null("actor_key")),
    # Exchange evidence came in migration 0008 and the purpose in 0011: records sealed before either was
    # sealed without it.
    Marked("exchange", ExchangeRecord, "id", _exchange_before),
    Marked("indicators", IndicatorSnapshot, "id"),
)
UPTIME = Uptime("hub_uptime", HubUptime, "instance_id", _closed_late)
QUEUED = (
    Queued("link_state", LinkStateChange, "id"),
    UPTIME,
    Dossiers("dossier", Dossier, "id", _before_claims),
)
KINDS: tuple[Kind, ...] = (*MARKED, *QUEUED)
BY_KIND = {k.kind: k for k in KINDS}
