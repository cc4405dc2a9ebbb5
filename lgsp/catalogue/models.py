"""The service catalogue: what each provider system offers, and who may call it (deny by default)."""

from datetime import datetime
from typing import Any

from pydantic import model_validator
from pydantic_core import PydanticCustomError
from sqlalchemy import JSON, UniqueConstraint
from sqlmodel import Field, SQLModel

from lgsp.db import UTCDateTime
from lgsp.registry.models import AGENCY_PATTERN, CODE_PATTERN
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
