"""Types shared by bus messages and API bodies."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints

#: A system's stable code: it names the system's inbox topic, so only topic-safe characters.
SystemCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$", min_length=2, max_length=64)
]
#: An agency's code, e.g. "SO-TP" (provincial department of justice) or a ministry code.
AgencyCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", min_length=1, max_length=64)
]


class Link(StrEnum):
    """The two links DESIGN.md section 5 tracks for every system."""

    LGSP = "lgsp"
    NGSP = "ngsp"


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (every timestamp on the wire is UTC)."""
    return datetime.now(UTC)
