"""The once-only ledger: dossiers, what happened to each of their documents, and accepted documents."""

from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Index
from sqlmodel import Field, SQLModel

from lgsp.db import UTCDateTime, enum_type


class ComponentOutcome(StrEnum):
    """How a required document of a dossier was obtained (docs/architecture/definitions.md)."""

    REUSED = "reused"  # fetched from its holder: nothing asked of the applicant
    FIRST_SUBMISSION = "first_submission"  # the applicant provided it and the ledger held no valid copy
    RESUBMISSION = "resubmission"  # the applicant provided again a document accepted earlier, still valid


class DossierBase(SQLModel):
    id: str = Field(primary_key=True, max_length=36, description="The dossier id")
    office: str = Field(max_length=64, description="The one-stop shop that received it")
    procedure: str = Field(max_length=64, index=True)
    applicant_hash: str = Field(max_length=64, index=True, description="Keyed hash of the applicant's id")
    received_on: date = Field(index=True)
    components: int = Field(description="Required documents")
    reused: int
    first_submissions: int
    resubmissions: int


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
