"""Fixtures of the fault-injection tests (`pytest -m faults tests/faults`, `make test-faults`)."""

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from lgsp.bus.broker import EmbeddedBroker
from lgsp.settings import Settings
from tests.conftest import delete_topics, fast_settings
from tests.faults.support import SUMMARIES

#: Intervals a little slower than tests.conftest.fast_settings: on two shared cores the hub, broker,
#: connectors and PostgreSQL must keep up with the traffic too, and a missed beat is not the fault tested.
TIMINGS: dict[str, Any] = {
    "heartbeat_interval": 0.5,
    "heartbeat_ttl": 2.5,
    "probe_interval": 1.0,
    "probe_ttl": 3.5,
    "probe_timeout": 1.5,
    "evaluate_interval": 0.5,
    "connectivity_partitions": 2,
    "inbox_partitions": 1,
    "consumer_session_timeout_ms": 3000,
}


__all__ = ["delete_topics", "fault_settings", "own_broker"]


def fault_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Per-test settings: own topic prefix and database, the timings above."""
    return fast_settings(database_url, tmp_path, **(TIMINGS | overrides))


@pytest.fixture
async def own_broker() -> AsyncIterator[EmbeddedBroker]:
    """A broker of this test alone, so stopping it disturbs nobody (never stop the session broker)."""
    async with EmbeddedBroker() as running:
        yield running


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Repeat every fault test's summary at the end of the run, where the closing note can take it."""
    if SUMMARIES:
        terminalreporter.section("fault-injection summaries")
        for name, summary in SUMMARIES:
            terminalreporter.write_line(f"{name}: " + ", ".join(f"{k}={v}" for k, v in summary.items()))
