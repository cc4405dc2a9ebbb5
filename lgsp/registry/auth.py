"""Who is calling: bearer keys resolved to a role and scope, and the checks every router uses."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import select

from lgsp.db import SessionDep
from lgsp.errors import Forbidden, Unauthenticated
from lgsp.registry.models import ApiKey, Role
from lgsp.security import digest_key, same_secret, split_key
from lgsp.settings import Settings

_bearer = HTTPBearer(auto_error=False, description="An LGSP API key, or the admin token")


@dataclass(frozen=True, slots=True)
class Caller:
    """The authenticated caller of a request."""

    role: Role
    agency_code: str | None = None
    system_id: int | None = None
    key_id: int | None = None

    def require(self, *roles: Role) -> None:
        """Raise 403 unless the caller has one of `roles`."""
        if self.role not in roles:
            allowed = ", ".join(r.value for r in roles)
            raise Forbidden(f"role {self.role.value} may not do this (allowed: {allowed})")

    def require_reader(self, system_id: int | None = None) -> None:
        """Raise 403 unless the caller may read the registry; a system key reads only its own system."""
        if self.role == Role.SYSTEM and (system_id is None or system_id != self.system_id):
            raise Forbidden("a system key may only read its own system")

    def require_agency(self, agency_code: str) -> None:
        """Raise 403 unless the caller may change things of `agency_code` (admin, or its integrator)."""
        self.require(Role.ADMIN, Role.INTEGRATOR)
        if self.role == Role.INTEGRATOR and self.agency_code != agency_code:
            raise Forbidden(f"an integrator of {self.agency_code} may not act on systems of {agency_code}")


async def authenticate(
    request: Request,
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """Resolve the bearer key; 401 with a reason when it is missing, malformed, unknown or revoked."""
    if credentials is None:
        raise Unauthenticated("missing bearer key: send 'Authorization: Bearer <key>'")
    token = credentials.credentials
    settings: Settings = request.app.state.settings
    if settings.accepts_admin_token(token):  # the bootstrap token, or the previous one mid-rotation
        return Caller(Role.ADMIN)
    lookup = split_key(token)
    key = None
    if lookup is not None:
        key = (await session.exec(select(ApiKey).where(ApiKey.lookup == lookup))).first()
    if key is None or not same_secret(key.digest, digest_key(token)):
        raise Unauthenticated("unknown API key")
    if key.revoked_at is not None:
        raise Unauthenticated("this API key has been revoked")
    return Caller(key.role, key.agency_code, key.system_id, key.id)


CallerDep = Annotated[Caller, Depends(authenticate)]
