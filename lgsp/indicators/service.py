"""Computes the published indicators from the stored state."""

from datetime import date

from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.connectivity.service import current_counts
from lgsp.indicators.models import (
    ConnectivityIndicators,
    Indicators,
    LinkIndicator,
    OnceOnlyIndicators,
    RatioIndicator,
    ReuseIndicator,
    points_766,
    ratio,
)
from lgsp.onceonly.service import once_only_counts
from lgsp.settings import Settings
from schemas.common import utcnow


async def once_only_indicators(
    session: AsyncSession, settings: Settings, start: date | None = None, end: date | None = None
) -> OnceOnlyIndicators:
    """The three once-only measures over dossiers received in [start, end)."""
    conn = await session.connection()
    counts = await once_only_counts(conn, start, end)
    target = settings.once_only_target
    clean_applicants = counts.applicants - counts.applicants_with_resubmission
    reuse = ratio(counts.dossiers_with_reuse, counts.dossiers)
    return OnceOnlyIndicators(
        start=start,
        end=end,
        by_dossier=RatioIndicator(
            numerator=counts.dossiers_without_resubmission,
            denominator=counts.dossiers,
            ratio=ratio(counts.dossiers_without_resubmission, counts.dossiers),
            target=target,
        ),
        by_applicant=RatioIndicator(
            numerator=clean_applicants,
            denominator=counts.applicants,
            ratio=ratio(clean_applicants, counts.applicants),
            target=target,
        ),
        reuse=ReuseIndicator(
            numerator=counts.dossiers_with_reuse,
            denominator=counts.dossiers,
            ratio=reuse,
            target=target,
            points=points_766(reuse, settings.reuse_max_points),
            max_points=settings.reuse_max_points,
        ),
    )


async def current_indicators(
    session: AsyncSession, settings: Settings, start: date | None = None, end: date | None = None
) -> Indicators:
    """Connectivity now, and the once-only measures over [start, end) (every dossier by default)."""
    counts = await current_counts(session)
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
        once_only=await once_only_indicators(session, settings, start, end),
    )
