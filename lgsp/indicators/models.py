"""The published indicators: the shape of GET /api/v1/indicators (docs/architecture/design.md section 8)."""

from datetime import date, datetime

from pydantic import BaseModel, Field


class LinkIndicator(BaseModel):
    """Connected in-scope systems over in-scope systems on one link."""

    connected: int
    in_scope: int
    ratio: float | None = Field(description="null while no system is in scope")
    target: float = 1.0


class ConnectivityIndicators(BaseModel):
    lgsp: LinkIndicator
    ngsp: LinkIndicator


class RatioIndicator(BaseModel):
    """A once-only measure with its numerator and denominator."""

    numerator: int
    denominator: int
    ratio: float | None = Field(description="null while the denominator is zero")
    target: float = 0.8


class ReuseIndicator(RatioIndicator):
    """The reuse rate with its Decision 766/QĐ-TTg score: full points from 80%, else pro rata."""

    points: float | None = Field(description="rate * max_points / 0.8, at most max_points; null: no dossier")
    max_points: float


class OnceOnlyIndicators(BaseModel):
    """The three measures of docs/architecture/definitions.md over dossiers received in [start, end)."""

    start: date | None = Field(description="First day counted; null: from the first dossier")
    end: date | None = Field(description="Day after the last one counted; null: up to now")
    by_dossier: RatioIndicator
    by_applicant: RatioIndicator
    reuse: ReuseIndicator


class Indicators(BaseModel):
    """Both indicators of the provincial plan, as of `as_of`."""

    as_of: datetime
    connectivity: ConnectivityIndicators
    once_only: OnceOnlyIndicators


def ratio(numerator: int, denominator: int) -> float | None:
    """numerator / denominator, or None when there is nothing to divide by."""
    return numerator / denominator if denominator else None


#: Decision 766/QĐ-TTg gives the reuse indicator full points at this rate or more.
FULL_POINTS_AT = 0.8


def points_766(rate: float | None, max_points: float) -> float | None:
    """The Decision 766 score of a reuse rate: max_points from 80%, else rate * max_points / 80%."""
    if rate is None:
        return None
    return max_points if rate >= FULL_POINTS_AT else rate * max_points / FULL_POINTS_AT
