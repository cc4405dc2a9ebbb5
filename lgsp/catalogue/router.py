"""REST for the service catalogue: /api/v1/systems/{id}/services, /grants and /allowed-services, and the
grants to national services, /api/v1/national-grants."""

from typing import Annotated

from fastapi import APIRouter, Path, Response, status
from fastapi.responses import JSONResponse

from lgsp.api.paging import Limit, Offset, Page
from lgsp.catalogue import national, service
from lgsp.catalogue.models import (
    SERVICE_PATTERN,
    GrantCreate,
    GrantPublic,
    NationalGrantCreate,
    NationalGrantPublic,
    ServiceCreate,
    ServicePublic,
)
from lgsp.errors import error_responses
from lgsp.registry.auth import CallerDep
from lgsp.registry.models import RequestDecision, RequestStatus
from lgsp.runtime import SessionDep, SettingsDep

#: Every route names a system or a grant, which may not exist: 404 everywhere.
router = APIRouter(prefix="/api/v1", tags=["catalogue"], responses=error_responses(401, 403, 404, 422))
#: The catalogue of one system.
SYSTEM = "/systems/{system_id}"
ServiceCode = Annotated[str, Path(max_length=64, pattern=SERVICE_PATTERN)]


@router.post(
    f"{SYSTEM}/services",
    status_code=status.HTTP_201_CREATED,
    response_model=ServicePublic,
    responses=error_responses(409),
)
async def declare_service(
    system_id: int, data: ServiceCreate, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> ServicePublic:
    """Declare a service the system provides (admin, or an integrator of its agency). Its schemas must be
    ones the hub can apply safely (docs/integrators/exchange.md), and a system provides at most
    LGSP_MAX_SERVICES_PER_SYSTEM services."""
    return await service.declare_service(session, caller, system_id, data, settings)


@router.get(f"{SYSTEM}/services", response_model=list[ServicePublic])
async def list_services(system_id: int, session: SessionDep, caller: CallerDep) -> list[ServicePublic]:
    """The services a system provides. Any key may read the catalogue, systems' own keys included."""
    del caller  # authentication is all it takes
    return await service.list_services(session, system_id)


@router.delete(SYSTEM + "/services/{code}", status_code=status.HTTP_204_NO_CONTENT)
async def withdraw_service(
    system_id: int, code: ServiceCode, session: SessionDep, caller: CallerDep
) -> Response:
    """Stop providing a service; its grants go with it."""
    await service.withdraw_service(session, caller, system_id, code)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    f"{SYSTEM}/grants",
    status_code=status.HTTP_201_CREATED,
    response_model=GrantPublic,
    responses=error_responses(409),
)
async def grant_access(
    system_id: int, data: GrantCreate, session: SessionDep, caller: CallerDep
) -> GrantPublic:
    """Allow a client system, or every system of an agency, to call one of this system's services."""
    return await service.grant_access(session, caller, system_id, data)


@router.get(f"{SYSTEM}/grants", response_model=list[GrantPublic])
async def list_grants(system_id: int, session: SessionDep, caller: CallerDep) -> list[GrantPublic]:
    """Who may call this system's services."""
    caller.require_reader(system_id)
    return await service.list_grants(session, system_id)


@router.delete(SYSTEM + "/grants/{grant_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_grant(system_id: int, grant_id: int, session: SessionDep, caller: CallerDep) -> Response:
    """Withdraw a grant at once."""
    await service.revoke_grant(session, caller, system_id, grant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(f"{SYSTEM}/allowed-services", response_model=list[ServicePublic])
async def allowed_services(system_id: int, session: SessionDep, caller: CallerDep) -> list[ServicePublic]:
    """The services this system may call as a client."""
    caller.require_reader(system_id)
    return await service.allowed_services(session, system_id)


# -- grants to national services ---------------------------------------------------------------------------


@router.post(
    "/national-grants",
    status_code=status.HTTP_201_CREATED,
    response_model=NationalGrantPublic,
    responses=error_responses(409)
    | {202: {"model": NationalGrantPublic, "description": "Asked for: an admin decides (integrators)"}},
)
async def request_national_grant(
    data: NationalGrantCreate, session: SessionDep, caller: CallerDep
) -> NationalGrantPublic | Response:
    """Let a client system, or every system of an agency, call a service beyond the province (admin:
    granted at once, 201), or ask for it (an integrator of that agency: 202, pending an admin's
    decision). National services are denied unless granted here, whatever the NGSP allows."""
    grant = await national.request_grant(session, caller, data)
    if grant.status is RequestStatus.PENDING:
        return JSONResponse(grant.model_dump(mode="json"), status.HTTP_202_ACCEPTED)
    return grant


@router.get("/national-grants", response_model=Page[NationalGrantPublic])
async def list_national_grants(
    session: SessionDep,
    caller: CallerDep,
    limit: Limit = 100,
    offset: Offset = 0,
    status: RequestStatus | None = None,
) -> Page[NationalGrantPublic]:
    """Grants to national services and requests for them, oldest first (oversight: all; integrators:
    their agency's)."""
    rows, total = await national.list_grants(session, caller, status=status, limit=limit, offset=offset)
    return Page(items=list(rows), total=total, limit=limit, offset=offset)


@router.post(
    "/national-grants/{national_grant_id}/decision",
    response_model=NationalGrantPublic,
    responses=error_responses(409),
)
async def decide_national_grant(
    national_grant_id: int, data: RequestDecision, session: SessionDep, caller: CallerDep
) -> NationalGrantPublic:
    """Approve a pending grant to a national service, which then holds, or reject it (admin)."""
    return await national.decide(session, caller, national_grant_id, data)


@router.delete("/national-grants/{national_grant_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_national_grant(national_grant_id: int, session: SessionDep, caller: CallerDep) -> Response:
    """Withdraw a grant to a national service, or a request for one, at once (admin, or an integrator
    of the client's agency)."""
    await national.revoke(session, caller, national_grant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
