"""The hub application running in-process for a test, with settings tuned for fast tests."""

import contextlib
import secrets
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import SecretStr

from lgsp.app import create_app
from lgsp.settings import Settings

ADMIN_TOKEN = "test-admin-token-0123456789"


def fast_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Settings with short intervals so connectivity changes show within a few seconds.

    The freshness limits leave room for a loaded CI machine: the tests run hub, connectors and load in
    one process, and a starved event loop must not make a connected system look disconnected.
    """
    values: dict[str, Any] = {
        "database_url": database_url,
        "ngsp_database_url": f"sqlite+aiosqlite:///{tmp_path / 'ngsp.db'}",
        "topic_prefix": f"t{uuid.uuid4().hex[:10]}",
        "admin_token": SecretStr(ADMIN_TOKEN),
        # Hub and NGSP stub derive their bus keys from it, as in a sandbox.
        "secret_key": SecretStr(secrets.token_hex(32)),
        "heartbeat_interval": 0.3,
        "heartbeat_ttl": 2.5,
        "probe_interval": 0.4,
        "probe_ttl": 2.5,
        "probe_timeout": 1.5,
        "evaluate_interval": 0.2,
        "connectivity_partitions": 2,
        "consumer_session_timeout_ms": 2000,
        # Every test client calls from one address (127.0.0.1, the ASGI test client's), many times a
        # second and with bad keys on purpose: the per-address limits are tested with their defaults in
        # tests/api/test_address_limits.py, and out of every other test's way here.
        "public_rate_per_address": 1_000_000.0,
        "auth_failures_per_address": 1_000_000,
    }
    return Settings(**(values | overrides))


@dataclass
class Hub:
    """A running hub application and an admin HTTP client talking to it in-process."""

    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings

    def as_key(self, key: str) -> dict[str, str]:
        """Headers that authenticate with `key` instead of the admin token."""
        return {"Authorization": f"Bearer {key}"}


@contextlib.asynccontextmanager
async def running_hub(settings: Settings, bootstrap: str) -> AsyncIterator[Hub]:
    """The hub application running in-process on `bootstrap`, with an admin client."""
    app = create_app(settings, bootstrap)
    async with LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager:
        transport = httpx.ASGITransport(app=manager.app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://hub", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as client:
            yield Hub(app, client, settings)
