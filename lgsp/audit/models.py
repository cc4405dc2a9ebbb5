"""The audit trail: a hash chain over exchange records, registry changes, indicator snapshots, link state
changes, hub uptime and dossiers with their ledger documents."""

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index
from sqlmodel import Field, SQLModel

from lgsp.db import UTCDateTime


class AuditEntry(SQLModel, table=True):
    """One link of the chain: the digest of one record, chained to the link before it.

    `hash = sha256(prev_hash | seq | kind | ref | digest)`. Changing a record breaks its digest; removing
    or changing a link breaks the sequence or the next link's `prev_hash`.
    """

    __tablename__ = "audit_entry"
    __table_args__ = (Index("ux_audit_entry_record", "kind", "ref", unique=True),)

    seq: int = Field(primary_key=True, sa_column_kwargs={"autoincrement": False})
    sealed_at: datetime = Field(sa_type=UTCDateTime)
    kind: str = Field(
        max_length=32,
        description="exchange, registry, indicators, link_state, hub_uptime or dossier (audit/records.py)",
    )
    ref: str = Field(max_length=64, description="The record's key in its table")
    digest: str = Field(max_length=64)
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class RegistryEvent(SQLModel, table=True):
    """An append-only log of registry changes (systems, keys, services, grants), for the audit trail."""

    __tablename__ = "registry_event"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    actor: str = Field(max_length=100, description="Role (and agency) of the caller")
    #: Null only for events recorded before the column existed (the chain sealed them without it).
    actor_key: str | None = Field(
        default=None, max_length=32, description="The caller's API key: `key <id>`, or `bootstrap token`"
    )
    action: str = Field(max_length=64, description="e.g. system.registered, grant.revoked")
    entity: str = Field(max_length=64, description="Code or id of what changed")
    data: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    audit_seq: int | None = Field(default=None, index=True)


class IndicatorSnapshot(SQLModel, table=True):
    """The published indicators as they were at a moment, kept for the audit trail."""

    __tablename__ = "indicator_snapshot"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_type=UTCDateTime)
    data: dict[str, Any] = Field(sa_type=JSON)
    audit_seq: int | None = Field(default=None, index=True)


class AuditPending(SQLModel, table=True):
    """Records waiting to be sealed, of the tables that keep no `audit_seq` of their own.

    Database triggers (migration 0009) add a row here in the very transaction that inserts a link state
    change, a hub's stretch of uptime or a dossier, so the sealer misses none whatever order concurrent
    transactions commit in, and the code writing those tables need not know about the audit trail. The
    sealer deletes a row once its record is sealed (a stretch of uptime waits here until it is over).
    """

    __tablename__ = "audit_pending"

    id: int | None = Field(default=None, primary_key=True)
    kind: str = Field(max_length=32)
    ref: str = Field(max_length=64, description="The record's key as the database writes it as text")
