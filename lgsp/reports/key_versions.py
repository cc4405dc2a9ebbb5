"""Which platform key the stored hashes of personal ids were made with, table by table.

After a rotation (docs/operators/secret-key.md) new rows are hashed under the new key and old ones stay
as they were: a hash cannot be recomputed without the id it hides. This count says how many rows each
key still matches, so an operator knows what dropping a previous key from LGSP_SECRET_KEYS_PREVIOUS
would cost (those rows would no longer match their person)."""

from dataclasses import dataclass
from typing import Any

from sqlalchemy import case, func, select
from sqlmodel import col

from lgsp.db import Database
from lgsp.exchange.models import ExchangeRecord
from lgsp.onceonly.models import AcceptedDocument, Dossier
from lgsp.security import KEY_ID_CHARS, LEGACY, PlatformKeys

#: Every column holding a keyed hash of a personal id or tax code.
HASHED: tuple[tuple[str, Any], ...] = (
    ("exchange_record.subject_hash", col(ExchangeRecord.subject_hash)),
    ("accepted_document.subject_hash", col(AcceptedDocument.subject_hash)),
    ("dossier.applicant_hash", col(Dossier.applicant_hash)),
)


@dataclass(frozen=True, slots=True)
class KeyVersionCount:
    """How many rows of one column are hashed under one key."""

    column: str
    key_id: str
    rows: int
    #: "current", "previous" (in LGSP_SECRET_KEYS_PREVIOUS) or "unknown": no configured key made them.
    status: str


def key_status(keys: PlatformKeys, key_id: str) -> str:
    """Whether `key_id` (or LEGACY) is the current key, a previous one, or none configured."""
    if key_id == keys.current.id:
        return "current"
    # An untagged hash is matched under every configured key (PlatformKeys.subject_hashes).
    if key_id == LEGACY or key_id in {k.id for k in keys.previous}:
        return "previous"
    return "unknown"


async def key_versions(database: Database, keys: PlatformKeys) -> list[KeyVersionCount]:
    """Rows per key id in every hashed column, biggest first within a column."""
    counts: list[KeyVersionCount] = []
    async with database.engine.connect() as conn:
        for name, column in HASHED:
            tagged = func.substr(column, KEY_ID_CHARS + 1, 1) == "."
            version = case((tagged, func.substr(column, 1, KEY_ID_CHARS)), else_=LEGACY).label("version")
            rows = await conn.execute(
                select(version, func.count()).where(column.is_not(None)).group_by(version)
            )
            found = sorted(((v, int(n)) for v, n in rows), key=lambda item: -item[1])
            counts.extend(KeyVersionCount(name, v, n, key_status(keys, v)) for v, n in found)
    return counts
