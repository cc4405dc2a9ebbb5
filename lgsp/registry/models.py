"""Registry tables and bodies: agencies, their systems, and API keys."""

from datetime import datetime
from enum import StrEnum

from pydantic import EmailStr, field_validator, model_validator
from pydantic_core import PydanticCustomError
from sqlmodel import Field, SQLModel

from lgsp.db import UTCDateTime, enum_type
from schemas.common import utcnow

CODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$"
AGENCY_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# SQLModel's `regex=` is not enforced under pydantic 2, so patterns go in as `schema_extra={"pattern": ...}`.


class AdministrativeLevel(StrEnum):
    """Tier of government a system or agency belongs to.

    Since 1 July 2025 local government has two levels, province and commune (the Constitution and the
    Law on the Organisation of Local Government as amended in 2025). `district` stays so that
    agencies and systems registered before are still read and reported as they were; new registrations
    and updates may not use it (`current_level`)."""

    PROVINCE = "province"
    DISTRICT = "district"  # abolished on 1 July 2025: read, never written anew
    COMMUNE = "commune"


DISTRICT_ABOLISHED = (
    "level district: districts were abolished on 1 July 2025 (local government has two levels); "
    "register at province or commune level"
)


def current_level(level: AdministrativeLevel | None) -> AdministrativeLevel | None:
    """`level` if government still has that tier; `district` is refused (a 422 that says why)."""
    # PydanticCustomError, not ValueError: its error details stay JSON-serialisable for the 422 answer.
    if level is AdministrativeLevel.DISTRICT:
        raise PydanticCustomError("level_abolished", DISTRICT_ABOLISHED)
    return level


class SystemKind(StrEnum):
    """The plan counts databases and information systems alike."""

    DATABASE = "database"
    INFORMATION_SYSTEM = "information_system"


class Role(StrEnum):
    """Who a key speaks for. `system` keys are a connector's own credentials."""

    ADMIN = "admin"
    INTEGRATOR = "integrator"
    OPERATOR = "operator"
    AUDITOR = "auditor"
    SYSTEM = "system"


class AgencyBase(SQLModel):
    code: str = Field(primary_key=True, max_length=64, schema_extra={"pattern": AGENCY_PATTERN})
    name: str = Field(min_length=1, max_length=200)
    level: AdministrativeLevel = Field(
        default=AdministrativeLevel.PROVINCE, sa_type=enum_type(AdministrativeLevel)
    )


class Agency(AgencyBase, table=True):
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class AgencyCreate(AgencyBase):
    _current_level = field_validator("level")(current_level)


class AgencyPublic(AgencyBase):
    created_at: datetime


class SystemBase(SQLModel):
    code: str = Field(max_length=64, schema_extra={"pattern": CODE_PATTERN}, unique=True, index=True)
    name: str = Field(min_length=1, max_length=200)
    level: AdministrativeLevel = Field(
        default=AdministrativeLevel.PROVINCE, sa_type=enum_type(AdministrativeLevel)
    )
    kind: SystemKind = Field(default=SystemKind.INFORMATION_SYSTEM, sa_type=enum_type(SystemKind))
    exempt: bool = Field(default=False, description="Out of scope, e.g. a state-secret system")
    exempt_reason: str | None = Field(default=None, max_length=500)
    contact_email: str | None = Field(default=None, max_length=254)
    description: str = Field(default="", max_length=2000)


class System(SystemBase, table=True):
    id: int | None = Field(default=None, primary_key=True)
    agency_code: str = Field(foreign_key="agency.code", index=True, max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    # Retired systems stay so their history still reports; the API treats them as gone.
    retired_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)


EXEMPT_NEEDS_REASON = "an exempt system needs an exempt_reason (e.g. 'state secret')"


def _exemption_has_reason(exempt: bool | None, reason: str | None) -> None:
    # PydanticCustomError, not ValueError: its error details stay JSON-serialisable for the 422 answer.
    if exempt and not (reason and reason.strip()):
        raise PydanticCustomError("exempt_reason_missing", EXEMPT_NEEDS_REASON)


class SystemCreate(SystemBase):
    agency_code: str | None = Field(
        default=None,
        max_length=64,
        schema_extra={"pattern": AGENCY_PATTERN},
        description="Defaults to the integrator's agency",
    )
    contact_email: EmailStr | None = None
    _current_level = field_validator("level")(current_level)

    @model_validator(mode="after")
    def _check_exemption(self) -> "SystemCreate":
        _exemption_has_reason(self.exempt, self.exempt_reason)
        return self


