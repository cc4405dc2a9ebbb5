"""Secrets: API keys (shown once, stored hashed), the platform keys (hashes of personal ids, probe
tokens) and the bus keys derived from them."""

import base64
import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass

from pydantic import SecretStr
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
    """HMAC-SHA256 of a value, in hex."""
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()


#: What each key derived from the platform secret is for: one key per use, so a value keyed for one use
#: (a probe token) can never stand for another (a subject's hash), and the secret itself keys nothing.
SUBJECT_LABEL = "lgsp.subject.v2"
PROBE_LABEL = "lgsp.probe.v1"
KEY_ID_LABEL = "lgsp.key-id.v1"
#: A subject's hash is stored as `<key id>.<hash>`: 8 + 1 + 55 hex digits (220 bits), the 64 characters
#: the columns always had. A hash of 64 hex digits and no dot is of the first version (LEGACY): HMAC of
#: `subject:<id>` under the secret itself.
KEY_ID_CHARS = 8
SUBJECT_HASH_CHARS = 64 - KEY_ID_CHARS - 1
LEGACY = "legacy"


class MissingSecretKey(RuntimeError):
    """The hub was started without a platform secret."""


@dataclass(frozen=True, slots=True)
class PlatformKey:
    """One platform secret and the keys derived from it."""

    secret: bytes
    id: str
    subjects: bytes
    probes: bytes

    @classmethod
    def of(cls, secret: str) -> "PlatformKey":
        """The platform key of `secret` (as LGSP_SECRET_KEY gives it)."""
        raw = secret.encode()
        return cls(
            secret=raw,
            id=derive_seed(raw, KEY_ID_LABEL).hex()[:KEY_ID_CHARS],
            subjects=derive_seed(raw, SUBJECT_LABEL),
            probes=derive_seed(raw, PROBE_LABEL),
        )

    def subject_hash(self, subject: str) -> str:
        """`subject`'s hash under this key, tagged with the key's id."""
        return f"{self.id}.{keyed_hash(self.subjects, subject)[:SUBJECT_HASH_CHARS]}"

    def legacy_subject_hash(self, subject: str) -> str:
        """`subject`'s hash as the first version stored it (no tag, keyed by the secret itself)."""
        return keyed_hash(self.secret, f"subject:{subject}")


@dataclass(frozen=True, slots=True)
class PlatformKeys:
    """The current platform key, which keys everything new, and the rotated-out ones, still used to
    recognise what was stored under them (docs/operators/secret-key.md)."""

    current: PlatformKey
    previous: tuple[PlatformKey, ...] = ()

    @classmethod
    def from_settings(cls, settings: Settings) -> "PlatformKeys":
        """The keys of LGSP_SECRET_KEY and LGSP_SECRET_KEYS_PREVIOUS; MissingSecretKey without the first."""
        if settings.secret_key is None:
            raise MissingSecretKey(
                "LGSP_SECRET_KEY is not set. The hub keys every stored hash of a personal id with it, so it"
                " must come from the environment or a file (lgsp_secret_key in LGSP_SECRETS_DIR), never"
                " from the database it protects. Make one with `lgsp secret-key new`; a database run by an"
                " earlier version, which kept a generated key in it, has it printed by"
                " `lgsp secret-key export-stored` (docs/operators/secret-key.md)."
            )
        current = PlatformKey.of(settings.secret_key.get_secret_value())
        return cls(current, tuple(PlatformKey.of(k) for k in settings.previous_secret_keys()))

    @classmethod
    def of(cls, secret: str) -> "PlatformKeys":
        """Keys with `secret` as the only one (tests and tools)."""
        return cls(PlatformKey.of(secret))

    @property
    def all(self) -> tuple[PlatformKey, ...]:
        """The current key, then the previous ones."""
        return (self.current, *self.previous)

    @property
    def secret(self) -> bytes:
        """The current secret, which the bus keys are derived from when not configured."""
        return self.current.secret

    def subject_hash(self, subject: str) -> str:
        """The hash a personal id or tax code is stored as now, the same in every table."""
        return self.current.subject_hash(subject)

    def subject_hashes(self, subject: str) -> list[str]:
        """Every hash `subject` may have been stored as: under each key, tagged, then untagged (legacy)."""
        return [k.subject_hash(subject) for k in self.all] + [
            k.legacy_subject_hash(subject) for k in self.all
        ]

    def index(self, subjects: Iterable[str]) -> "SubjectIndex":
        """The hashes of `subjects`, current and stored, to look a batch up in one query."""
        return SubjectIndex(self, subjects)

    def probe_token(self, text: str) -> str:
        """The token a probe described by `text` carries."""
        return keyed_hash(self.current.probes, text)[:32]

    def probe_token_matches(self, text: str, token: str) -> bool:
        """Whether `token` is `text`'s probe token under any key, so a rotation fails no probe in flight.
        Every key is compared, each in constant time."""
        matches = [same_secret(keyed_hash(k.probes, text)[:32], token) for k in self.all]
        return any(matches)

    def version(self, stored: str) -> str:
        """The id of the key a stored hash was made with, LEGACY for an untagged one."""
        tag, dot, _ = stored.partition(".")
        return tag if dot else LEGACY


class SubjectIndex:
    """The hashes of a batch's subjects: the one each is stored under now, and every one it may have
    been stored under, each mapped back to the current, so rows found under an older key match."""

    def __init__(self, keys: PlatformKeys, subjects: Iterable[str]) -> None:
        self._current: dict[str, str] = {}
        self._canonical: dict[str, str] = {}
        for subject in subjects:
            if subject in self._current:
                continue
            hashes = keys.subject_hashes(subject)
            self._current[subject] = hashes[0]
            self._canonical.update(dict.fromkeys(hashes, hashes[0]))

    def of(self, subject: str) -> str:
        """`subject`'s current hash (it must be one the index was made with)."""
        return self._current[subject]

    def stored(self) -> set[str]:
        """Every hash the subjects may be stored under: what a lookup asks for."""
        return set(self._canonical)

    def canonical(self, stored: str) -> str:
        """The current hash of the subject whose stored hash is `stored`."""
        return self._canonical[stored]


class PlatformSecret(SQLModel, table=True):
    """The platform secret earlier versions generated on first start and kept here (read only by
    `stored_secret`, to move it out)."""

    __tablename__ = "platform_secret"

    name: str = Field(primary_key=True, max_length=64)
    value: str = Field(max_length=128)


async def stored_secret(database: Database) -> str | None:
    """The platform secret an earlier version generated and kept in the database, if there is one.

    Only `lgsp secret-key export-stored` reads it, so an operator can move it out to a file: the hub
    no longer uses a key kept beside the hashes it protects."""
    async with database.sessions() as session:
        row = await session.get(PlatformSecret, "platform_key")
        return None if row is None else row.value


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
