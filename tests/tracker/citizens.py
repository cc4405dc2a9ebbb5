"""The identity provider the tracker tests' hubs believe, one they do not, and signing citizens in."""

from nacl.signing import SigningKey

from sandbox.identity import StubIdentityProvider

ISSUER = "https://vneid.test.invalid"
AUDIENCE = "lgsp-data-tracker"
PROVIDER = StubIdentityProvider(SigningKey.generate(), ISSUER)
FORGER = StubIdentityProvider(SigningKey.generate(), ISSUER)  # same name, another key


def signed_in(
    personal_id: str,
    provider: StubIdentityProvider = PROVIDER,
    *,
    audience: str = AUDIENCE,
    lifetime: int = 3600,
    now: float | None = None,
) -> dict[str, str]:
    """The headers of a citizen signed in as `personal_id` by `provider`."""
    token = provider.mint(personal_id, audience, lifetime=lifetime, now=now)
    return {"Authorization": f"Bearer {token}"}
