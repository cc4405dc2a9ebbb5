"""Fixtures of the data tracker's tests: a hub that believes the stub identity provider, and the exchange
tests' axis (a provider, a granted client and an outsider) on it."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from lgsp.settings import Settings
from tests.exchange.conftest import axis
from tests.support import Broker, Hub, delete_topics, fast_settings
from tests.tracker.citizens import ISSUER, PROVIDER

__all__ = ["axis"]  # the exchange tests' fixture, on this directory's `settings`


@pytest.fixture
async def settings(database_url: str, tmp_path: Path, broker: Broker) -> AsyncIterator[Settings]:
    """Per-test settings (own database and topics) with PROVIDER's public key as the citizen issuer's."""
    per_test = fast_settings(
        database_url, tmp_path, citizen_issuer_key=PROVIDER.public_key, citizen_issuer=ISSUER
    )
    yield per_test
    await delete_topics(broker.bootstrap, per_test.topic_prefix)


@pytest.fixture
async def citizen(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    """A client of the same hub that sends no key of the platform: a citizen's browser."""
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=hub.app), base_url="http://hub") as client:
        yield client
