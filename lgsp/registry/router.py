"""REST for agencies, systems and keys under /api/v1."""

from typing import Annotated, Any

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse

from buscore.signing import b64
from lgsp.api.paging import Limit, Offset, Page
from lgsp.errors import error_responses
from lgsp.registry import scope, service
from lgsp.registry.auth import CallerDep
from lgsp.registry.models import (
    AgencyCreate,
    AgencyPublic,
    ApiKeyCreate,
    ApiKeyIssued,
    ApiKeyPublic,
    BusTrust,
    RequestDecision,
    RequestStatus,
    Role,
    ScopeRequestPublic,
    SystemCreate,
    SystemPublic,
    SystemRegistered,
    SystemUpdate,
    TrustedKey,
)
from lgsp.runtime import RuntimeDep, SessionDep
from schemas.common import AgencyCode

router = APIRouter(prefix="/api/v1", tags=["registry"], responses=error_responses(401, 403, 422))

#: Why a scope change is asked for or made (an integrator must say; docs/integrators/api.md).
Reason = Annotated[
    str | None,
    Query(max_length=500, description="Why: kept with the scope change (required of integrators)"),
]
#: The answer to an integrator's scope change: the request an admin will decide.
ASKED: dict[int | str, dict[str, Any]] = {
    202: {"model": ScopeRequestPublic, "description": "Asked for: an admin decides (integrators)"}
}


def asked(request: ScopeRequestPublic) -> JSONResponse:
    """202 with the pending request an integrator's scope change became."""
    return JSONResponse(request.model_dump(mode="json"), status.HTTP_202_ACCEPTED)


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
    """Register a database or information system; the answer holds its API key, shown this once. An
    integrator's system registered exempt is registered in scope, its exemption asked for
    (`scope_request`)."""
    system, api_key, request = await scope.register_system(
        session, caller, data, runtime.bus.topics, runtime.settings.province, runtime.principals
    )
    runtime.outbox.wake()
    return SystemRegistered.model_validate(
        system, update={"api_key": api_key, "bus_trust": runtime.trust.anchor(), "scope_request": request}
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


@router.patch(
    "/systems/{system_id}", response_model=SystemPublic, responses=error_responses(404, 409) | ASKED
)
async def update_system(
    system_id: int,
    data: SystemUpdate,
    session: SessionDep,
    caller: CallerDep,
    runtime: RuntimeDep,
    reason: Reason = None,
) -> SystemPublic | Response:
    """Change a system (admin, or an integrator of its agency). Changing `exempt` changes its scope: an
    admin's change applies at once, an integrator's is asked for (202, the request; the rest of the
    change applies), with `exempt_reason`, or `reason` to bring it back into scope."""
    changed = await scope.update_system(
        session, caller, system_id, data, reason, runtime.bus.topics, runtime.settings.province
    )
    runtime.outbox.wake()
    if isinstance(changed, ScopeRequestPublic):
        return asked(changed)
    return SystemPublic.model_validate(changed)


@router.delete(
    "/systems/{system_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(404, 409) | ASKED,
)
async def delete_system(
    system_id: int, session: SessionDep, caller: CallerDep, runtime: RuntimeDep, reason: Reason = None
) -> Response:
    """Retire a system: it disappears from the registry and the indicator; its history stays for reports.
    An admin retires at once (204); an integrator asks, with a `reason` (202, the request)."""
    request = await scope.retire_system(
        session, caller, system_id, reason, runtime.bus.topics, runtime.settings.province, runtime.principals
    )
    runtime.outbox.wake()
    if request is not None:
        return asked(request)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/scope-requests", response_model=Page[ScopeRequestPublic])
async def list_scope_requests(
    session: SessionDep,
    caller: CallerDep,
    limit: Limit = 100,
    offset: Offset = 0,
    status: RequestStatus | None = None,
    system_id: int | None = None,
) -> Page[ScopeRequestPublic]:
    """Scope changes asked for and made, oldest first (oversight: all; integrators: their agency's)."""
    rows, total = await scope.list_requests(
        session, caller, status=status, system_id=system_id, limit=limit, offset=offset
    )
    return Page(items=rows, total=total, limit=limit, offset=offset)


@router.get("/scope-requests/{request_id}", response_model=ScopeRequestPublic, responses=error_responses(404))
async def get_scope_request(request_id: int, session: SessionDep, caller: CallerDep) -> ScopeRequestPublic:
    """One scope change: what, why, who asked and who decided."""
    return await scope.get_request(session, caller, request_id)


@router.post(
    "/scope-requests/{request_id}/decision",
    response_model=ScopeRequestPublic,
    responses=error_responses(404, 409),
)
async def decide_scope_request(
    request_id: int, data: RequestDecision, session: SessionDep, caller: CallerDep, runtime: RuntimeDep
) -> ScopeRequestPublic:
    """Approve a pending scope change, which then applies, or reject it (admin)."""
    decided = await scope.decide(
        session, caller, request_id, data, runtime.bus.topics, runtime.settings.province, runtime.principals
    )
    runtime.outbox.wake()
    return decided


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
