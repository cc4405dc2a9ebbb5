"""GET /: the dashboard, public like the indicators it shows."""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse

from lgsp.dashboard.view import dashboard_cache
from lgsp.runtime import RuntimeDep

router = APIRouter(tags=["dashboard"])


@router.get("/", response_class=HTMLResponse, summary="Dashboard")
async def dashboard(runtime: RuntimeDep) -> HTMLResponse:
    """The province at a glance: both indicators against their targets, every system's links, and the
    latest disconnections. No key needed; it refreshes itself every few seconds.

    Rendered at most about once a second for every reader together: any number of open dashboards costs
    the database about one reading a second."""
    page = await dashboard_cache(runtime.database, runtime.settings).page()
    # Live data: no other cache (a browser's, a proxy's) may keep serving a copy of it.
    return HTMLResponse(page, headers={"Cache-Control": "no-store"})
