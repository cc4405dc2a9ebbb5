"""REST for the service catalogue: /api/v1/systems/{id}/services, /grants and /allowed-services."""

from typing import Annotated

from fastapi import APIRouter, Path, Response, status

from lgsp.catalogue import service
from lgsp.catalogue.models import SERVICE_PATTERN, GrantCreate, GrantPublic, ServiceCreate, ServicePublic
from lgsp.errors import error_responses
from lgsp.registry.auth import CallerDep
from lgsp.runtime import SessionDep, SettingsDep

#: Every route names a system, which may not exist: 404 everywhere.
router = APIRouter(
    prefix="/api/v1/systems/{system_id}", tags=["catalogue"], responses=error_responses(401, 403, 404, 422)
)
ServiceCode = Annotated[str, Path(max_length=64, pattern=SERVICE_PATTERN)]


@router.post(
    "/services",
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


@router.get("/services", response_model=list[ServicePublic])
async def list_services(system_id: int, session: SessionDep, caller: CallerDep) -> list[ServicePublic]:
    """The services a system provides. Any key may read the catalogue, systems' own keys included."""
    del caller  # authentication is all it takes
    return await service.list_services(session, system_id)


@router.delete("/services/{code}", status_code=status.HTTP_204_NO_CONTENT)
async def withdraw_service(
    system_id: int, code: ServiceCode, session: SessionDep, caller: CallerDep
) -> Response:
    """Stop providing a service; its grants go with it."""
    await service.withdraw_service(session, caller, system_id, code)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/grants", status_code=status.HTTP_201_CREATED, response_model=GrantPublic, responses=error_responses(409)
)
async def grant_access(
    system_id: int, data: GrantCreate, session: SessionDep, caller: CallerDep
) -> GrantPublic:
    """Allow a client system, or every system of an agency, to call one of this system's services."""
    return await service.grant_access(session, caller, system_id, data)


@router.get("/grants", response_model=list[GrantPublic])
async def list_grants(system_id: int, session: SessionDep, caller: CallerDep) -> list[GrantPublic]:
    """Who may call this system's services."""
    caller.require_reader(system_id)
    return await service.list_grants(session, system_id)


@router.delete("/grants/{grant_id}", status_code=status.HTTP_204_NO_CONTENT)
async def revoke_grant(system_id: int, grant_id: int, session: SessionDep, caller: CallerDep) -> Response:
    """Withdraw a grant at once."""
    await service.revoke_grant(session, caller, system_id, grant_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get("/allowed-services", response_model=list[ServicePublic])
async def allowed_services(system_id: int, session: SessionDep, caller: CallerDep) -> list[ServicePublic]:
    """The services this system may call as a client."""
    caller.require_reader(system_id)
    return await service.allowed_services(session, system_id)
