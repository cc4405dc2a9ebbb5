"""Shared fixtures: one real broker per session, a fresh database (SQLite and PostgreSQL) and topic
prefix per test, and the hub application running against both."""

import asyncio
import contextlib
import contextvars
import os
import uuid
import warnings
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from pydantic import SecretStr

from connectors.sdk import Connector
from lgsp.app import create_app
from lgsp.bus.broker import EmbeddedBroker
from lgsp.settings import Settings
from sandbox.demo import tuned_connector

PG_SERVER = os.environ.get("LGSP_TEST_PG", "postgres@127.0.0.1:5432")
ADMIN_TOKEN = "test-admin-token-0123456789"


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
async def broker() -> AsyncIterator[EmbeddedBroker]:
    """The real embedded broker, started once for the whole session on a free port."""
    async with EmbeddedBroker() as running:
        yield running


@contextlib.asynccontextmanager
async def fresh_database(kind: str, directory: Path) -> AsyncIterator[str]:
    """A new, empty database of `kind` ("sqlite" in `directory`, or "postgresql"), dropped afterwards."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / 'lgsp.db'}"
        return
    name = f"lgsp_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(f"postgresql://{PG_SERVER}/test")
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    try:
        yield f"postgresql+asyncpg://{PG_SERVER}/{name}"
    finally:
        admin = await asyncpg.connect(f"postgresql://{PG_SERVER}/test")
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


async def delete_topics(bootstrap: str, prefix: str) -> None:
    """Drop the topics under `prefix`, so the session broker stays small (every client's metadata covers
    every topic)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        mine = [t for t in await admin.list_topics() if t.startswith(f"{prefix}.")]
        if mine:
            await admin.delete_topics(mine)
    finally:
        await admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    """A fresh, empty database of each kind for one test."""
    async with fresh_database(request.param, tmp_path) as url:
        yield url


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
        "heartbeat_interval": 0.3,
        "heartbeat_ttl": 2.5,
        "probe_interval": 0.4,
        "probe_ttl": 2.5,
        "probe_timeout": 1.5,
        "evaluate_interval": 0.2,
        "connectivity_partitions": 2,
        "consumer_session_timeout_ms": 2000,
    }
    return Settings(**(values | overrides))


@pytest.fixture
async def settings(database_url: str, tmp_path: Path, broker: EmbeddedBroker) -> AsyncIterator[Settings]:
    """Per-test settings: own database, own topics (deleted afterwards)."""
    per_test = fast_settings(database_url, tmp_path)
    yield per_test
    await delete_topics(broker.bootstrap, per_test.topic_prefix)


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


@pytest.fixture
async def hub(settings: Settings, broker: EmbeddedBroker) -> AsyncIterator[Hub]:
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
    broker: EmbeddedBroker,
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


async def eventually(
    check: Callable[[], Awaitable[bool]],
    timeout: float = 10.0,
    interval: float = 0.1,
    what: str = "condition",
) -> None:
    """Wait until `check()` is true, failing the test after `timeout` seconds."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        await asyncio.sleep(interval)


async def make_agency(
    client: httpx.AsyncClient, code: str = "SO-TP", level: str = "province", *, exist_ok: bool = False
) -> None:
    """Register an agency as admin (with `exist_ok`, an agency already there is fine: shared hubs)."""
    response = await client.post(
        "/api/v1/agencies", json={"code": code, "name": f"Agency {code}", "level": level}
    )
    expected = {201, 409} if exist_ok else {201}
    assert response.status_code in expected, response.text


async def make_system(
    client: httpx.AsyncClient, code: str, agency: str = "SO-TP", **extra: Any
) -> dict[str, Any]:
    """Register a system as admin and return the answer (with its one-time api_key)."""
    response = await client.post(
        "/api/v1/systems", json={"code": code, "name": f"System {code}", "agency_code": agency, **extra}
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def connector_for(system: dict[str, Any], settings: Settings, bootstrap: str) -> Connector:
    """A connector for a system registered with `make_system`, tuned like the hub in `settings`."""
    return tuned_connector(settings, system["code"], system["api_key"], bootstrap)
