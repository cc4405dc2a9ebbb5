"""Sources stored on the hub: one entry of a declarative connector's `sources:` list per row, what its
integrator wants of it (running or paused, restarted how many times) and what its connector last said.

Like a Kafka Connect connector, a source has a desired state, set over the API, and a state its worker
(here the system's connector, `lgsp connector --sources-from-hub`) reports after applying it.
"""

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from lgsp.db import UTCDateTime, enum_type
from schemas.common import utcnow
from schemas.sources import Source as SourceConfig

#: A source's name, as in a connector config (`schemas.sources.SourceName`).
SOURCE_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
#: The body of POST /api/v1/systems/{id}/sources: one entry of a config's `sources:` list, as it is.
SourceCreate = SourceConfig


class SourceState(StrEnum):
    """What a source's connector last reported; UNASSIGNED until it has."""

    UNASSIGNED = "UNASSIGNED"
    RUNNING = "RUNNING"
    FAILED = "FAILED"
    PAUSED = "PAUSED"


class TargetState(StrEnum):
    """What the source's integrator wants of it."""

    RUNNING = "RUNNING"
    PAUSED = "PAUSED"


class SourceKind(StrEnum):
    """A database (one SELECT per service) or an HTTP API (one call per service)."""

    DATABASE = "database"
    REST = "rest"


class SourceBase(SQLModel):
    name: str = Field(max_length=64, schema_extra={"pattern": SOURCE_PATTERN})
    kind: SourceKind = Field(sa_type=enum_type(SourceKind))


class Source(SourceBase, table=True):
    __table_args__ = (UniqueConstraint("system_id", "name", name="uq_source_system_name"),)

    id: int | None = Field(default=None, primary_key=True)
    system_id: int = Field(foreign_key="system.id", index=True)
    # The source as it was sent: references to secrets, never secrets (the model refuses them).
    config: dict[str, Any] = Field(sa_type=JSON)
    target: TargetState = Field(default=TargetState.RUNNING, sa_type=enum_type(TargetState))
    # Each restart asked for adds one; the connector restarts the source when it sees the count grow.
    restarts: int = 0
    state: SourceState = Field(default=SourceState.UNASSIGNED, sa_type=enum_type(SourceState))
    error: str | None = Field(default=None, max_length=1000)
    connector: str | None = Field(default=None, max_length=200)
    reported_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class SourcePublic(SourceBase):
    system: str = Field(description="The code of the system the source serves")
    config: dict[str, Any] = Field(description="The source as stored: one entry of a config's `sources:`")
    target: TargetState
    restarts: int = Field(description="Restarts asked for so far: the connector restarts on a new one")
    created_at: datetime
    updated_at: datetime


class SourceStatus(SQLModel):
    """A source's status, as Kafka Connect's `GET /connectors/{name}/status` gives a connector's."""

    name: str
    state: SourceState = Field(description="What the connector last reported; UNASSIGNED until it has")
    error: str | None = Field(description="Why it is FAILED")
    reported_at: datetime | None
    connector: str | None = Field(description="Which connector reported (its host and process)")
    target: TargetState = Field(description="What was asked of it: RUNNING, or PAUSED")
    restarts: int


class SourceReport(SQLModel):
    """A connector's report of one source it runs (the system's own key)."""

    state: SourceState = Field(description="RUNNING, FAILED or PAUSED")
    error: str | None = Field(default=None, max_length=1000)
    connector: str = Field(min_length=1, max_length=200)


class ConnectorSources(SQLModel):
    """The sources the calling connector is to run: those of its own system."""

    system_id: int
    system: str
    sources: list[SourcePublic]
