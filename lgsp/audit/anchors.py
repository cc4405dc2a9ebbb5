"""Anchors: the head of the audit chain, signed by the hub and kept where the hub's database is not.

The chain shows a record changed or a link removed anywhere but at its end: whoever can write the database
can remove the last links with their records, or seal a changed tail again, and the chain still holds
together. So every LGSP_AUDIT_ANCHOR_INTERVAL the hub signs the chain's length and last hash as an
`AuditAnchor`, sends it to the NGSP (which keeps it in its own database) and appends it to
LGSP_AUDIT_ANCHOR_FILE, which the operator ships elsewhere. Verification checks the chain against the
anchors it is given: a chain shorter than an anchor, or whose link differs from the one anchored, was cut
or re-sealed (only links sealed after the newest anchor can go unseen).

Anchors are signed with the hub's bus key (LGSP_BUS_SIGNING_KEY, or derived from the secret key), as a bus
message: the NGSP already holds its public key, anyone can fetch it (GET /api/v1/bus/trust), and a key of
its own would need a distribution of its own. The statement names its type (`audit_anchor`), so an anchor
cannot pass for another message, nor another message for an anchor.
"""

import asyncio
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from buscore.signing import HUB, Signer, Trust, check, signed_statement
from lgsp.audit.models import AuditEntry
from lgsp.bus.outbox import enqueue
from lgsp.db import Database
from lgsp.security import PlatformKeys, hub_signer
from lgsp.settings import Settings
from schemas.messages import AuditAnchor, Codec, DecodeError
from schemas.topics import Topics

log = logging.getLogger(__name__)
GENESIS = "0" * 64
ANCHOR: Codec[AuditAnchor] = Codec(AuditAnchor)


@dataclass(frozen=True, slots=True)
class Anchors:
    """Anchors read from outside the database, each signed by a key trusted as the hub's; `refused`
    counts what was there but is not (garbled, unsigned, or signed by another key)."""

    found: tuple[AuditAnchor, ...] = ()
    refused: int = 0

    @property
    def latest(self) -> AuditAnchor | None:
        """The anchor of the longest chain (the newest, as a chain only grows)."""
        return max(self.found, key=lambda a: (a.links, a.sent_at), default=None)


def signed_anchor(raw: bytes, trust: Trust) -> AuditAnchor | None:
    """The anchor `raw` holds if the hub signed it with a key of `trust`, else None."""
    try:
        anchor = ANCHOR.decode(raw)
    except DecodeError:
        return None
    statement = signed_statement(raw, anchor.signature) if anchor.signature is not None else None
    key = trust.key(anchor.signature.signer) if anchor.signature is not None else None
    return anchor if check(anchor, statement, key, HUB) is None else None


def read_anchor_file(path: Path, trust: Trust) -> Anchors:
    """The anchors of an anchor file (JSON Lines) signed with a key of `trust`; none if there is no file."""
    if not path.exists():
        return Anchors()
    found: list[AuditAnchor] = []
    refused = 0
    with path.open("rb") as lines:
        for line in lines:
            if not line.strip():
                continue
            anchor = signed_anchor(line.strip(), trust)
            if anchor is None:
                refused += 1
            else:
                found.append(anchor)
    return Anchors(tuple(found), refused)


def append_anchor(path: Path, signed: bytes) -> None:
    """Append one anchor as a line, synced: it is evidence, and a shipper may read it at once. Lines this
    short are written whole under O_APPEND, so several hub processes may share one file."""
    with path.open("ab") as out:
        out.write(signed + b"\n")
        out.flush()
        os.fsync(out.fileno())


async def chain_head(conn: AsyncConnection) -> tuple[int, str]:
    """The chain's length and last hash."""
    last = (
        await conn.execute(
            select(col(AuditEntry.seq), col(AuditEntry.hash)).order_by(col(AuditEntry.seq).desc()).limit(1)
        )
    ).first()
    return (last[0], last[1]) if last else (0, GENESIS)


async def extends(conn: AsyncConnection, anchor: AuditAnchor) -> bool:
    """Whether the chain still holds the link `anchor` signed."""
    if anchor.links == 0:
        return True
    anchored = await conn.scalar(select(col(AuditEntry.hash)).where(col(AuditEntry.seq) == anchor.links))
    return bool(anchored == anchor.head)


class Anchoring:
    """The hub's side: sign the chain's head every LGSP_AUDIT_ANCHOR_INTERVAL, to the NGSP (through the
    outbox, so an anchor outlives a bus outage) and to the anchor file.

    The first round only gets ready, so the first anchor comes one interval after the start. The hub never
    signs a chain that no longer holds its previous anchor (this process's last, or the anchor file's
    newest): it logs an error instead, every round, until someone looks (docs/auditors/audit-trail.md).
    """

    def __init__(self, settings: Settings, database: Database) -> None:
        self.settings = settings
        self.database = database
        self.topic = Topics(settings.topic_prefix).ngsp_requests
        self._signer: Signer | None = None
        self._last: AuditAnchor | None = None

    async def round(self) -> AuditAnchor | None:
        """Publish an anchor of the chain as it is now (none in the first round); the anchor published."""
        path = self.settings.audit_anchor_file
        if self._signer is None:
            self._signer = derived_signer(self.settings)
            if path is not None:
                found = await asyncio.to_thread(read_anchor_file, path, Trust.of(self._signer))
                self._last = found.latest
            return None
        async with self.database.sessions() as session:
            conn = await session.connection()
            links, head = await chain_head(conn)
            previous = self._last
            if previous is not None and not await extends(conn, previous):
                log.error(
                    "the audit chain (%d links) no longer holds link %d as anchored at %s: links were removed"
                    " or sealed again; not anchoring it (run lgsp audit verify)",
                    links,
                    previous.links,
                    previous.sent_at.isoformat(),
                )
                return None
            anchor = AuditAnchor(province=self.settings.province, links=links, head=head)
            enqueue(session, self.topic, anchor, key=self.settings.province)
            await session.commit()
        if path is not None:
            await asyncio.to_thread(append_anchor, path, self._signer.seal(anchor))
        self._last = anchor
        return anchor


def hub_trust(key: str) -> Trust:
    """The hub key an auditor gives: a trust anchor (`@hub:<base64>,...`, as GET /api/v1/bus/trust has
    it) or one base64 key; ValueError says what is wrong with it."""
    return Trust.parse(key if key.lstrip().startswith("@") else f"{HUB}:{key.strip()}")


def derived_signer(settings: Settings) -> Signer:
    """The key a hub with these settings signs its bus messages with (lgsp/app.py derives it the same way)."""
    return hub_signer(settings, PlatformKeys.from_settings(settings).secret)


def derived_hub_trust(settings: Settings) -> Trust:
    """The hub's public key, derived from the settings as the hub derives it."""
    return Trust.of(derived_signer(settings))
