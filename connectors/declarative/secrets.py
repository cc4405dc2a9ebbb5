"""Resolving a config's secret references when a source starts (the config itself holds none)."""

import os
from collections.abc import Mapping
from pathlib import Path

from connectors.declarative.config import ENV_REFERENCE, FromEnv, FromFile, Secret


class SourceError(Exception):
    """A source that cannot start: a secret that is not there, an unreachable database or API."""


def resolve(secret: Secret, base: Path, environ: Mapping[str, str] | None = None) -> str:
    """The value of `secret`; a file path is relative to `base` (the config's directory)."""
    env = os.environ if environ is None else environ
    if isinstance(secret, FromEnv):
        if secret.env not in env:
            raise SourceError(f"the environment variable {secret.env} is not set")
        return env[secret.env]
    assert isinstance(secret, FromFile)
    path = base / secret.file
    try:
        # Read once at start, before the event loop has anything else to do: a blocking read is fine.
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise SourceError(f"cannot read the secret file {path}: {exc.__class__.__name__}") from None


def interpolate(text: str, environ: Mapping[str, str] | None = None) -> str:
    """`text` with each `${NAME}` replaced by that environment variable; SourceError if one is unset."""
    env = os.environ if environ is None else environ
    missing = sorted({name for name in ENV_REFERENCE.findall(text) if name not in env})
    if missing:
        raise SourceError(f"the environment variable {', '.join(missing)} is not set")
    return ENV_REFERENCE.sub(lambda match: env[match.group(1)], text)
