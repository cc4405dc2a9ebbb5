"""The hub's keyring: the public keys bus messages are checked with.

The platform keys (the hub's own and the NGSP's) are fixed at start; a system's keys are read from the
registry for every batch that names them, so a revoked or rotated key, or a retired system, stops counting
at once on every hub process. Public keys never change, so their decoded form is cached.
"""

import base64
from collections.abc import Iterable, Mapping

from sqlalchemy import select
from sqlmodel import col

from buscore.signing import SignerKey
from lgsp.db import Database
from lgsp.registry.models import ApiKey, Role, System


class Keyring:
    """A KeySource (lgsp.bus.authentication) over the registry's system keys and the platform keys."""

    def __init__(self, database: Database, platform: Iterable[SignerKey]) -> None:
        self.database = database
        self.platform = {key.kid: key for key in platform}
        self._public: dict[str, bytes] = {}

    async def keys(self, kids: set[str]) -> Mapping[str, SignerKey]:
        """The keys named `kids`; system keys with their owner and whether they still count."""
        found = {kid: self.platform[kid] for kid in kids if kid in self.platform}
        wanted = [kid for kid in kids if kid not in found and len(kid) <= 32]
        if not wanted:
            return found
        async with self.database.engine.connect() as conn:
            rows = await conn.execute(
                select(
                    col(ApiKey.lookup),
                    col(ApiKey.verify_key),
                    col(ApiKey.revoked_at),
                    col(System.code),
                    col(System.retired_at),
                )
                .join(System, col(System.id) == col(ApiKey.system_id))
                .where(
                    col(ApiKey.lookup).in_(wanted),
                    col(ApiKey.role) == Role.SYSTEM,
                    col(ApiKey.verify_key).is_not(None),
                )
            )
            for lookup, verify_key, revoked_at, code, retired_at in rows:
                public = self._public.get(lookup)
                if public is None:
                    public = self._public[lookup] = base64.b64decode(verify_key or "")
                found[lookup] = SignerKey(
                    lookup, code, public, revoked=revoked_at is not None or retired_at is not None
                )
        return found
