"""Connectivity tables: each system's live status per link, every state change, and hub uptime."""

from datetime import datetime
from uuid import UUID

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from lgsp.db import UTCDateTime, enum_type
from schemas.common import Link, utcnow


class SystemStatus(SQLModel, table=True):
    """What the hub last saw of a system; the evaluator derives both links from it."""

    __tablename__ = "system_status"

    system_id: int = Field(foreign_key="system.id", primary_key=True)
    session_id: UUID | None = None
    last_hello_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_probe_sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_probe_ok_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_probe_rtt_seconds: float | None = None
    ngsp_registered: bool = False
    ngsp_registered_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_ngsp_probe_ok_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lgsp_connected: bool = False
    lgsp_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    lgsp_reason: str = Field(default="never seen", max_length=200)
    ngsp_connected: bool = False
    ngsp_since: datetime | None = Field(default=None, sa_type=UTCDateTime)
    ngsp_reason: str = Field(default="never seen", max_length=200)


class LinkStateChange(SQLModel, table=True):
    """One transition of one link of one system: the source of every period report."""

    __tablename__ = "link_state_change"
    __table_args__ = (Index("ix_link_state_change_system_link_at", "system_id", "link", "at"),)

    id: int | None = Field(default=None, primary_key=True)
    system_id: int = Field(foreign_key="system.id")
    link: Link = Field(sa_type=enum_type(Link))
    connected: bool
    at: datetime = Field(sa_type=UTCDateTime, index=True)
    reason: str = Field(max_length=200)


class HubUptime(SQLModel, table=True):
    """Each hub process's life; gaps when no hub was alive are platform downtime, not system outages."""

    __tablename__ = "hub_uptime"

    instance_id: UUID = Field(primary_key=True)
    started_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    stopped_at: datetime | None = Field(default=None, sa_type=UTCDateTime)


class SystemConnectivity(SQLModel):
    """The `/status` answer: both links now, and what they are based on."""

    system_id: int
    code: str
    in_scope: bool
    lgsp_connected: bool
    lgsp_since: datetime | None
    lgsp_reason: str
    ngsp_connected: bool
    ngsp_since: datetime | None
    ngsp_reason: str
    last_heartbeat_at: datetime | None
    last_probe_ok_at: datetime | None
    last_probe_rtt_seconds: float | None
    ngsp_registered: bool
    last_ngsp_probe_ok_at: datetime | None
    recent_changes: list["StateChangePublic"]


class StateChangePublic(SQLModel):
    link: Link
    connected: bool
    at: datetime
    reason: str


class SystemLinks(SQLModel):
    """One row of the province-wide connectivity table."""

    system_id: int
    code: str
    name: str
    agency_code: str
    level: str
    in_scope: bool
    lgsp_connected: bool
    lgsp_since: datetime | None
    lgsp_reason: str
    ngsp_connected: bool
    ngsp_since: datetime | None
    ngsp_reason: str
    last_heartbeat_at: datetime | None
