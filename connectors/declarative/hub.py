"""Running the sources stored on the hub (`lgsp connector --sources-from-hub`), as a Kafka Connect worker
runs the connectors of its cluster.

The connector reads its system's sources from the hub with the system's own key
(`GET /api/v1/connector/sources`), opens them with the declarative engine, and looks again every few
seconds: a new source is started, a deleted one closed, a paused one closed (its services answer
`server.provider_unreachable` until resumed), one whose restart was asked for closed and opened again.
Each source's state (RUNNING, FAILED with the error, PAUSED) is reported back
(`PUT /api/v1/systems/{id}/sources/{name}/status`) whenever it changes. One source's trouble never
stops the others or the connector: a source that cannot start is FAILED, and is tried again at each
look until it starts.
"""

import asyncio
import contextlib
import functools
import logging
import os
import socket
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from pydantic import TypeAdapter, ValidationError

from connectors.declarative.config import DatabaseSource, QueryService, RestService, RestSource, Source
from connectors.declarative.database import DatabaseBackend
from connectors.declarative.rest import RestBackend
from connectors.declarative.runner import Backend, open_backend
from connectors.declarative.secrets import SourceError
from connectors.faults import ServiceFault
from connectors.sdk import Connector

log = logging.getLogger(__name__)
#: How often the connector looks at the hub for changes, in seconds.
POLL_SECONDS = 5.0
_SOURCE: TypeAdapter[DatabaseSource | RestSource] = TypeAdapter(Source)


@dataclass
class _Running:
    """One stored source as this connector holds it: its backend when open, or why it is not."""

    source: DatabaseSource | RestSource
    restarts: int
    paused: bool
    backend: Backend | None = None
    error: str | None = None  # why it could not start

    def state(self) -> tuple[str, str | None]:
        """The state to report: PAUSED, FAILED with the error, or the open backend's own."""
        if self.paused:
            return "PAUSED", None
        if self.backend is None:
            return "FAILED", self.error
        return self.backend.health.state.value, self.backend.health.error


class HubSources:
    """The stored sources of the connector's system, kept in line with the hub."""

    def __init__(self, hub: httpx.AsyncClient, connector: Connector, base: Path, worker: str) -> None:
        self.hub = hub
        self.connector = connector
        self.base = base
        self.worker = worker
        self.system_id: int | None = None
        self.running: dict[str, _Running] = {}
        self._serving: dict[str, tuple[_Running, QueryService | RestService]] = {}
        self._reported: dict[str, tuple[str, str | None]] = {}

    async def sync(self) -> None:
        """One look at the hub: apply what changed, then report the states that changed."""
        response = await self.hub.get("/api/v1/connector/sources")
        response.raise_for_status()
        listing = response.json()
        self.system_id = int(listing["system_id"])
        stored = {item["name"]: item for item in listing["sources"]}
        for name in [name for name in self.running if name not in stored]:
            log.info("source %s: deleted on the hub", name)
            await self._close(self.running.pop(name))
        self._reported = {name: seen for name, seen in self._reported.items() if name in stored}
        for name, item in stored.items():
            try:
                source = _SOURCE.validate_python(item["config"])
            except ValidationError as exc:  # a hub newer than this connector: say so, run the others
                await self._report(name, "FAILED", f"this connector cannot read the source: {exc}")
                continue
            await self._apply(source, int(item["restarts"]), item["target"] == "PAUSED")
        for name, running in self.running.items():
            state, error = running.state()
            await self._report(name, state, error)

    async def _apply(self, source: DatabaseSource | RestSource, restarts: int, paused: bool) -> None:
        current = self.running.get(source.name)
        if (
            current is not None
            and (current.source, current.restarts, current.paused) == (source, restarts, paused)
            and (current.backend is not None or paused)
        ):
            return  # as asked, and running (or paused) as it is
        if current is not None:
            await self._close(current)
        running = _Running(source, restarts, paused)
        if not paused:
            try:
                running.backend = await open_backend(source, self.base)
            except SourceError as exc:
                running.error = str(exc).removeprefix(f"source {source.name}: ")
                if current is None or current.error != running.error:
                    log.warning("source %s cannot start: %s", source.name, running.error)
        self.running[source.name] = running
        for service in source.services:
            # The connector calls `_answer`, which finds the source serving the code at the time of the call.
            self.connector.service(service.code)(functools.partial(self._answer, service.code))
            self._serving[service.code] = (running, service)

    async def _close(self, running: _Running) -> None:
        for service in running.source.services:
            if self._serving.get(service.code, (None,))[0] is running:
                del self._serving[service.code]
        if running.backend is not None:
            await running.backend.close()
            running.backend = None

    async def _answer(self, code: str, payload: dict[str, Any]) -> dict[str, Any]:
        """Answer a call of `code` from the source serving it now."""
        found = self._serving.get(code)
        if found is None:
            raise ServiceFault("server.unknown_service", f"no source of this connector serves {code}")
        running, service = found
        name = running.source.name
        if running.paused:
            raise ServiceFault("server.provider_unreachable", f"source {name} is paused")
        backend = running.backend
        if backend is None:
            raise ServiceFault(
                "server.provider_unreachable", f"source {name} could not start: {running.error}"
            )
        if isinstance(backend, DatabaseBackend) and isinstance(service, QueryService):
            return await backend.answer(service, payload)
        assert isinstance(backend, RestBackend) and isinstance(service, RestService)
        return await backend.answer(service, payload)

    async def _report(self, name: str, state: str, error: str | None) -> None:
        if self._reported.get(name) == (state, error):
            return
        body = {"state": state, "error": error[:1000] if error else None, "connector": self.worker}
        response = await self.hub.put(f"/api/v1/systems/{self.system_id}/sources/{name}/status", json=body)
        if response.is_success:
            self._reported[name] = (state, error)
        else:  # tried again at the next look
            log.warning("source %s: the hub refused its status: %s", name, response.text[:300])

    async def run(self, every: float = POLL_SECONDS) -> None:
        """Look at the hub every `every` seconds until cancelled; while the hub does not answer, the
        sources go on as they are."""
        while True:
            await asyncio.sleep(every)
            try:
                await self.sync()
            except httpx.HTTPError as exc:
                log.warning("cannot read the sources from the hub: %s", exc)

    async def close(self) -> None:
        """Close every source."""
        for running in self.running.values():
            await self._close(running)
        self.running.clear()


def worker_name() -> str:
    """This connector, as the hub's status shows it: host and process."""
    return f"{socket.gethostname()}:{os.getpid()}"


@contextlib.asynccontextmanager
async def hub_sources(
    hub: httpx.AsyncClient, connector: Connector, base: Path, every: float = POLL_SECONDS
) -> AsyncIterator[HubSources]:
    """The system's stored sources served on `connector` and kept in line with the hub every `every`
    seconds (`hub` authenticates with the system's own key; relative SQLite paths and secret files are
    relative to `base`); SourceError if the hub cannot be read at start."""
    sources = HubSources(hub, connector, base, worker_name())
    try:
        try:
            await sources.sync()
        except httpx.HTTPError as exc:
            raise SourceError(f"cannot read the sources from the hub ({_why(exc)})") from None
        looking = asyncio.create_task(sources.run(every))
        try:
            yield sources
        finally:
            looking.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await looking
    finally:
        await sources.close()


def _why(exc: httpx.HTTPError) -> str:
    if isinstance(exc, httpx.HTTPStatusError):
        return f"{exc.response.status_code}: {exc.response.text[:300]}"
    return type(exc).__name__