class SystemUpdate(SQLModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    level: AdministrativeLevel | None = None
    kind: SystemKind | None = None
    exempt: bool | None = None
    exempt_reason: str | None = Field(default=None, max_length=500)
    contact_email: EmailStr | None = None
    description: str | None = Field(default=None, max_length=2000)
    # That an exempt system has a reason is checked on the merged state, in service.update_system.

    @field_validator("name", "level", "kind", "exempt", "description")
    @classmethod
    def _not_null(cls, value: object) -> object:
        """Omit a field to keep it; an explicit null is refused for the fields the system must have."""
        if value is None:
            raise PydanticCustomError("not_null", "may not be null (omit the field to keep its value)")
        return value

    _current_level = field_validator("level")(current_level)


class SystemPublic(SystemBase):
    id: int
    agency_code: str
    created_at: datetime
    updated_at: datetime


class RequestStatus(StrEnum):
    """Where a request an admin decides stands (scope changes, national grants)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ScopeChange(StrEnum):
    """A change of a system's place in the connectivity count (docs/architecture/definitions.md)."""

    EXEMPT = "exempt"  # out of scope: listed apart, counted in no ratio, withdrawn from the NGSP
    INCLUDE = "include"  # back in scope from an exemption
    RETIRE = "retire"  # out of the registry, counted until then


class ScopeRequestBase(SQLModel):
    change: ScopeChange = Field(sa_type=enum_type(ScopeChange))
    reason: str = Field(default="", max_length=500, description="Why, in the words of who asked")


class ScopeRequest(ScopeRequestBase, table=True):
    """A scope change of one system: asked by an integrator and decided by an admin, or made by an admin
    and approved as it is asked (lgsp/registry/scope.py). Never deleted: the connectivity report lists
    them. Who is written as the audit trail writes it: `role[:agency]` and `key <id>` (or the bootstrap
    token)."""

    __tablename__ = "scope_request"

    id: int | None = Field(default=None, primary_key=True)
    system_id: int = Field(foreign_key="system.id", index=True)
    status: RequestStatus = Field(default=RequestStatus.PENDING, sa_type=enum_type(RequestStatus), index=True)
    requested_by: str = Field(max_length=100)
    requested_key: str = Field(max_length=40)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    decided_by: str | None = Field(default=None, max_length=100)
    decided_key: str | None = Field(default=None, max_length=40)
    decided_at: datetime | None = Field(default=None, sa_type=UTCDateTime, index=True)
    decision_note: str = Field(default="", max_length=500)


class ScopeRequestPublic(ScopeRequestBase):
    id: int
    system_id: int
    system_code: str
    agency_code: str
    status: RequestStatus
    requested_by: str = Field(description="role[:agency] of who asked")
    requested_key: str = Field(description="`key <id>` they used, or `bootstrap token`")
    requested_at: datetime
    decided_by: str | None
    decided_key: str | None
    decided_at: datetime | None
    decision_note: str


class RequestDecision(SQLModel):
    """An admin's decision on a pending request."""

    approve: bool
    note: str = Field(default="", max_length=500, description="Why, kept with the decision")


class SystemRegistered(SystemPublic):
    """Answer to a registration: the system's API key, shown this once only, and the trust anchor its
    connector checks the hub's and the NGSP's bus messages with. A system registered `exempt` by an
    integrator is registered in scope, with the exemption asked for in `scope_request`."""

    api_key: str
    bus_trust: str
    scope_request: ScopeRequestPublic | None = None


class TrustedKey(SQLModel):
    """A platform key: `owner` is @hub or @ngsp, `kid` the name signatures give it."""

    kid: str
    owner: str
    public_key: str = Field(description="Base64 of the 32-byte Ed25519 public key")


class BusTrust(SQLModel):
    """The platform keys, as a connector's trust anchor (`anchor`) and one by one."""

    anchor: str = Field(
        description="`@hub:<base64 key>,@ngsp:<base64 key>`: what `Connector(trust=...)` takes"
    )
    keys: list[TrustedKey]


class ApiKey(SQLModel, table=True):
    id: int | None = Field(default=None, primary_key=True)
    lookup: str = Field(max_length=32, unique=True, index=True)
    digest: str = Field(max_length=64)
    role: Role = Field(sa_type=enum_type(Role))
    agency_code: str | None = Field(default=None, foreign_key="agency.code", max_length=64)
    system_id: int | None = Field(default=None, foreign_key="system.id", index=True)
    label: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    revoked_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: A system key's bus public key (base64), computed at issuance from the key: what its signatures on
    #: the bus are checked with (buscore.signing). Kept after revocation, for the evidence of old exchanges.
    verify_key: str | None = Field(default=None, max_length=64)


class ApiKeyCreate(SQLModel):
    role: Role
    agency_code: str | None = Field(default=None, max_length=64, schema_extra={"pattern": AGENCY_PATTERN})
    label: str = Field(default="", max_length=200)

    @model_validator(mode="after")
    def _check_scope(self) -> "ApiKeyCreate":
        if self.role == Role.SYSTEM:
            raise PydanticCustomError(
                "role_not_issued",
                "role system: system keys are issued by registering the system or rotating its key",
            )
        if self.role == Role.INTEGRATOR and not self.agency_code:
            raise PydanticCustomError(
                "agency_required", "an integrator key needs the agency_code it acts for"
            )
        return self


class ApiKeyPublic(SQLModel):
    id: int
    role: Role
    agency_code: str | None
    system_id: int | None
    label: str
    created_at: datetime
    revoked_at: datetime | None


class ApiKeyIssued(ApiKeyPublic):
    api_key: str
