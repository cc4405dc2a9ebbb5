"""Types shared by bus messages and API bodies."""

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated

from pydantic import StringConstraints

#: A system's stable code: it names the system's inbox topic, so only topic-safe characters.
SystemCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$", min_length=2, max_length=64)
]
#: Where a provider lives: a system of this province (its code) or beyond it, written `AREA/CODE`, where
#: AREA is `VN` for the national databases or another province's code; those go through the NGSP.
ProviderAddress = Annotated[
    str,
    StringConstraints(
        pattern=r"^(?:[A-Z0-9]{2,8}/)?[A-Za-z0-9][A-Za-z0-9_-]{1,63}$", min_length=2, max_length=73
    ),
]
#: The area of the national databases in a provider address.
NATIONAL = "VN"


def split_address(address: str) -> tuple[str | None, str]:
    """`("VN", "DAN-CU")` for `"VN/DAN-CU"`, `(None, "HO-TICH")` for a provincial system."""
    area, _, code = address.rpartition("/")
    return area or None, code


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
