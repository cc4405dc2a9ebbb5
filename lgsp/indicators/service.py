"""Computes the published indicators from the stored state."""

from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.connectivity.service import current_counts
from lgsp.indicators.models import (
    ConnectivityIndicators,
    Indicators,
    LinkIndicator,
    OnceOnlyIndicators,
    RatioIndicator,
    ratio,
)
from schemas.common import utcnow


async def current_indicators(session: AsyncSession) -> Indicators:
    """The indicators now. Once-only counts stay at zero until dossiers are recorded (see issue 4)."""
    counts = await current_counts(session)
    no_dossiers = RatioIndicator(numerator=0, denominator=0, ratio=None)
    return Indicators(
        as_of=utcnow(),
        connectivity=ConnectivityIndicators(
            lgsp=LinkIndicator(
                connected=counts.lgsp_connected,
                in_scope=counts.in_scope,
                ratio=ratio(counts.lgsp_connected, counts.in_scope),
            ),
            ngsp=LinkIndicator(
                connected=counts.ngsp_connected,
                in_scope=counts.in_scope,
                ratio=ratio(counts.ngsp_connected, counts.in_scope),
            ),
        ),
        once_only=OnceOnlyIndicators(by_dossier=no_dossiers, by_applicant=no_dossiers, reuse=no_dossiers),
    )
