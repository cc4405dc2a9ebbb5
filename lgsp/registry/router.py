"""REST for agencies, systems and keys under /api/v1."""

from typing import Annotated

from fastapi import APIRouter, Query, Response, status

from buscore.signing import b64
from lgsp.api.paging import Limit, Offset, Page
from lgsp.errors import error_responses
from lgsp.registry import service
from lgsp.registry.auth import CallerDep
from lgsp.registry.models import (
    AgencyCreate,
    AgencyPublic,
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyPublic,
    BusTrust,
    Role,
    SystemCreate,
    SystemPublic,
    SystemRegistered,
    SystemUpdate,
    TrustedKey,
)
from lgsp.runtime import RuntimeDep, SessionDep
from schemas.common import AgencyCode

router = APIRouter(prefix="/api/v1", tags=["registry"], responses=error_responses(401, 403, 422))


@router.post(
    "/agencies",
    status_code=status.HTTP_201_CREATED,
    response_model=AgencyPublic,
    responses=error_responses(409),
)
async def create_agency(data: AgencyCreate, session: SessionDep, caller: CallerDep) -> AgencyPublic:
    """Register an agency (admin)."""
    caller.require(Role.ADMIN)
    return AgencyPublic.model_validate(await service.create_agency(session, caller, data))


@router.get("/agencies", response_model=list[AgencyPublic])
async def list_agencies(session: SessionDep, caller: CallerDep) -> list[AgencyPublic]:
    """Every agency; any valid key reads them (they are the public structure of the province)."""
    return [AgencyPublic.model_validate(a) for a in await service.list_agencies(session)]


@router.post(
    "/systems",
    status_code=status.HTTP_201_CREATED,
    response_model=SystemRegistered,
    responses=error_responses(409),
)
async def register_system(
    data: SystemCreate, session: SessionDep, caller: CallerDep, runtime: RuntimeDep
) -> SystemRegistered:
    """Register a database or information system; the answer holds its API key, shown this once."""
    system, api_key = await service.register_system(
        session, caller, data, runtime.bus.topics, runtime.settings.province, runtime.principals
    )
    runtime.outbox.wake()
    return SystemRegistered.model_validate(
        system, update={"api_key": api_key, "bus_trust": runtime.trust.anchor()}
    )


@router.get("/systems", response_model=Page[SystemPublic])
async def list_systems(
    session: SessionDep,
    caller: CallerDep,
    limit: Limit = 100,
    offset: Offset = 0,
    # An agency code or nothing: other text matches nothing, and PostgreSQL would refuse a NUL (a 500).
    agency_code: Annotated[AgencyCode | None, Query()] = None,
    exempt: bool | None = None,
) -> Page[SystemPublic]:
    """Registered systems, a page at a time."""
    caller.require_reader()
    rows, total = await service.list_systems(
        session, agency_code=agency_code, exempt=exempt, limit=limit, offset=offset
    )
    return Page(items=[SystemPublic.model_validate(s) for s in rows], total=total, limit=limit, offset=offset)


@router.get("/systems/{system_id}", response_model=SystemPublic, responses=error_responses(404))
async def get_system(system_id: int, session: SessionDep, caller: CallerDep) -> SystemPublic:
    """One system."""
    caller.require_reader(system_id)
    return SystemPublic.model_validate(await service.get_system(session, system_id))


@router.patch("/systems/{system_id}", response_model=SystemPublic, responses=error_responses(404))
async def update_system(
    system_id: int, data: SystemUpdate, session: SessionDep, caller: CallerDep, runtime: RuntimeDep
) -> SystemPublic:
    """Change a system (admin, or an integrator of its agency)."""
    system = await service.update_system(
        session, caller, system_id, data, runtime.bus.topics, runtime.settings.province
    )
    runtime.outbox.wake()
    return SystemPublic.model_validate(system)


@router.delete("/systems/{system_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404))
async def delete_system(
    system_id: int, session: SessionDep, caller: CallerDep, runtime: RuntimeDep
) -> Response:
    """Retire a system: it disappears from the registry and the indicator; its history stays for reports."""
    await service.retire_system(
        session, caller, system_id, runtime.bus.topics, runtime.settings.province, runtime.principals
    )
    runtime.outbox.wake()
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post("/systems/{system_id}/key", status_code=status.HTTP_201_CREATED, responses=error_responses(404))
async def rotate_system_key(
    system_id: int, session: SessionDep, caller: CallerDep, runtime: RuntimeDep
) -> dict[str, str]:
    """Revoke the system's keys and issue a new one, shown this once; the system's bus session ends."""
    api_key = await service.rotate_system_key(
        session, caller, system_id, runtime.bus.topics, runtime.settings.province, runtime.principals
    )
    runtime.outbox.wake()
    return {"api_key": api_key, "bus_trust": runtime.trust.anchor()}


@router.post("/keys", status_code=status.HTTP_201_CREATED, response_model=ApiKeyIssued)
async def create_key(data: ApiKeyCreate, session: SessionDep, caller: CallerDep) -> ApiKeyIssued:
    """Issue a key for a person (admin)."""
    key, plaintext = await service.create_key(session, caller, data)
    return ApiKeyIssued.model_validate(key, update={"api_key": plaintext})


@router.get("/keys", response_model=list[ApiKeyPublic])
async def list_keys(session: SessionDep, caller: CallerDep) -> list[ApiKeyPublic]:
    """Every key's metadata, never its secret (admin)."""
    return [ApiKeyPublic.model_validate(k) for k in await service.list_keys(session, caller)]


@router.delete("/keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT, responses=error_responses(404))
async def revoke_key(key_id: int, session: SessionDep, caller: CallerDep, runtime: RuntimeDep) -> Response:
    """Revoke a key at once (admin); a system key's bus session ends with it."""
    await service.revoke_key(session, caller, key_id, runtime.principals)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/bus/trust", response_model=BusTrust, tags=["registry"])
async def bus_trust(runtime: RuntimeDep) -> BusTrust:
    """The platform keys a connector checks the hub's and the NGSP's bus messages with (public; fetch it
    over TLS, or take it from a system's registration)."""
    trust = runtime.trust
    return BusTrust(
        anchor=trust.anchor(),
        keys=[
            TrustedKey(kid=k.kid, owner=k.owner, public_key=b64(k.public_key)) for k in trust.keys.values()
        ],
    )
