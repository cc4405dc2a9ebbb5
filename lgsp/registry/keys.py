"""A system's bus public keys (the live ones), as the NGSP's catalogue registration carries them."""

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from lgsp.db import Database
from lgsp.registry.models import ApiKey


def _live(system_ids: Sequence[int]):  # type: ignore[no-untyped-def]
    return select(col(ApiKey.system_id), col(ApiKey.lookup), col(ApiKey.verify_key)).where(
        col(ApiKey.system_id).in_(list(system_ids)),
        col(ApiKey.revoked_at).is_(None),
        col(ApiKey.verify_key).is_not(None),
    )


async def bus_keys(database: Database, system_ids: Sequence[int]) -> dict[int, dict[str, str]]:
    """The live bus public keys (base64, by key id) of these systems, by system id."""
    found: dict[int, dict[str, str]] = {}
    async with database.engine.connect() as conn:
        for system_id, lookup, verify_key in await conn.execute(_live(system_ids)):
            found.setdefault(system_id, {})[lookup] = verify_key
    return found


async def system_bus_keys(session: AsyncSession, system_id: int) -> dict[str, str]:
    """The live bus public keys of one system, in the caller's transaction (pending changes included)."""
    await session.flush()
    rows = await session.exec(_live([system_id]))
    return {lookup: verify_key for _, lookup, verify_key in rows if verify_key is not None}
