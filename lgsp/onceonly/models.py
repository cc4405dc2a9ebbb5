"""The once-only ledger: dossiers, what happened to each of their documents, and accepted documents."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index, text
from sqlmodel import Field, SQLModel, col

from lgsp.db import UTCDateTime, enum_type
from lgsp.exchange.models import ExchangeRecord


class ComponentOutcome(StrEnum):
    """How a required document of a dossier was obtained (docs/architecture/definitions.md)."""

    REUSED = "reused"  # fetched from its holder: nothing asked of the applicant
    FIRST_SUBMISSION = "first_submission"  # the applicant provided it and the ledger held no valid copy
    RESUBMISSION = "resubmission"  # the applicant provided again a document accepted earlier, still valid
    #: claimed reused, but no successful evidence lookup of the office backs it: neither reuse nor
    #: re-submission (lgsp/onceonly/claims.py)
    UNVERIFIED = "unverified_reuse"


class DossierBase(SQLModel):
    id: str = Field(primary_key=True, max_length=36, description="The dossier id")
    office: str = Field(max_length=64, description="The one-stop shop that received it")
    procedure: str = Field(max_length=64, index=True)
    applicant_hash: str = Field(max_length=64, index=True, description="Keyed hash of the applicant's id")
    received_on: date = Field(
        index=True, description="The day it was received, within the bounds the report's time sets"
    )
    components: int = Field(description="Required documents")
    reused: int = Field(description="Documents reused, each backed by an evidence lookup on record")
    first_submissions: int
    resubmissions: int
    # Nullable, with no default of the database's: rows written before claims were checked (migration
    # 0010) keep no value (their reuses were taken on trust), and so keep their sealed digest.
    unverified: int | None = Field(
        default=None, description="Documents claimed reused with no lookup on record (null: not checked)"
    )
    claimed_received_on: date | None = Field(
        default=None, description="The day the office reported, when it lay outside the bounds (else null)"
    )


class Dossier(DossierBase, table=True):
    __tablename__ = "dossier"

    recorded_at: datetime = Field(sa_type=UTCDateTime)


class DossierPublic(DossierBase):
    pass


class DossierComponentRecordBase(SQLModel):
    document_type: str = Field(max_length=64, index=True)
    holder: str = Field(max_length=73)
    outcome: ComponentOutcome = Field(sa_type=enum_type(ComponentOutcome))
    lookup: str = Field(
        max_length=32, description="What the evidence lookup found: held, not_held, holder_unreachable"
    )
    reason: str = Field(default="", max_length=200, description="The holder's reason or the fault code")
    cause: str | None = Field(
        default=None, max_length=32, description="For a re-submission: why the copy held was not reused"
    )
    evidence: str | None = Field(
        default=None,
        max_length=36,
        index=True,
        description="For a reuse: the evidence.get exchange that backs it (each backs one document)",
    )


class DossierComponentRecord(DossierComponentRecordBase, table=True):
    __tablename__ = "dossier_component"

    id: int | None = Field(default=None, primary_key=True)
    dossier_id: str = Field(foreign_key="dossier.id", max_length=36, index=True)


class DossierComponentPublic(DossierComponentRecordBase):
    pass


class AcceptedDocument(SQLModel, table=True):
    """A document accepted in a completed dossier (an input) or issued by it (an output): the ledger.

    One row per distinct document (type, subject, content); the first acceptance is kept.
    """

    __tablename__ = "accepted_document"
    __table_args__ = (
        Index("ux_accepted_document", "document_type", "subject_hash", "content_hash", unique=True),
    )

    id: int | None = Field(default=None, primary_key=True)
    document_type: str = Field(max_length=64)
    subject_hash: str = Field(max_length=64, index=True)
    content_hash: str = Field(max_length=64)
    holder: str = Field(max_length=73)
    issued_on: date
    valid_until: date | None = None
    accepted_on: date
    dossier_id: str = Field(max_length=36)


#: The ledger looks for the office's evidence lookups about a dossier's applicant: by subject, among the
#: `evidence.get` exchanges only, so the index costs nothing to the other exchanges. The condition is a
#: literal, which the lookup repeats word for word: a partial index serves only a query that implies it.
EVIDENCE_ONLY = "service = 'evidence.get'"
Index(
    "ix_exchange_record_evidence_subject",
    col(ExchangeRecord.subject_hash),
    sqlite_where=text(EVIDENCE_ONLY),
    postgresql_where=text(EVIDENCE_ONLY),
)
