"""Who is calling: bearer keys resolved to a `Caller`, as the FastAPI dependency every router uses."""

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import select

from lgsp.errors import Unauthenticated
from lgsp.registry.caller import Caller
from lgsp.registry.models import ApiKey, Role
from lgsp.runtime import SessionDep, SettingsDep
from lgsp.security import digest_key, same_secret, split_key

_bearer = HTTPBearer(auto_error=False, description="An LGSP API key, or the admin token")


async def authenticate(
    session: SessionDep,
    settings: SettingsDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Caller:
    """Resolve the bearer key; 401 with a reason when it is missing, malformed, unknown or revoked."""
    if credentials is None:
        raise Unauthenticated("missing bearer key: send 'Authorization: Bearer <key>'")
    token = credentials.credentials
    if settings.accepts_admin_token(token):  # the bootstrap token, or the previous one mid-rotation
        return Caller(Role.ADMIN, key_id=None)  # no key id: the audit trail says "bootstrap token"
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
