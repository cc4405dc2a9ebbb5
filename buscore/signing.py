"""Signed bus messages: every message names its signer and carries an Ed25519 signature over its statement.

No secret travels on the bus. A system signs with a key pair derived from its API key (the hub stores only
the public half, computed when it issues the key); the hub and the NGSP sign with their own platform keys.
A receiver checks the signature against the key of the party the message claims to come from, so a stolen
session id, a message written straight into an inbox or a forged NGSP answer is refused.

The statement is what is signed, and what an auditor can verify later without personal data: the
message's JSON object without its `signature`, with the fields that may carry personal data (BODY_FIELDS)
replaced by `body_sha256`, a hash of those fields and a random nonce (so the hash cannot be brute-forced
from a guessed citizen id). Canonical JSON: keys sorted, no whitespace, UTF-8
(docs/architecture/bus-identity.md).
"""

import base64
import binascii
import hashlib
import hmac
import json
import os
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import nacl.exceptions
import nacl.signing

from schemas.common import Link
from schemas.messages import (
    DossierReport,
    Heartbeat,
    Hello,
    Message,
    NgspAck,
    NgspProbeRequest,
    NgspProbeResult,
    NgspServiceResult,
    Probe,
    ProbeReply,
    ServiceRequest,
    ServiceResponse,
    SessionReset,
    Signature,
)

#: Separates statements of this protocol from anything else a key might sign.
DOMAIN = b"lgsp.bus.v1\n"
#: Fields that may carry personal data: signed through their hash only.
BODY_FIELDS = ("payload", "fault", "subject", "applicant", "components", "outputs")
#: Owners of the platform keys; system codes cannot start with "@".
HUB = "@hub"
NGSP = "@ngsp"
NONCE_BYTES = 16
#: What the header of a statement leaves out: the hashed body and the signature itself.
_NOT_HEADER = frozenset((*BODY_FIELDS, "signature"))
# Encoders made once: json.dumps with options builds a new encoder on every call, and every message on
# the bus is encoded three times by its signer and twice by each receiver (docs/performance.md).
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
_WIRE = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)


def canonical(value: Any) -> bytes:
    """The canonical JSON bytes of a value: keys sorted, no whitespace, UTF-8, no NaN."""
    return _CANONICAL.encode(value).encode()


def statement(document: Mapping[str, Any], nonce: bytes) -> bytes:
    """The signed statement of a message's JSON object (without its signature), nonce given."""
    header = {name: value for name, value in document.items() if name not in _NOT_HEADER}
    body = {name: document[name] for name in BODY_FIELDS if name in document}
    body["nonce"] = base64.b64encode(nonce).decode()
    header["body_sha256"] = hashlib.sha256(canonical(body)).hexdigest()
    return canonical(header)


