"""Shared fixtures: one real broker per session, a fresh database (SQLite and PostgreSQL) and topic
prefix per test, and the hub application running against both."""

import asyncio
import contextvars
import os
import warnings
import weakref
from collections.abc import AsyncIterator, Coroutine
from pathlib import Path
from typing import Any

import pytest

from lgsp.bus.broker import EmbeddedBroker
from lgsp.settings import Settings
from sandbox.kafka import KafkaCluster
from tests.support import Broker, Hub, delete_topics, fast_settings, fresh_database, running_hub


class LeakedTasks(UserWarning):
    """A test left asyncio tasks running after its fixtures were torn down."""


#: Set in the context of fixtures that outlive a test (a module's shared hub): the tasks they start, and
#: the tasks those start in turn (a task inherits its creator's context), are not a test's leftovers.
#: pytest-asyncio hands a fixture's context on to the tests using it, so leaks of those tests go unseen.
LONG_LIVED: contextvars.ContextVar[bool] = contextvars.ContextVar("long_lived", default=False)
_long_lived_tasks: "weakref.WeakSet[asyncio.Task[Any]]" = weakref.WeakSet()


def _tagging_task_factory(
    loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any], **kwargs: Any
) -> "asyncio.Task[Any]":
    task = asyncio.Task(coro, loop=loop, **kwargs)
    if LONG_LIVED.get():
        _long_lived_tasks.add(task)
    return task


@pytest.fixture(autouse=True)
async def no_leaked_tasks() -> AsyncIterator[None]:
    """Cancel the tasks a test leaves behind, with a warning naming them.

    Every test shares the session's event loop: a consumer or connector a failed test never stopped
    would go on polling (or reconnecting to a broker that is gone) and slow down every later test.
    """
    loop = asyncio.get_running_loop()
    if loop.get_task_factory() is None:
        loop.set_task_factory(_tagging_task_factory)  # type: ignore[arg-type]
    before = asyncio.all_tasks()
    yield
    leaked = [
        t
        for t in asyncio.all_tasks() - before
        if not t.done() and t is not asyncio.current_task() and t not in _long_lived_tasks
    ]
    if leaked:
        names = sorted({getattr(t.get_coro(), "__qualname__", repr(t.get_coro())) for t in leaked})
        message = f"{len(leaked)} tasks left running: {', '.join(names)[:300]}"
        warnings.warn(LeakedTasks(message), stacklevel=1)
        for task in leaked:
            task.cancel()
        await asyncio.wait(leaked, timeout=5)


@pytest.fixture(scope="session")
async def broker() -> AsyncIterator[Broker]:
    """The session's real broker, started once on free ports: the embedded Tansu broker, or with
    LGSP_TEST_KAFKA_NODES=N (make test-kafka) an Apache Kafka cluster of N nodes."""
    nodes = int(os.environ.get("LGSP_TEST_KAFKA_NODES", "0"))
    async with KafkaCluster(nodes) if nodes else EmbeddedBroker() as running:
        yield running


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database of each kind for one test."""
    async with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def settings(database_url: str, tmp_path: Path, broker: Broker) -> AsyncIterator[Settings]:
    """Per-test settings: own database, own topics (deleted afterwards)."""
    per_test = fast_settings(database_url, tmp_path)
    yield per_test
    await delete_topics(broker.bootstrap, per_test.topic_prefix)


@pytest.fixture
async def hub(settings: Settings, broker: Broker) -> AsyncIterator[Hub]:
    """The hub (API and bus workers) on the session broker and this test's database."""
    async with running_hub(settings, broker.bootstrap) as running:
        yield running


@pytest.fixture(scope="module")
def shared_settings() -> dict[str, Any]:
    """What a module's `shared_hub` sets besides `fast_settings` (a module overrides this fixture)."""
    return {}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
async def shared_hub(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    broker: Broker,
    shared_settings: dict[str, Any],
) -> AsyncIterator[Hub]:
    """One hub per test module and database kind, for tests of how the API answers bad, unknown or
    unauthorised input: such tests change nothing another test reads, and a hub per case would cost
    seconds each."""
    directory = tmp_path_factory.mktemp("shared-hub")
    LONG_LIVED.set(True)  # this fixture's context only: the hub's tasks outlive the tests using it
    async with fresh_database(request.param, directory) as url:
        settings = fast_settings(url, directory, **shared_settings)
        try:
            async with running_hub(settings, broker.bootstrap) as running:
                yield running
        finally:
            await delete_topics(broker.bootstrap, settings.topic_prefix)
