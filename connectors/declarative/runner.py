"""Running a declarative connector: start its sources, check them, and serve their services.

`started_sources` opens every source and checks it (a database answers `SELECT 1`, an API answers at
all) before the connector goes on the bus, so a config pointing at nothing fails at once, saying
which source and why; `Sources.attach` then serves each service on a connector of the SDK.
"""

import contextlib
import functools
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from connectors.declarative.config import (
    ConnectorConfig,
    DatabaseSource,
    QueryService,
    RestService,
    RestSource,
)
from connectors.declarative.database import DatabaseBackend
from connectors.declarative.health import Health
from connectors.declarative.holder import DeclaredHolder, evidence_declarations
from connectors.declarative.rest import RestBackend
from connectors.declarative.secrets import SourceError
from connectors.sdk import Connector
from schemas.onceonly import Catalogue, load_catalogue

Backend = DatabaseBackend | RestBackend


class Sources:
    """The started sources of one config, the services they serve, and its holder's evidence."""

    def __init__(
        self, config: ConnectorConfig, backends: list[Backend], holder: DeclaredHolder | None = None
    ) -> None:
        self.config = config
        self.backends = backends
        self.holder = holder

    def declarations(self) -> list[dict[str, Any]]:
        """The bodies of POST /api/v1/systems/{id}/services for every service of the config (with the
        evidence services if it has an `evidence` section)."""
        declared = [service.declaration() for backend in self.backends for service in backend.source.services]
        return declared + (evidence_declarations() if self.holder is not None else [])

    def status(self) -> dict[str, Health]:
        """Each source's status (RUNNING, or FAILED with the error), by name."""
        return {backend.source.name: backend.health for backend in self.backends}

    def attach(self, connector: Connector) -> None:
        """Serve every service of the config on `connector`."""
        for backend in self.backends:
            if isinstance(backend, DatabaseBackend):
                for query in backend.source.services:
                    connector.service(query.code)(functools.partial(_ask_database, backend, query))
            else:
                for call in backend.source.services:
                    connector.service(call.code)(functools.partial(_ask_api, backend, call))
        if self.holder is not None:
            for code, handler in self.holder.handlers().items():
                connector.service(code)(handler)


async def _ask_database(
    backend: DatabaseBackend, service: QueryService, payload: dict[str, Any]
) -> dict[str, Any]:
    return await backend.answer(service, payload)


async def _ask_api(backend: RestBackend, service: RestService, payload: dict[str, Any]) -> dict[str, Any]:
    return await backend.answer(service, payload)


async def open_backend(source: DatabaseSource | RestSource, base: Path) -> Backend:
    """One source opened and checked (paths relative to `base`); SourceError naming it if it cannot
    start, with nothing of it left open."""
    try:
        backend: Backend = (
            DatabaseBackend(source, base) if isinstance(source, DatabaseSource) else RestBackend(source, base)
        )
    except SourceError as exc:
        raise SourceError(f"source {source.name}: {exc}") from None
    try:
        await backend.check()
    except SourceError:
        await backend.close()
        raise
    return backend


@contextlib.asynccontextmanager
async def started_sources(
    config: ConnectorConfig, base: Path, catalogue: Catalogue | None = None
) -> AsyncIterator[Sources]:
    """Every source of `config` opened and checked (secret files and relative SQLite paths are relative
    to `base`, the config's directory), closed on exit; SourceError naming each that cannot start.
    Its evidence section holds the document types `catalogue` (the shipped one by default) says."""
    backends: list[Backend] = []
    try:
        problems: list[str] = []
        for source in config.sources:
            try:
                backends.append(await open_backend(source, base))
            except SourceError as exc:
                problems.append(str(exc))
        if problems:
            raise SourceError("; ".join(problems))
        yield Sources(config, backends, _holder(config, backends, catalogue))
    finally:
        for backend in backends:
            await backend.close()


def _holder(
    config: ConnectorConfig, backends: list[Backend], catalogue: Catalogue | None
) -> DeclaredHolder | None:
    """The holder serving the config's evidence section from its database source, if it has one."""
    if config.evidence is None:
        return None
    backend = next(b for b in backends if b.source.name == config.evidence.source)
    assert isinstance(backend, DatabaseBackend)  # the config's model checked it names a database source
    return DeclaredHolder(config, backend, catalogue or load_catalogue())
