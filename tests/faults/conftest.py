"""Fixtures of the fault-injection tests (`pytest -m faults tests/faults`, `make test-faults`)."""

from collections.abc import AsyncIterator
from typing import Any

import pytest

from lgsp.bus.broker import EmbeddedBroker
from tests.faults.support import SUMMARIES


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
