"""GET /api/v1/indicators: public, the published figures."""

from fastapi import APIRouter

from lgsp.db import SessionDep
from lgsp.indicators.models import Indicators
from lgsp.indicators.service import current_indicators

router = APIRouter(prefix="/api/v1", tags=["indicators"])


@router.get("/indicators", response_model=Indicators)
async def get_indicators(session: SessionDep) -> Indicators:
    """Connectivity (LGSP and NGSP links) and once-only indicators, now. No key needed."""
    return await current_indicators(session)
