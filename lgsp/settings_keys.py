"""The settings that are keys and tokens: the admin token, the platform secret and the bus keys.

Kept apart from the rest of `lgsp.settings` (whose `Settings` inherits them) so what guards the
platform reads in one place. Every one of them may come from the environment or, as Compose and
Kubernetes mount secrets, from a file in LGSP_SECRETS_DIR."""

import base64
import hmac

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings

MIN_ADMIN_TOKEN_LENGTH = 16
#: The platform secret keys every keyed hash of a personal id: a short one could be searched for.
MIN_SECRET_KEY_LENGTH = 32
_TRIMMED = ("admin_token", "admin_token_previous", "secret_key", "secret_keys_previous")
_MAKE_ONE = "python -c 'import secrets; print(secrets.token_urlsafe(32))'"


def _too_short(what: str, length: int) -> str:
    return f"{what} needs at least {length} characters; make one with {_MAKE_ONE}"


class KeySettings(BaseSettings):
    """Admin tokens, the platform secret (current and previous) and the bus's Ed25519 keys."""

    admin_token: SecretStr | None = Field(default=None, description="Bootstrap admin bearer token")
    admin_token_previous: SecretStr | None = Field(
        default=None,
        description="The admin token being rotated out: accepted until unset (docs/operators/running.md)",
    )
    secret_key: SecretStr | None = Field(
        default=None,
        description="The platform secret (32 characters at least): keys the hashes of personal ids and the"
        " probe tokens. Required by the hub and the NGSP stub, from the environment or a file in"
        " LGSP_SECRETS_DIR; only `lgsp demo` makes one up (docs/operators/secret-key.md)",
    )
    secret_keys_previous: SecretStr | None = Field(
        default=None,
        description="Platform secrets rotated out, comma-separated: ids hashed under them still match"
        " (docs/operators/secret-key.md)",
    )
    bus_signing_key: SecretStr | None = Field(
        default=None,
        description="The hub's Ed25519 signing seed (64 hex digits) for what it sends on the bus;"
        " unset: derived from the secret key",
    )
    ngsp_verify_key: str | None = Field(
        default=None,
        description="The NGSP's Ed25519 public key (base64), which its messages must be signed with;"
        " unset: derived from the secret key, as the sandbox's NGSP stub does",
    )
    ngsp_signing_key: SecretStr | None = Field(
        default=None,
        description="The NGSP stub's signing seed (64 hex digits); unset: derived from the secret key",
    )
    hub_verify_key: str | None = Field(
        default=None,
        description="The hub's public key (base64) the NGSP stub trusts; unset: derived from the secret key",
    )

    @field_validator("bus_signing_key", "ngsp_signing_key")
    @classmethod
    def _seed_is_32_bytes(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None:
            text = value.get_secret_value().strip()
            if len(text) != 64 or any(c not in "0123456789abcdefABCDEF" for c in text):
                raise ValueError("must be 64 hex digits (a 32-byte Ed25519 seed)")
        return value

    @field_validator("ngsp_verify_key", "hub_verify_key")
    @classmethod
    def _public_key_is_32_bytes(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                raw = base64.b64decode(value, validate=True)
            except ValueError:
                raw = b""
            if len(raw) != 32:
                raise ValueError("must be the base64 of a 32-byte Ed25519 public key")
        return value

    @field_validator(
        "admin_token", "admin_token_previous", "secret_key", "secret_keys_previous", mode="before"
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        # `LGSP_ADMIN_TOKEN_PREVIOUS=` in a .env is how people "remove" it at the end of a rotation; a
        # file mounted from a secret usually ends with a newline.
        if isinstance(value, str):
            return value.strip() or None
        return value

    @field_validator("admin_token", "admin_token_previous")
    @classmethod
    def _token_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        # The token is the master key of the registry: a short one can be guessed.
        if value is not None and len(value.get_secret_value()) < MIN_ADMIN_TOKEN_LENGTH:
            raise ValueError(_too_short("an admin token", MIN_ADMIN_TOKEN_LENGTH))
        return value

    @field_validator("secret_key")
    @classmethod
    def _secret_long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < MIN_SECRET_KEY_LENGTH:
            raise ValueError(_too_short("the secret key", MIN_SECRET_KEY_LENGTH))
        return value

    @model_validator(mode="after")
    def _admin_tokens_make_sense(self) -> "KeySettings":
        previous = self.admin_token_previous
        if previous is not None:
            if self.admin_token is None:
                raise ValueError("admin_token_previous is only accepted next to a new admin_token")
            if previous.get_secret_value() == self.admin_token.get_secret_value():
                raise ValueError("admin_token_previous must differ from admin_token")
        return self

    @model_validator(mode="after")
    def _previous_secrets_make_sense(self) -> "KeySettings":
        previous = self.previous_secret_keys()
        if previous and self.secret_key is None:
            raise ValueError("secret_keys_previous is only accepted next to a new secret_key")
        if any(len(key) < MIN_SECRET_KEY_LENGTH for key in previous):
            raise ValueError(_too_short("each of secret_keys_previous", MIN_SECRET_KEY_LENGTH))
        if self.secret_key is not None and self.secret_key.get_secret_value() in previous:
            raise ValueError("secret_keys_previous must not hold the current secret_key")
        return self

    def previous_secret_keys(self) -> list[str]:
        """The rotated-out platform secrets, in the order given."""
        if self.secret_keys_previous is None:
            return []
        return [k.strip() for k in self.secret_keys_previous.get_secret_value().split(",") if k.strip()]

    def accepts_admin_token(self, token: str) -> bool:
        """Whether `token` is the bootstrap admin token, or the previous one during a rotation.

        Both candidates are always compared, each in constant time, so the answer's timing says neither
        which token matched nor how much of one did.
        """
        candidates = [t for t in (self.admin_token, self.admin_token_previous) if t is not None]
        given = token.encode()
        matches = [hmac.compare_digest(given, t.get_secret_value().encode()) for t in candidates]
        return any(matches)
