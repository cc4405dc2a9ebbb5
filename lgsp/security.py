"""Secrets: API keys (shown once, stored hashed), keyed hashes and probe tokens."""

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from pydantic import SecretStr
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, SQLModel

from buscore.signing import HUB, NGSP, Signer, SignerKey, derive_seed, fingerprint
from lgsp.db import Database
from lgsp.settings import Settings

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


def _platform_seed(configured: SecretStr | None, secret: bytes, owner: str) -> bytes:
    """A platform key's seed: as configured (hex), else derived from the secret under the owner's label."""
    if configured is not None:
        return bytes.fromhex(configured.get_secret_value().strip())
    return derive_seed(secret, f"lgsp.bus.{owner}.v1")


def _public(configured: str | None, seed: SecretStr | None, secret: bytes, owner: str) -> SignerKey:
    if configured is not None:
        public = base64.b64decode(configured)
    else:
        public = Signer.platform(owner, _platform_seed(seed, secret, owner)).public_key
    return SignerKey(f"{owner}:{fingerprint(public)}", owner, public)


def hub_signer(settings: Settings, secret: bytes) -> Signer:
    """The hub's bus signer: LGSP_BUS_SIGNING_KEY, else derived from the platform key `secret`."""
    return Signer.platform(HUB, _platform_seed(settings.bus_signing_key, secret, HUB))


def ngsp_key(settings: Settings, secret: bytes) -> SignerKey:
    """The NGSP's public key the hub trusts: LGSP_NGSP_VERIFY_KEY, else the one the NGSP stub derives
    from the same secret (a sandbox, where one organisation runs both)."""
    return _public(settings.ngsp_verify_key, settings.ngsp_signing_key, secret, NGSP)


def ngsp_signer(settings: Settings) -> Signer:
    """The NGSP stub's signer: LGSP_NGSP_SIGNING_KEY, else derived from LGSP_SECRET_KEY."""
    return Signer.platform(NGSP, _platform_seed(settings.ngsp_signing_key, _stub_secret(settings), NGSP))


def hub_key(settings: Settings) -> SignerKey:
    """The hub's public key the NGSP stub trusts: LGSP_HUB_VERIFY_KEY, else derived like the hub's."""
    return _public(settings.hub_verify_key, settings.bus_signing_key, _stub_secret(settings), HUB)


def _stub_secret(settings: Settings) -> bytes:
    if settings.secret_key is None:
        if settings.ngsp_signing_key is None or settings.hub_verify_key is None:
            raise ValueError(
                "the NGSP stub needs LGSP_SECRET_KEY (shared with the hub) or both LGSP_NGSP_SIGNING_KEY"
                " and LGSP_HUB_VERIFY_KEY"
            )
        return b""
    return settings.secret_key.get_secret_value().encode()
