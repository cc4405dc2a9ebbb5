"""The service catalogue: what each provider system offers, and who may call it (deny by default)."""

from datetime import datetime
from typing import Any

from pydantic import model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from lgsp.db import UTCDateTime, enum_type
from lgsp.registry.models import AGENCY_PATTERN, CODE_PATTERN, RequestStatus
from schemas.common import utcnow

SERVICE_PATTERN = r"^[a-z][a-z0-9_.-]{1,63}$"


class ServiceBase(SQLModel):
    code: str = Field(max_length=64, schema_extra={"pattern": SERVICE_PATTERN})
    description: str = Field(default="", max_length=2000)
    request_schema: dict[str, Any] | None = Field(
        default=None, sa_type=JSON, description="JSON Schema the request payload must satisfy"
    )
    response_schema: dict[str, Any] | None = Field(
        default=None, sa_type=JSON, description="JSON Schema of the response payload (documentation)"
    )


class Service(ServiceBase, table=True):
    __table_args__ = (UniqueConstraint("system_id", "code", name="uq_service_system_code"),)

    id: int | None = Field(default=None, primary_key=True)
    system_id: int = Field(foreign_key="system.id", index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class ServiceCreate(ServiceBase):
    """A service being declared. Its schemas are checked by the catalogue (`declare_service`), which
    knows the hub's limits: size first, then what `lgsp.catalogue.validation` requires."""


class ServicePublic(ServiceBase):
    id: int
    provider: str
    created_at: datetime
    updated_at: datetime


class Grant(SQLModel, table=True):
    """Permission for one client system, or every system of one agency, to call one service."""

    __tablename__ = "access_grant"

    id: int | None = Field(default=None, primary_key=True)
    service_id: int = Field(foreign_key="service.id", index=True)
    # One of the two is set; duplicates are refused by the service (NULLs defeat a unique constraint).
    client_system_id: int | None = Field(default=None, foreign_key="system.id")
    client_agency_code: str | None = Field(default=None, foreign_key="agency.code", max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class GrantCreate(SQLModel):
    service: str = Field(max_length=64, schema_extra={"pattern": SERVICE_PATTERN})
    client_system: str | None = Field(default=None, max_length=64, schema_extra={"pattern": CODE_PATTERN})
    client_agency: str | None = Field(default=None, max_length=64, schema_extra={"pattern": AGENCY_PATTERN})

    @model_validator(mode="after")
    def _one_target(self) -> "GrantCreate":
        if (self.client_system is None) == (self.client_agency is None):
            raise PydanticCustomError("grant_target", "give exactly one of client_system or client_agency")
        return self


class GrantPublic(SQLModel):
    id: int
    service: str
    client_system: str | None
    client_agency: str | None
    created_at: datetime


# -- national services: beyond the province, through the NGSP ---------------------------------------------

#: A provider beyond the province: `AREA/CODE` (VN for the national databases, or another province).
NATIONAL_PATTERN = r"^[A-Z0-9]{2,8}/[A-Za-z0-9][A-Za-z0-9_-]{1,63}$"


class NationalGrantBase(SQLModel):
    provider: str = Field(
        max_length=73,
        schema_extra={"pattern": NATIONAL_PATTERN},
        description="A provider beyond the province, `AREA/CODE` (e.g. VN/DAN-CU)",
    )
    service: str = Field(max_length=64, schema_extra={"pattern": SERVICE_PATTERN})
    reason: str = Field(default="", max_length=500, description="Why the client needs it")


class NationalGrant(NationalGrantBase, table=True):
    """The hub's own permission for one client system, or every system of one agency, to call one service
    beyond the province (lgsp/catalogue/national.py). The NGSP decides again on its side. An admin's is
    approved as it is made; an integrator's waits for an admin's decision. Who is written as the audit
    trail writes it."""

    __tablename__ = "national_grant"

    id: int | None = Field(default=None, primary_key=True)
    # One of the two is set, as for a provider's grants.
    client_system_id: int | None = Field(default=None, foreign_key="system.id", index=True)
    client_agency_code: str | None = Field(default=None, foreign_key="agency.code", max_length=64)
    status: RequestStatus = Field(default=RequestStatus.PENDING, sa_type=enum_type(RequestStatus))
    requested_by: str = Field(max_length=100)
    requested_key: str = Field(max_length=40)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    decided_by: str | None = Field(default=None, max_length=100)
    decided_key: str | None = Field(default=None, max_length=40)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    decision_note: str = Field(default="", max_length=500)


class NationalGrantCreate(NationalGrantBase):
    client_system: str | None = Field(default=None, max_length=64, schema_extra={"pattern": CODE_PATTERN})
    client_agency: str | None = Field(default=None, max_length=64, schema_extra={"pattern": AGENCY_PATTERN})

    @model_validator(mode="after")
    def _one_target(self) -> "NationalGrantCreate":
        if (self.client_system is None) == (self.client_agency is None):
            raise PydanticCustomError("grant_target", "give exactly one of client_system or client_agency")
        return self


class NationalGrantPublic(NationalGrantBase):
    id: int
    client_system: str | None
    client_agency: str | None
    status: RequestStatus
    requested_by: str = Field(description="role[:agency] of who asked")
    requested_key: str = Field(description="`key <id>` they used, or `bootstrap token`")
    requested_at: datetime
    decided_by: str | None
    decided_key: str | None
    decided_at: datetime | None
    decision_note: str
