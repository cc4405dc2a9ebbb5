"""What the reports say: the shapes of the connectivity and once-only reports, and the formats they are
rendered in."""

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, Field

from lgsp.indicators.models import OnceOnlyIndicators
from schemas.common import Link

#: The plan's target for both links.
TARGET = 1.0


class ReportFormat(StrEnum):
    """How a report is rendered."""

    JSON = "json"
    CSV = "csv"
    HTML = "html"


# -- connectivity ------------------------------------------------------------------------------------


class Interval(BaseModel):
    start: datetime
    end: datetime
    seconds: float = Field(description="Length in seconds (for an outage: platform-up time only)")


class Outage(Interval):
    """A stretch of one system's link not connected, clipped to the period and the system's life."""

    code: str
    link: Link


class LinkFigures(BaseModel):
    """One system's one link over the period."""

    connected_seconds: float
    share: float | None = Field(description="Connected / observed time; null when never observed")
    outages: int
    longest_outage_seconds: float = Field(description="0 when there was no outage")


class SystemLine(BaseModel):
    code: str
    name: str
    agency_code: str
    level: str
    kind: str
    in_scope: bool
    registered_at: datetime
    retired_at: datetime | None
    observed_seconds: float = Field(description="Time in the period it existed, less platform downtime")
    lgsp: LinkFigures
    ngsp: LinkFigures | None = Field(description="null for an exempt system: never linked to the NGSP")
    last_heartbeat_at: datetime | None
    exchanges_as_client: int
    exchanges_as_provider: int


class ProvinceLink(BaseModel):
    """Time-weighted connected ratio of the in-scope systems on one link."""

    connected_seconds: float
    observed_seconds: float
    ratio: float | None = Field(description="null while nothing in scope was observed")
    target: float = TARGET


class Province(BaseModel):
    in_scope_systems: int
    exempt_systems: int
    lgsp: ProvinceLink
    ngsp: ProvinceLink
    platform_downtime_seconds: float


class GroupLine(BaseModel):
    """The systems of one administrative level, or of one agency, over the period: counted and weighted
    as the province is, so the groups of one kind add up to the province."""

    group: str = Field(
        description="The level (province, commune; district for systems registered before "
        "1 July 2025) or the agency's code"
    )
    in_scope_systems: int
    exempt_systems: int
    lgsp: ProvinceLink
    ngsp: ProvinceLink


class ScopeChangeLine(BaseModel):
    """A scope change asked for, made or decided in the period (lgsp/registry/scope.py)."""

    id: int
    code: str
    agency_code: str
    change: str = Field(description="exempt, include (back into scope) or retire")
    status: str = Field(description="pending, approved or rejected")
    reason: str
    requested_by: str
    requested_key: str
    requested_at: datetime
    decided_by: str | None
    decided_key: str | None
    decided_at: datetime | None
    decision_note: str


class ConnectivityReport(BaseModel):
    """The connectivity report of docs/architecture/design.md section 8 for [start, end)."""

    generated_at: datetime
    start: datetime
    end: datetime
    observed_until: datetime = Field(description="min(end, now): time after now is not counted")
    period_seconds: float
    province: Province
    platform_downtime: list[Interval]
    systems: list[SystemLine] = Field(description="In-scope systems that existed during the period")
    exempt: list[SystemLine] = Field(description="Exempt systems: listed, not counted")
    by_level: list[GroupLine] = Field(
        default=[], description="By administrative level, top down: province, district (legacy), commune"
    )
    by_agency: list[GroupLine] = Field(default=[], description="By agency, in the order of their codes")
    outages: list[Outage] | None = Field(
        description="Every outage, by system, link and start, when asked for (`outages=true`; they can be "
        "100,000s); null otherwise"
    )
    scope_changes: list[ScopeChangeLine] = Field(
        default=[],
        description="Every scope change asked for, made or decided in the period, in the order asked: "
        "exemptions, returns into scope and retirements, with who asked, why, and who decided",
    )


# -- once-only ---------------------------------------------------------------------------------------


class ProcedureLine(BaseModel):
    procedure: str
    name: str
    dossiers: int
    without_resubmission: int
    with_reuse: int


class DocumentTypeLine(BaseModel):
    document_type: str
    name: str
    reused: int
    first_submissions: int
    resubmissions: int
    unverified: int = Field(
        default=0, description="Claimed reused with no evidence lookup on record: not counted"
    )


class OfficeLine(BaseModel):
    """What one one-stop shop reported, and how much of it the hub could not take at its word."""

    office: str
    dossiers: int
    reused: int = Field(description="Documents reused, each backed by an evidence lookup on record")
    unverified: int = Field(description="Documents claimed reused with no lookup on record")
    received_on_moved: int = Field(description="Dossiers whose day received lay outside its bounds")


class CauseLine(BaseModel):
    cause: str
    resubmissions: int


class OnceOnlyReport(BaseModel):
    """The once-only report of docs/architecture/design.md section 8 for dossiers received in [start, end)."""

    generated_at: str
    measures: OnceOnlyIndicators
    by_procedure: list[ProcedureLine]
    by_document_type: list[DocumentTypeLine]
    by_cause: list[CauseLine]
    by_office: list[OfficeLine] = Field(
        default=[], description="By one-stop shop: what it reported and what of it the hub could not verify"
    )
