"""GET /api/v1/systems/{id}/status: a system's connectivity on both links."""

from fastapi import APIRouter

from lgsp.api.paging import Limit, Offset, Page
from lgsp.connectivity.models import SystemConnectivity, SystemLinks
from lgsp.connectivity.queries import list_links, system_connectivity
from lgsp.errors import error_responses
from lgsp.registry.auth import CallerDep
from lgsp.registry.service import get_system
from lgsp.runtime import SessionDep

router = APIRouter(prefix="/api/v1", tags=["connectivity"], responses=error_responses(401, 403, 422))


@router.get("/systems/{system_id}/status", response_model=SystemConnectivity, responses=error_responses(404))
async def get_status(system_id: int, session: SessionDep, caller: CallerDep) -> SystemConnectivity:
    """Both links now, the evidence behind them, and the latest state changes."""
    caller.require_reader(system_id)
    return await system_connectivity(session, await get_system(session, system_id))


@router.get("/connectivity/systems", response_model=Page[SystemLinks])
async def get_links(
    session: SessionDep, caller: CallerDep, limit: Limit = 100, offset: Offset = 0
) -> Page[SystemLinks]:
    """Every live system with both links: the province-wide connectivity table."""
    caller.require_reader()
    items, total = await list_links(session, limit=limit, offset=offset)
    return Page(items=items, total=total, limit=limit, offset=offset)
