"""Query parameters several routes share."""

from datetime import date
from typing import Annotated

from fastapi import Query

from lgsp.errors import BadRequest

#: A reporting period as query parameters: from `from` up to the day before `to`.
PeriodStart = Annotated[date | None, Query(alias="from", description="First day counted (inclusive)")]
PeriodEnd = Annotated[date | None, Query(alias="to", description="Day after the last one counted")]


def check_period(start: date | None, end: date | None) -> None:
    """A period must not end before it starts."""
    if start is not None and end is not None and end <= start:
        raise BadRequest(f"the period ends ({end}) before it starts ({start})")
