"""Who a citizen is: the token their identity provider signed (VNeID; the sandbox's stub stands in for it).

The token is a compact JWS (RFC 7515) with an Ed25519 signature (`alg` EdDSA, RFC 8037): three base64url
parts, header, claims and signature, the signature over `header.claims` as sent. The claims the hub reads
are `sub` (the personal identification number, 12 digits), `iss`, `aud`, `iat` and `exp`. The hub checks
it with the provider's public key alone (LGSP_CITIZEN_ISSUER_KEY): it can check a token, never make one,
and it never takes a personal id from anything else a caller sends.
"""

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nacl.exceptions import BadSignatureError
from nacl.signing import VerifyKey

from lgsp.errors import Unauthenticated, Unavailable
from lgsp.tracker.settings import IdentitySettings

#: A token longer than this is nobody's: refused before any decoding.
MAX_TOKEN_CHARS = 4096
#: The personal identification number of the Law on Identification (12 digits).
PERSONAL_ID = re.compile(r"[0-9]{12}")
_PART = re.compile(r"[A-Za-z0-9_-]+")


@dataclass(frozen=True, slots=True)
class Citizen:
    """A person signed in: their personal id (the token's `sub`) and when their token expires."""

    personal_id: str
    expires_at: datetime


def _unb64url(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _json_part(part: str) -> dict[str, Any]:
    try:
        value = json.loads(_unb64url(part))
    except (binascii.Error, ValueError, RecursionError):  # RecursionError: nested deeper than json reads
        raise Unauthenticated("not a citizen token: a part is not base64url JSON") from None
    if not isinstance(value, dict):
        raise Unauthenticated("not a citizen token: a part is not a JSON object")
    return value


def _instant(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    # bool is an int to Python, never a time to a token.
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 2**40:
        raise Unauthenticated(f"the citizen token has no valid `{name}`")
    return float(value)


def verify_citizen_token(token: str, settings: IdentitySettings, now: datetime) -> Citizen:
    """The citizen `token` speaks for, checked against the identity provider's key at `now`.

    Raises Unauthenticated (401) for anything but a well-formed token the provider signed, for this hub
    (`aud`), from this provider (`iss`), already issued and not yet expired (both within
    LGSP_CITIZEN_TOKEN_LEEWAY); Unavailable (503) when no provider is configured.
    """
    parts = token.split(".")
    if len(token) > MAX_TOKEN_CHARS or len(parts) != 3 or not all(_PART.fullmatch(p) for p in parts):
        raise Unauthenticated("not a citizen token: expected header.claims.signature in base64url")
    header, claims = _json_part(parts[0]), _json_part(parts[1])
    # Only EdDSA: a token must never choose how it is checked ("none", or an HMAC keyed by a public key).
    if header.get("alg") != "EdDSA":
        raise Unauthenticated("the citizen token is not signed with EdDSA")
    key = settings.citizen_issuer_key_bytes()
    if key is None:
        raise Unavailable("citizen sign-in is not configured on this hub (LGSP_CITIZEN_ISSUER_KEY)")
    try:
        VerifyKey(key).verify(f"{parts[0]}.{parts[1]}".encode(), _unb64url(parts[2]))
    except (BadSignatureError, binascii.Error, ValueError):
        raise Unauthenticated("the citizen token is not signed by the identity provider") from None
    if claims.get("iss") != settings.citizen_issuer:
        raise Unauthenticated("the citizen token comes from another identity provider")
    audience = claims.get("aud")
    audiences = audience if isinstance(audience, list) else [audience]
    if settings.citizen_audience not in audiences:
        raise Unauthenticated("the citizen token is for another service")
    leeway, at = settings.citizen_token_leeway, now.timestamp()
    expires, issued = _instant(claims, "exp"), _instant(claims, "iat")
    if expires + leeway <= at:
        raise Unauthenticated("the citizen token has expired: sign in again")
    if issued - leeway > at:
        raise Unauthenticated("the citizen token is issued in the future")
    subject = claims.get("sub")
    if not isinstance(subject, str) or not PERSONAL_ID.fullmatch(subject):
        raise Unauthenticated("the citizen token names no personal identification number")
    return Citizen(subject, datetime.fromtimestamp(expires, UTC))
