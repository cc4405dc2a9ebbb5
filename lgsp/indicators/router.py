"""GET /api/v1/indicators: public, the published figures."""

from fastapi import APIRouter, Response

from lgsp.api.params import PeriodEnd, PeriodStart, check_period
from lgsp.errors import error_responses
from lgsp.indicators.models import Indicators
from lgsp.indicators.service import indicator_cache
from lgsp.runtime import RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["indicators"], responses=error_responses(422))


@router.get("/indicators", response_model=Indicators)
async def get_indicators(runtime: RuntimeDep, start: PeriodStart = None, end: PeriodEnd = None) -> Response:
    """Connectivity (LGSP and NGSP links) now, and the once-only measures over a period of dossiers
    (every dossier when no period is given). No key needed.

    Published figures, served from a cache at most a second old (`as_of` says when they were computed),
    so any number of readers costs the database about one computation a second."""
    check_period(start, end)
    # Serialized once per computation: a request costs no validation or encoding of the model.
    published = await indicator_cache(runtime.database, runtime.settings).published(start, end)
    return Response(published.body, media_type="application/json")
