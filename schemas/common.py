"""Types shared by bus messages and API bodies."""

import json
import math
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, StringConstraints

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
#: The hub's own code as a provider of metaservices (like X-Road's listMethods/allowedMethods); no
#: system may be registered under it.
HUB = "LGSP"


def split_address(address: str) -> tuple[str | None, str]:
    """`("VN", "DAN-CU")` for `"VN/DAN-CU"`, `(None, "HO-TICH")` for a provincial system."""
    area, _, code = address.rpartition("/")
    return area or None, code


#: An agency's code, e.g. "SO-TP" (provincial department of justice) or a ministry code.
AgencyCode = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$", min_length=1, max_length=64)
]


class Link(StrEnum):
    """The two links docs/architecture/definitions.md tracks for every system."""

    LGSP = "lgsp"
    NGSP = "ngsp"


def utcnow() -> datetime:
    """The current time, timezone-aware in UTC (every timestamp on the wire is UTC)."""
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """An aware time converted to UTC (the same instant); a naive one is left as it is.

    pydantic writes a UTC offset to the minute, so an offset with seconds (+07:06:40, Saigon's local mean
    time in zoneinfo) would move the instant on the wire; in UTC every instant round-trips exactly.
    """
    if value.tzinfo is None or value.tzinfo is UTC:
        return value
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+05:00, before the first representable instant
        raise ValueError("out of range once converted to UTC") from None


#: A timestamp on the wire: every aware one is held (and so written) in UTC.
Instant = Annotated[datetime, AfterValidator(as_utc)]


def _no_number(value: object) -> object:
    return None  # anything json cannot write (a Python object in a payload) is not a number to check


def _first_non_finite(value: Any, where: str) -> str | None:
    """The path of the first NaN or infinity in a JSON-like value, or None."""
    stack: list[tuple[Any, str]] = [(value, where)]
    seen: set[int] = set()  # a payload built in Python may refer to itself
    while stack:
        item, path = stack.pop()
        if isinstance(item, float) and not math.isfinite(item):
            return path
        if isinstance(item, dict | list | tuple):
            if id(item) in seen:
                continue
            seen.add(id(item))
        if isinstance(item, dict):
            stack += [(child, f"{path}.{name}") for name, child in reversed(item.items())]
        elif isinstance(item, list | tuple):
            stack += [(child, f"{path}[{i}]") for i, child in reversed(list(enumerate(item)))]
    return None


#: Made once (json.dumps with options builds an encoder per call): every payload on the bus is checked.
_FINITE = json.JSONEncoder(allow_nan=False, default=_no_number)


def finite_json(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """`value` if every number in it is finite, else a ValueError naming the first one that is not.

    JSON has no NaN or infinity: a number beyond the double range (1e400) parses as infinity and would be
    written back as null, so the provider would get another payload than the client sent.
    """
    try:
        # The C encoder finds the common case (all finite) fastest; allow_nan=False raises on the others.
        _FINITE.encode(value)
    except ValueError:
        path = _first_non_finite(value, "")
        if path is None:  # a circular reference, not a number: not this check's business
            return value
        raise ValueError(
            f"numbers must be finite: {path.lstrip('.') or 'the value'} is NaN or beyond the double range "
            "(JSON has no NaN or Infinity)"
        ) from None
    except (TypeError, RecursionError):  # not JSON at all: validation of the shape reports that
        pass
    return value


#: A JSON object as exchanged in payloads: any shape, numbers finite.
JsonObject = Annotated[dict[str, Any], AfterValidator(finite_json)]
#: The same or null (an answer that carries a fault instead). One Annotated around the union, so the
#: field's annotation stays the plain union and its metadata holds the check.
OptionalJsonObject = Annotated[dict[str, Any] | None, AfterValidator(finite_json)]
