"""The settings of citizens' sign-in: whose tokens the hub believes when a person asks what was read
about them (the data tracker, docs/citizens/data-tracker.md).

Kept with the tracker, apart from the rest of `lgsp.settings` (whose `Settings` inherits them; so this
module is of the lowest layer and imports nothing of the hub). The hub holds only the identity provider's
public key: it can check a citizen's token, never make one."""

import base64
import binascii

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings

#: An Ed25519 public key is 32 bytes.
PUBLIC_KEY_BYTES = 32


class IdentitySettings(BaseSettings):
    """The identity provider (VNeID, or the sandbox's stub) citizens sign in with."""

    citizen_issuer_key: str | None = Field(
        default=None,
        description="The identity provider's Ed25519 public key (base64) that citizens' tokens are signed"
        " with; unset: nobody can sign in to /me (its API answers 503)",
    )
    citizen_issuer: str = Field(
        default="https://vneid.sandbox.invalid",
        min_length=1,
        max_length=200,
        description="The `iss` a citizen's token must carry: the identity provider's name for itself",
    )
    citizen_audience: str = Field(
        default="lgsp-data-tracker",
        min_length=1,
        max_length=200,
        description="The `aud` a citizen's token must carry: this hub's name at the identity provider",
    )
    citizen_token_leeway: float = Field(
        default=30.0,
        ge=0,
        le=300,
        description="Seconds of clock difference allowed with the identity provider (`exp`, `iat`)",
    )

    @field_validator("citizen_issuer_key")
    @classmethod
    def _a_public_key(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            raw = base64.b64decode(value.strip(), validate=True)
        except (binascii.Error, ValueError):
            raise ValueError("citizen_issuer_key is not base64") from None
        if len(raw) != PUBLIC_KEY_BYTES:
            raise ValueError(f"citizen_issuer_key must be {PUBLIC_KEY_BYTES} bytes (an Ed25519 public key)")
        return value.strip()

    def citizen_issuer_key_bytes(self) -> bytes | None:
        """The identity provider's public key, or None when none is configured."""
        return None if self.citizen_issuer_key is None else base64.b64decode(self.citizen_issuer_key)
