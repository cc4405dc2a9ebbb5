"""Secrets: API keys (shown once, stored hashed), keyed hashes and probe tokens."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

from lgsp.db import Database

KEY_PREFIX = "lgsp"


@dataclass(frozen=True, slots=True)
class IssuedKey:
    """A new key: `plaintext` goes to its holder once; only `lookup` and `digest` are stored."""

    plaintext: str
    lookup: str
    digest: str


def issue_key() -> IssuedKey:
    """Make a random API key `lgsp_<lookup>_<secret>`; the lookup part finds its row without the secret."""
    lookup = secrets.token_hex(6)
    plaintext = f"{KEY_PREFIX}_{lookup}_{secrets.token_urlsafe(32)}"
    return IssuedKey(plaintext, lookup, digest_key(plaintext))


def digest_key(plaintext: str) -> str:
    """SHA-256 of a key. Keys carry 256 random bits, so a fast unsalted hash is enough."""
    return hashlib.sha256(plaintext.encode()).hexdigest()


def split_key(plaintext: str) -> str | None:
    """The lookup part of a well-formed key, or None."""
    parts = plaintext.split("_", 2)
    if len(parts) != 3 or parts[0] != KEY_PREFIX or len(parts[1]) != 12:
        return None
    return parts[1]


def same_secret(a: str, b: str) -> bool:
    """Constant-time comparison of two digests or tokens."""
    return hmac.compare_digest(a.encode(), b.encode())


def keyed_hash(key: bytes, value: str) -> str:
    """HMAC-SHA256 of a value under the platform key (used for probe tokens and personal ids)."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


def subject_hash(key: bytes, subject: str) -> str:
    """The keyed hash a personal id or tax code is stored as, the same in every table."""
    return keyed_hash(key, f"subject:{subject}")


class PlatformSecret(SQLModel, table=True):
    """Secrets generated on first start and shared by every hub process through the database."""

    __tablename__ = "platform_secret"

    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=128)


async def platform_key(database: Database, configured: SecretStr | None) -> bytes:
    """The platform key: from settings if given, else created once and kept in the database."""
    if configured is not None:
        return configured.get_secret_value().encode()
    async with database.sessions() as session:
        row = await session.get(PlatformSecret, "platform_key")
        if row is None:
            session.add(PlatformSecret(name="platform_key", value=secrets.token_hex(32)))
            try:
                await session.commit()
            except IntegrityError:  # another hub created it first
                await session.rollback()
            row = await session.get(PlatformSecret, "platform_key")
        assert row is not None
        return row.value.encode()
