"""A stub identity provider, standing in for VNeID: it signs a citizen's token for the data tracker.

Written apart from the hub's checking code (lgsp/tracker/identity.py), as a real provider would be: a
compact JWS (RFC 7515) signed with Ed25519 (`alg` EdDSA, RFC 8037), with `sub` the personal id and `iss`,
`aud`, `iat`, `exp`. The sandbox derives the provider's key from the platform secret so the demo, its hub
and `lgsp citizen-token` agree without another secret to pass around; a real provider's key is its own,
and the hub holds only its public half (LGSP_CITIZEN_ISSUER_KEY).
"""

import base64
import json
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from nacl.signing import SigningKey

from buscore.signing import derive_seed
from lgsp.settings import Settings

#: What the sandbox's provider key is derived for (one label per use of the platform secret).
ISSUER_LABEL = "lgsp.sandbox.identity-provider.v1"
#: How long a token minted by the stub is good for, by default: a sign-in session.
TOKEN_LIFETIME = 3600


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _part(value: dict[str, object]) -> str:
    return _b64url(json.dumps(value, separators=(",", ":")).encode())


@dataclass(frozen=True)
class StubIdentityProvider:
    """A provider named `issuer` signing with `key`."""

    key: SigningKey
    issuer: str

    @classmethod
    def from_secret(cls, secret: str, issuer: str) -> "StubIdentityProvider":
        """The sandbox's provider for a platform secret (the same secret, the same provider)."""
        return cls(SigningKey(derive_seed(secret.encode(), ISSUER_LABEL)), issuer)

    @property
    def public_key(self) -> str:
        """The public key a hub is configured with (base64): LGSP_CITIZEN_ISSUER_KEY."""
        return base64.b64encode(bytes(self.key.verify_key)).decode()

    def mint(
        self, personal_id: str, audience: str, *, lifetime: int = TOKEN_LIFETIME, now: float | None = None
    ) -> str:
        """A token saying the bearer is `personal_id`, for `audience`, issued `now` (epoch seconds) and
        good for `lifetime` seconds."""
        issued = int(time.time() if now is None else now)
        header = _part({"alg": "EdDSA", "typ": "JWT"})
        claims = _part(
            {"iss": self.issuer, "aud": audience, "sub": personal_id, "iat": issued, "exp": issued + lifetime}
        )
        signature = self.key.sign(f"{header}.{claims}".encode()).signature
        return f"{header}.{claims}.{_b64url(signature)}"


def stub_provider(settings: Settings) -> StubIdentityProvider:
    """The sandbox's provider for a hub's settings (their platform secret and `citizen_issuer`)."""
    if settings.secret_key is None:
        raise ValueError("the sandbox's identity provider derives its key from LGSP_SECRET_KEY: set it")
    return StubIdentityProvider.from_secret(settings.secret_key.get_secret_value(), settings.citizen_issuer)


def citizen_page(settings: Settings, url: str, people: Iterable[str]) -> str | None:
    """A link that opens the hub's /me signed in as the first of `people` with a personal id (a tax code
    is no person), the token in the fragment, which no server sees; None if there is none."""
    personal_id = next((p for p in people if re.fullmatch(r"[0-9]{12}", p)), None)
    if personal_id is None:
        return None
    return f"{url}/me#token={stub_provider(settings).mint(personal_id, settings.citizen_audience)}"
