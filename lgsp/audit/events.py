"""Registry changes as append-only events, written in the caller's transaction for the audit trail."""

from datetime import date, datetime
from enum import Enum
from typing import Any

from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.audit.models import RegistryEvent
from lgsp.registry.caller import Caller
from schemas.common import utcnow


def plain(value: Any) -> Any:
    """A JSON-able form of a column value (dates as ISO text, enums as their value)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Enum):
        return value.value
    return value


def record_event(session: AsyncSession, caller: Caller, action: str, entity: str, **data: Any) -> None:
    """Log a registry change in the caller's transaction; the sealer chains it once committed.

    Never pass secrets: `data` is kept as it is. Who did it: the caller's role and agency, and the key
    they used (its id, not the key), so an auditor can tell two integrators of one agency apart.
    """
    actor = caller.role.value + (f":{caller.agency_code}" if caller.agency_code else "")
    session.add(
        RegistryEvent(
            at=utcnow(),
            actor=actor,
            actor_key=caller.credential,
            action=action,
            entity=str(entity),
            data={k: plain(v) for k, v in data.items()},
        )
    )
