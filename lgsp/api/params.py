"""Query parameters several routes share."""

from datetime import date
from typing import Annotated

from fastapi import Query
from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

from lgsp.errors import BadRequest

#: The days a period may name. Every record a hub holds lies between them, and centuries separate them
#: from the ends of Python's calendar (years 1 and 9999), so arithmetic on a period (a microsecond back
#: from `to` to find its quarter, a grace period, a time zone) cannot leave it: `to=0001-01-01` was an
#: OverflowError, answered as a 500.
EARLIEST_DAY = date(1900, 1, 1)
LATEST_DAY = date(9999, 1, 1)
#: What is said of a day outside them (the API's 422 and the `lgsp report` command alike).
DAY_RANGE = f"a day from {EARLIEST_DAY} to {LATEST_DAY}"


def day_in_range(day: date) -> bool:
    """Whether a period may name `day` (EARLIEST_DAY to LATEST_DAY, both included)."""
    return EARLIEST_DAY <= day <= LATEST_DAY


def _period_day(day: date) -> date:
    if not day_in_range(day):
        raise PydanticCustomError("date_out_of_range", "expected {range}", {"range": DAY_RANGE})
    return day


#: A day of a reporting period, within EARLIEST_DAY to LATEST_DAY.
PeriodDay = Annotated[date, AfterValidator(_period_day)]

#: A reporting period as query parameters: from `from` up to the day before `to`.
PeriodStart = Annotated[
    PeriodDay | None, Query(alias="from", description=f"First day counted (inclusive); {DAY_RANGE}")
]
PeriodEnd = Annotated[
    PeriodDay | None, Query(alias="to", description=f"Day after the last one counted; {DAY_RANGE}")
]


def check_period(start: date | None, end: date | None) -> None:
    """A period must not end before it starts."""
    if start is not None and end is not None and end <= start:
        raise BadRequest(f"the period ends ({end}) before it starts ({start})")
