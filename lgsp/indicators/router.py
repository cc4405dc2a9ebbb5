"""GET /api/v1/indicators: public, the published figures."""

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query

from lgsp.errors import BadRequest, error_responses
from lgsp.indicators.models import Indicators
from lgsp.indicators.service import indicator_cache
from lgsp.runtime import RuntimeDep

router = APIRouter(prefix="/api/v1", tags=["indicators"], responses=error_responses(422))

#: A reporting period as query parameters: dossiers received from `from` up to the day before `to`.
PeriodStart = Annotated[date | None, Query(alias="from", description="First day counted (inclusive)")]
PeriodEnd = Annotated[date | None, Query(alias="to", description="Day after the last one counted")]


def check_period(start: date | None, end: date | None) -> None:
    """A period must not end before it starts."""
    if start is not None and end is not None and end <= start:
        raise BadRequest(f"the period ends ({end}) before it starts ({start})")


@router.get("/indicators", response_model=Indicators)
async def get_indicators(runtime: RuntimeDep, start: PeriodStart = None, end: PeriodEnd = None) -> Indicators:
    """Connectivity (LGSP and NGSP links) now, and the once-only measures over a period of dossiers
    (every dossier when no period is given). No key needed.

    Published figures, served from a cache at most a second old (`as_of` says when they were computed),
    so any number of readers costs the database about one computation a second."""
    check_period(start, end)
    return await indicator_cache(runtime.database, runtime.settings).get(start, end)
