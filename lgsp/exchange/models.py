"""Operational-monitoring records: one per exchange, modelled on X-Road's operational monitoring data."""

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Index, Text
from sqlmodel import Field, SQLModel

from lgsp.db import UTCDateTime, enum_type


class Outcome(StrEnum):
    PENDING = "pending"
    SUCCESS = "success"
    FAULT = "fault"


#: The stable fault codes of an exchange (docs/architecture/design.md section 4; docs/integrators).
FAULT_CODES = frozenset(
    {
        "client.unauthenticated",
        "client.access_denied",
        "client.unknown_service",
        "client.bad_request",
        "client.not_found",
        "client.rate_limited",
        "server.provider_unreachable",
        "server.provider_error",
        "server.timeout",
    }
)
#: The metric label of every other fault code.
OTHER_FAULT = "other"


def outcome_label(fault_code: str | None) -> str:
    """The `outcome` label of lgsp_exchanges_total: success, a stable fault code, or OTHER_FAULT.

    Fault codes can come from outside the hub (the NGSP's answers carry its own): as label values they
    would make one time series each, without bound, so only the stable codes are kept as they are.
    """
    if fault_code is None:
        return "success"
    return fault_code if fault_code in FAULT_CODES else OTHER_FAULT


class ExchangeRecordBase(SQLModel):
    id: str = Field(primary_key=True, max_length=36, description="The exchange id (the request's message id)")
    client: str = Field(max_length=64)
    provider: str = Field(max_length=73, description="A system code, or AREA/CODE beyond it")
    service: str = Field(max_length=64)
    subject_hash: str | None = Field(
        default=None, max_length=64, description="Keyed hash of the subject's id"
    )
    purpose: str | None = Field(
        default=None, max_length=64, description="Why the client asked: a code of GET /api/v1/purposes"
    )
    request_in_at: datetime = Field(sa_type=UTCDateTime, index=True)
    request_out_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    response_in_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    response_out_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    request_size: int = 0
    response_size: int | None = None
    outcome: Outcome = Field(default=Outcome.PENDING, sa_type=enum_type(Outcome))
    fault_code: str | None = Field(default=None, max_length=64)
    fault_message: str | None = Field(default=None, max_length=1000)
    crossed_ngsp: bool = False


class ExchangeRecord(ExchangeRecordBase, table=True):
    __tablename__ = "exchange_record"
    __table_args__ = (
        Index("ix_exchange_record_pending_deadline", "outcome", "deadline"),
        # A party's records in time order; they also let SQLite count exchanges per party over a
        # period from the index alone (the connectivity report).
        Index("ix_exchange_record_client_request_in_at", "client", "request_in_at"),
        Index("ix_exchange_record_provider_request_in_at", "provider", "request_in_at"),
        # A person's accesses over a period (lgsp/tracker): their subject hashes, in time order.
        Index("ix_exchange_record_subject_request_in_at", "subject_hash", "request_in_at"),
    )

    deadline: datetime = Field(sa_type=UTCDateTime)
    reply_to: str | None = Field(default=None, max_length=249, description="Result topic, if not the inbox")
    audit_seq: int | None = Field(default=None, index=True, description="Its link in the audit chain")
    #: The request's and the response's signatures with the statements signed (JSON; no personal data):
    #: what GET /api/v1/exchanges/{id}/evidence verifies.
    request_evidence: str | None = Field(default=None, sa_type=Text)
    response_evidence: str | None = Field(default=None, sa_type=Text)


class ExchangeRecordPublic(ExchangeRecordBase):
    pass
