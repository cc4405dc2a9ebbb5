"""REST for a system's declarative sources, as Kafka Connect's REST API is for connectors:
/api/v1/systems/{id}/sources (store, list, read, delete), .../status, .../restart, .../pause,
.../resume, and /api/v1/connector/sources for the connector that runs them."""

from typing import Annotated

from fastapi import APIRouter, Body, Path, Response, status

from lgsp.errors import error_responses
from lgsp.registry.auth import CallerDep
from lgsp.runtime import SessionDep, SettingsDep
from lgsp.sources import service
from lgsp.sources.models import (
    SOURCE_PATTERN,
    ConnectorSources,
    SourceCreate,
    SourcePublic,
    SourceReport,
    SourceStatus,
    TargetState,
)

#: Every route but the connector's names a system and most a source, which may not exist: 404 everywhere.
router = APIRouter(prefix="/api/v1", tags=["sources"], responses=error_responses(401, 403, 404, 422))
SOURCE = "/systems/{system_id}/sources/{name}"
SourceName = Annotated[str, Path(max_length=64, pattern=SOURCE_PATTERN)]
#: One entry of a connector config's `sources:` list, told apart by its `kind`.
SourceBody = Annotated[SourceCreate, Body()]


@router.post(
    "/systems/{system_id}/sources",
    status_code=status.HTTP_201_CREATED,
    response_model=SourcePublic,
    responses=error_responses(409),
)
async def store_source(
    system_id: int, data: SourceBody, session: SessionDep, caller: CallerDep, settings: SettingsDep
) -> SourcePublic:
    """Store a database or REST source of the system (admin, or an integrator of its agency), in the
    format of one entry of a declarative connector's `sources:` (docs/integrators/declarative-connectors.md;
    secrets by reference only), and declare its services in the catalogue with it."""
    return await service.store_source(session, caller, system_id, data, settings)


@router.get("/systems/{system_id}/sources", response_model=list[SourcePublic])
async def list_sources(system_id: int, session: SessionDep, caller: CallerDep) -> list[SourcePublic]:
    """The system's sources, by name."""
    return await service.list_sources(session, caller, system_id)


@router.get(SOURCE, response_model=SourcePublic)
async def get_source(
    system_id: int, name: SourceName, session: SessionDep, caller: CallerDep
) -> SourcePublic:
    """One source, as stored."""
    return await service.get_source(session, caller, system_id, name)


@router.delete(SOURCE, status_code=status.HTTP_204_NO_CONTENT)
async def delete_source(system_id: int, name: SourceName, session: SessionDep, caller: CallerDep) -> Response:
    """Delete a source and withdraw its services and their grants; its connector stops running it."""
    await service.delete_source(session, caller, system_id, name)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.get(f"{SOURCE}/status", response_model=SourceStatus)
async def source_status(
    system_id: int, name: SourceName, session: SessionDep, caller: CallerDep
) -> SourceStatus:
    """The source's state as its connector last reported it (UNASSIGNED before it has; RUNNING, FAILED
    with the error, or PAUSED), and what was asked of it."""
    return await service.get_status(session, caller, system_id, name)


@router.put(f"{SOURCE}/status", response_model=SourceStatus)
async def report_status(
    system_id: int, name: SourceName, data: SourceReport, session: SessionDep, caller: CallerDep
) -> SourceStatus:
    """A connector reports the state of a source it runs (the system's own key only)."""
    return await service.report(session, caller, system_id, name, data)


@router.post(f"{SOURCE}/restart", status_code=status.HTTP_202_ACCEPTED, response_model=SourceStatus)
async def restart_source(
    system_id: int, name: SourceName, session: SessionDep, caller: CallerDep
) -> SourceStatus:
    """Ask for the source to be closed and opened again (admin, or an integrator of its agency)."""
    return await service.restart(session, caller, system_id, name)


@router.put(f"{SOURCE}/pause", status_code=status.HTTP_202_ACCEPTED, response_model=SourceStatus)
async def pause_source(
    system_id: int, name: SourceName, session: SessionDep, caller: CallerDep
) -> SourceStatus:
    """Ask for the source to pause: its services answer server.provider_unreachable until resumed."""
    return await service.set_target(session, caller, system_id, name, TargetState.PAUSED)


@router.put(f"{SOURCE}/resume", status_code=status.HTTP_202_ACCEPTED, response_model=SourceStatus)
async def resume_source(
    system_id: int, name: SourceName, session: SessionDep, caller: CallerDep
) -> SourceStatus:
    """Ask for a paused source to run again."""
    return await service.set_target(session, caller, system_id, name, TargetState.RUNNING)


@router.get("/connector/sources", response_model=ConnectorSources)
async def connector_sources(session: SessionDep, caller: CallerDep) -> ConnectorSources:
    """The sources the calling connector is to run: its own system's (a system's own key only)."""
    return await service.connector_sources(session, caller)