def fingerprint(public_key: bytes) -> str:
    """A short stable name of a public key."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def derive_seed(secret: bytes, label: str) -> bytes:
    """A 32-byte Ed25519 seed derived from a secret under a label (one secret, several keys)."""
    return hmac.digest(secret, label.encode(), "sha256")


def api_key_lookup(api_key: str) -> str | None:
    """The public lookup part of an API key `lgsp_<lookup>_<secret>`: the id of the key pair it derives."""
    parts = api_key.split("_", 2)
    if len(parts) != 3 or parts[0] != "lgsp" or len(parts[1]) != 12:
        return None
    return parts[1]


@dataclass(frozen=True, slots=True)
class Signer:
    """A party that signs what it sends: `owner` is a system code, HUB or NGSP; `kid` names the key."""

    owner: str
    kid: str
    key: nacl.signing.SigningKey

    @classmethod
    def platform(cls, owner: str, seed: bytes) -> "Signer":
        """The hub's or the NGSP's signer from its 32-byte seed; the key id is `owner:fingerprint`."""
        key = nacl.signing.SigningKey(seed)
        return cls(owner, f"{owner}:{fingerprint(bytes(key.verify_key))}", key)

    @classmethod
    def for_system(cls, system: str, api_key: str) -> "Signer":
        """A system's signer, derived from its API key; the key id is the key's public lookup part."""
        lookup = api_key_lookup(api_key)
        if lookup is None:
            raise ValueError("not an API key issued by the hub (lgsp_<lookup>_<secret>)")
        return cls(system, lookup, nacl.signing.SigningKey(system_seed(api_key)))

    @property
    def public_key(self) -> bytes:
        """The 32-byte public key receivers verify with."""
        return bytes(self.key.verify_key)

    def sign(self, document: dict[str, Any]) -> dict[str, Any]:
        """`document` (a message's JSON object) with its signature added."""
        nonce = os.urandom(NONCE_BYTES)
        value = self.key.sign(DOMAIN + statement(document, nonce)).signature
        document["signature"] = {
            "signer": self.kid,
            "nonce": base64.b64encode(nonce).decode(),
            "value": base64.b64encode(value).decode(),
        }
        return document

    def seal(self, message: Message) -> bytes:
        """The wire bytes of `message`, signed."""
        document = message.model_dump(mode="json", exclude={"signature"})
        return _WIRE.encode(self.sign(document)).encode()

    def seal_json(self, raw: bytes) -> bytes:
        """Wire bytes of a message already serialised (unsigned), signed."""
        document = json.loads(raw)
        document.pop("signature", None)
        return _WIRE.encode(self.sign(document)).encode()


def system_seed(api_key: str) -> bytes:
    """The Ed25519 seed of a system's bus key pair, derived from its API key."""
    return derive_seed(api_key.encode(), "lgsp.bus.system.v1")


def system_public_key(api_key: str) -> bytes:
    """The public key of the key pair a system derives from `api_key` (computed by the hub at issuance)."""
    return bytes(nacl.signing.SigningKey(system_seed(api_key)).verify_key)


def b64(raw: bytes) -> str:
    """Standard base64 text."""
    return base64.b64encode(raw).decode()


def unb64(text: str) -> bytes | None:
    """Bytes of standard base64 text, or None if it is not."""
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return None


def signed_statement(raw: bytes, signature: Signature) -> bytes | None:
    """The statement the sender of `raw` signed (given its decoded signature), or None if unreadable."""
    nonce = unb64(signature.nonce)
    if nonce is None:
        return None
    try:
        document = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(document, dict):
        return None
    document.pop("signature", None)
    try:
        return statement(document, nonce)
    except ValueError:  # NaN in a payload, which the model refused already
        return None


@dataclass(frozen=True, slots=True)
class SignerKey:
    """A public key a receiver knows: whose it is and whether it still counts."""

    kid: str
    owner: str
    public_key: bytes
    revoked: bool = False

    def verifies(self, statement_bytes: bytes, signature: Signature | str) -> bool:
        """Whether `signature` (a message's, or the base64 of one as evidence keeps it) is this key's
        signature of `statement_bytes`."""
        value = unb64(signature if isinstance(signature, str) else signature.value)
        if value is None or len(value) != 64:
            return False
        try:
            nacl.signing.VerifyKey(self.public_key).verify(DOMAIN + statement_bytes, value)
        except (nacl.exceptions.BadSignatureError, nacl.exceptions.ValueError, TypeError):
            return False
        return True


def check(message: Message, statement_bytes: bytes | None, key: SignerKey | None, sender: str) -> str | None:
    """Why `message` is not authentic as coming from `sender`, or None if it is.

    Reasons (dead-letter reasons and metric labels): unsigned, unknown_signer, revoked_key, wrong_signer,
    bad_signature.
    """
    signature = message.signature
    if signature is None or statement_bytes is None:
        return "unsigned"
    if key is None or key.kid != signature.signer:
        return "unknown_signer"
    if key.owner != sender:
        return "wrong_signer"
    if key.revoked:
        return "revoked_key"
    if not key.verifies(statement_bytes, signature):
        return "bad_signature"
    return None


class Trust:
    """The platform keys a connector trusts (the hub's and the NGSP's): its trust anchor.

    Written as text `@hub:<base64 public key>,@ngsp:<base64 public key>` (more than one key per owner
    while a key is rotated), as the hub's `GET /api/v1/bus/trust` and a system's registration give it.
    """

    def __init__(self, keys: Iterable[SignerKey]) -> None:
        self.keys = {key.kid: key for key in keys}

    @classmethod
    def parse(cls, anchor: str) -> "Trust":
        """The trust anchor written as text; ValueError says what is wrong with it."""
        keys: list[SignerKey] = []
        for part in filter(None, (p.strip() for p in anchor.split(","))):
            owner, _, encoded = part.partition(":")
            public = unb64(encoded)
            if owner not in (HUB, NGSP) or public is None or len(public) != 32:
                raise ValueError(f"not a trust anchor entry (@hub:<base64 key> or @ngsp:...): {part[:60]!r}")
            keys.append(SignerKey(f"{owner}:{fingerprint(public)}", owner, public))
        if not any(key.owner == HUB for key in keys):
            raise ValueError("a trust anchor needs the hub's key (@hub:<base64 key>)")
        return cls(keys)

    @classmethod
    def of(cls, *signers: Signer | SignerKey) -> "Trust":
        """The trust of these platform signers or keys."""
        return cls(
            s if isinstance(s, SignerKey) else SignerKey(s.kid, s.owner, s.public_key) for s in signers
        )

    def anchor(self) -> str:
        """The trust written as text."""
        return ",".join(f"{key.owner}:{b64(key.public_key)}" for key in self.keys.values())

    def key(self, kid: str) -> SignerKey | None:
        """The trusted key named `kid`."""
        return self.keys.get(kid)


def sender_of(message: Message) -> str:
    """The party that must have signed `message`: the system it comes from, HUB or NGSP."""
    if isinstance(message, Hello | Heartbeat | ProbeReply):
        return message.system
    if isinstance(message, ServiceRequest):
        return message.client
    if isinstance(message, ServiceResponse):
        return message.provider
    if isinstance(message, DossierReport):
        return message.office
    if isinstance(message, NgspAck | NgspProbeResult | NgspServiceResult):
        return NGSP
    if isinstance(message, Probe):
        return NGSP if message.via == Link.NGSP else HUB
    return HUB  # service calls and results, session resets, NGSP requests, dead letters


#: Messages that only mean something now (liveness, probes): refused once older than the replay window.
#: The others are durable (requests, answers, dossiers, registrations): their receivers are idempotent by
#: id, so one replayed after the window changes nothing, and a backlog after an outage still counts.
EPHEMERAL = (Hello, Heartbeat, ProbeReply, Probe, SessionReset, NgspProbeRequest, NgspProbeResult)


class ReplayGuard:
    """Message ids seen within the replay window, with where each was first seen.

    A record redelivered from the same position (Kafka's at-least-once) is not a replay; the same
    message id at another position is.
    """

    def __init__(self, window: float) -> None:
        self.window = window
        # Ids are kept as integers: the window holds every id of the last `window` seconds (240,000 at
        # 2,000 records a second), and UUID objects, with the tuples holding them, are tracked by the
        # garbage collector, so each full collection walked them all (about 100 ms of a held event
        # loop); integers, and tuples of integers, strings and floats, are not tracked.
        self._seen: dict[int, tuple[Any, float]] = {}
        self._order: list[tuple[float, int]] = []
        self._start = 0

    def first(self, message_id: UUID, position: Any, now: float) -> bool:
        """Remember `message_id` at `position` (at time `now`, seconds); False if seen elsewhere.
        `position` should hold only numbers and strings, so the collector need not track it either."""
        self._expire(now)
        key = message_id.int
        seen = self._seen.get(key)
        if seen is not None:
            return bool(seen[0] == position)
        self._seen[key] = (position, now)
        self._order.append((now, key))
        return True

    def _expire(self, now: float) -> None:
        order, start = self._order, self._start
        while start < len(order) and order[start][0] < now - self.window:
            self._seen.pop(order[start][1], None)
            start += 1
        if start > 4096 and start * 2 > len(order):  # compact now and then, not on every call
            del order[:start]
            start = 0
        self._start = start


def freshness(message: Message, now: float, window: float, skew: float) -> str | None:
    """`stale` if `message` was sent too long ago to mean anything (EPHEMERAL ones, beyond `window`
    seconds) or claims to come from the future (beyond `skew`); else None. `now` is a POSIX time."""
    age = now - message.sent_at.timestamp()
    if age < -skew or (isinstance(message, EPHEMERAL) and age > window):
        return "stale"
    return None
