"""Signed bus messages in tests (buscore/signing.py): the signers of registered systems and of the platform
as a test's settings derive them, made-up signers for unit tests without a registry, a key source over
known keys, and records decoded and checked the way a receiver does.

Every receiver refuses what is not signed by the party it claims to come from, so a test that writes to
the bus by hand signs with `seal` what must be accepted, and uses `encode` (unsigned) only for what must
be refused."""

import hashlib
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, TypeVar

from buscore.signing import HUB, NGSP, Signer, SignerKey, check, sender_of, signed_statement
from lgsp.bus import Delivery
from lgsp.bus.authentication import Authenticator
from lgsp.security import hub_signer, ngsp_signer
from lgsp.settings import Settings
from schemas.common import utcnow
from schemas.messages import Codec, Message

M = TypeVar("M", bound=Message)


def system_signer(system: Mapping[str, Any]) -> Signer:
    """The signer of a system registered through the API (`make_system`'s answer): its code and API key."""
    return Signer.for_system(str(system["code"]), str(system["api_key"]))


def hub_signer_of(settings: Settings) -> Signer:
    """The hub's signer as a hub running with `settings` derives it (from its configured secret key)."""
    assert settings.secret_key is not None, "tests give the hub a secret key (fast_settings)"
    return hub_signer(settings, settings.secret_key.get_secret_value().encode())


def ngsp_signer_of(settings: Settings) -> Signer:
    """The NGSP stub's signer as one running with `settings` derives it; the hub trusts it."""
    return ngsp_signer(settings)


def made_up_api_key(label: str) -> str:
    """An API key of the shape the hub issues, derived from `label`, that no hub issued."""
    digest = hashlib.sha256(label.encode()).hexdigest()
    return f"lgsp_{digest[:12]}_{digest[12:55]}"


def made_up_signer(owner: str) -> Signer:
    """A stable signer for `owner` (a system code, HUB or NGSP), for tests without a registry."""
    if owner in (HUB, NGSP):
        return Signer.platform(owner, hashlib.sha256(f"test-platform {owner}".encode()).digest())
    return Signer.for_system(owner, made_up_api_key(owner))


def key_of(signer: Signer, *, revoked: bool = False) -> SignerKey:
    """The public key a receiver knows `signer` by."""
    return SignerKey(signer.kid, signer.owner, signer.public_key, revoked)


class KnownKeys:
    """A KeySource (lgsp.bus.authentication) over a fixed set of keys: a receiver without a registry."""

    def __init__(self, keys: Sequence[SignerKey]) -> None:
        self.known = {key.kid: key for key in keys}

    async def keys(self, kids: set[str]) -> Mapping[str, SignerKey]:
        """The keys named `kids` that are known."""
        return {kid: self.known[kid] for kid in kids if kid in self.known}


def authenticator(*signers: Signer, window: float = 120.0, skew: float = 30.0) -> Authenticator:
    """The authentication a hub's workers run, knowing the keys of `signers` only."""
    return Authenticator(KnownKeys([key_of(s) for s in signers]), window, skew)


def delivered(
    codec: Codec[M],
    raw: bytes,
    at: datetime | None = None,
    *,
    topic: str = "unit",
    partition: int = 0,
    offset: int = 0,
) -> Delivery[M]:
    """A record as a worker hands it on: decoded, with the statement its signer signed (if signed)."""
    message = codec.decode(raw)
    signature = message.signature
    statement = signed_statement(raw, signature) if signature is not None else None
    return Delivery(message, topic, partition, offset, at or utcnow(), len(raw), statement)


def refusal(codec: Codec[Any], raw: bytes, *keys: SignerKey) -> str | None:
    """Why a receiver knowing `keys` refuses `raw` for its signature (buscore.signing.check), or None if
    it is signed by the party it claims to come from."""
    message = codec.decode(raw)
    signature = message.signature
    statement = signed_statement(raw, signature) if signature is not None else None
    known = {key.kid: key for key in keys}
    key = known.get(signature.signer) if signature is not None else None
    return check(message, statement, key, sender_of(message))


def unsigned(message: M) -> M:
    """`message` without its signature: what was signed, as a receiver compares it."""
    return message.model_copy(update={"signature": None})
