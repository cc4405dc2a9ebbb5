"""The published indicators: the shape DESIGN.md section 8 fixes for GET /api/v1/indicators."""

from datetime import datetime

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


class OnceOnlyIndicators(BaseModel):
    by_dossier: RatioIndicator
    by_applicant: RatioIndicator
    reuse: RatioIndicator


class Indicators(BaseModel):
    """Both indicators of the provincial plan, as of `as_of`."""

    as_of: datetime
    connectivity: ConnectivityIndicators
    once_only: OnceOnlyIndicators


def ratio(numerator: int, denominator: int) -> float | None:
    """numerator / denominator, or None when there is nothing to divide by."""
    return numerator / denominator if denominator else None
