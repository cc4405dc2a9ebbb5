"""What the data tracker shows: a person's accesses, one per exchange about them, and the operators' counts
per purpose, which name nobody."""

from datetime import date, datetime

from pydantic import BaseModel, Field

from lgsp.exchange.models import Outcome


class Access(BaseModel):
    """One exchange about the person: who asked which holder for what, when, why, and how it ended.

    Never the payload, the answer or a fault's text: only what the exchange record says of its parties."""

    exchange_id: str
    at: datetime = Field(description="When the hub received the request (UTC)")
    agency: str | None = Field(description="The asking system's agency (code); null if no longer known")
    agency_name: str | None
    system: str = Field(description="The asking system (code)")
    system_name: str | None
    holder: str = Field(description="The system asked (code, or AREA/CODE beyond the province)")
    holder_name: str | None
    holder_agency: str | None
    holder_agency_name: str | None
    service: str = Field(description="The kind of data asked for: the holder's service")
    service_description: str | None
    purpose: str | None = Field(description="Why (a code of GET /api/v1/purposes); null before purposes")
    purpose_vi: str | None
    purpose_en: str | None
    outcome: Outcome
    fault_code: str | None = Field(description="Why it failed or was refused (a stable code)")
    crossed_ngsp: bool


class PurposeCount(BaseModel):
    """How many exchanges about people one purpose accounts for in a period (no person named)."""

    purpose: str | None = Field(description="The purpose code; null for exchanges recorded before purposes")
    label_vi: str | None
    label_en: str | None
    exchanges: int
    faults: int = Field(description="Of which refused or failed")


class PurposeReport(BaseModel):
    """Exchanges about people, counted per purpose over the days [from, to) in UTC."""

    start: date | None = Field(serialization_alias="from")
    end: date | None = Field(serialization_alias="to")
    purposes: list[PurposeCount]
