"""GET /: the dashboard, public like the indicators it shows."""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.connectivity.models import LinkStateChange, SystemStatus
from lgsp.connectivity.queries import list_links
from lgsp.dashboard.page import Dashboard, Disconnection, render
from lgsp.indicators.service import current_indicators
from lgsp.registry.models import System
from lgsp.runtime import RuntimeDep, SessionDep

router = APIRouter(tags=["dashboard"])

#: Rows of the systems table; a province has tens to a few hundred systems, and the page stays light.
MAX_SYSTEMS = 200
RECENT_DISCONNECTIONS = 10


async def recent_disconnections(
    session: AsyncSession, limit: int = RECENT_DISCONNECTIONS
) -> list[Disconnection]:
    """The latest `limit` recorded losses of a link (retired systems included: their history stays)."""
    rows = await session.exec(
        select(LinkStateChange, System.code, SystemStatus)
        .join(System, col(System.id) == col(LinkStateChange.system_id))
        .join(SystemStatus, col(SystemStatus.system_id) == col(LinkStateChange.system_id))
        .where(col(LinkStateChange.connected).is_(False))
        .order_by(col(LinkStateChange.at).desc(), col(LinkStateChange.id).desc())
        .limit(limit)
    )
    return [
        Disconnection(
            code=code,
            link=change.link,
            at=change.at,
            reason=change.reason,
            # A link up now came back after this loss: every later change is newer than this one.
            restored=bool(getattr(status, f"{change.link.value}_connected")),
        )
        for change, code, status in rows
    ]


@router.get("/", response_class=HTMLResponse, summary="Dashboard")
async def dashboard(session: SessionDep, runtime: RuntimeDep) -> HTMLResponse:
    """The province at a glance: both indicators against their targets, every system's links, and the
    latest disconnections. No key needed; it refreshes itself every few seconds."""
    indicators = await current_indicators(session, runtime.settings)
    systems, total = await list_links(session, limit=MAX_SYSTEMS, offset=0)
    view = Dashboard(
        province=runtime.settings.province,
        indicators=indicators,
        systems=systems,
        systems_total=total,
        disconnections=await recent_disconnections(session),
    )
    # The page is live data: no cache may serve a stale copy of it.
    return HTMLResponse(render(view), headers={"Cache-Control": "no-store"})
