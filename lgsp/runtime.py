"""What a running hub holds, handed to API routes as typed FastAPI dependencies.

Routes read the hub's settings, database, bus and façade from here, never from `app.state` directly,
so what a route depends on is written in its signature."""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlmodel.ext.asyncio.session import AsyncSession

from buscore.signing import Trust
from lgsp.bus import Bus, Worker
from lgsp.bus.outbox import OutboxRelay
from lgsp.bus.principals import Principals
from lgsp.db import Database
from lgsp.exchange.facade import ExchangeFacade
from lgsp.security import PlatformKeys
from lgsp.settings import Settings
from schemas.onceonly import Catalogue


@dataclass(slots=True)
class Runtime:
    """Settings, database, bus and the background machinery of one hub process."""

    settings: Settings
    database: Database
    bus: Bus
    outbox: OutboxRelay
    facade: ExchangeFacade
    catalogue: Catalogue
    keys: PlatformKeys  # the platform secret, current and rotated out: hashes of personal ids
    trust: Trust  # the platform keys connectors check the hub's and the NGSP's messages with
    workers: list[Worker[Any]]
    #: Sets systems' Kafka credentials and ACLs (LGSP_KAFKA_PRINCIPALS); None: the cluster has none.
    principals: Principals | None = None

    def bus_ready(self) -> bool:
        """Every bus worker has a live consumer."""
        return all(w.healthy for w in self.workers)


def get_runtime(request: Request) -> Runtime:
    """FastAPI dependency: the hub's runtime."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]


def get_settings(runtime: RuntimeDep) -> Settings:
    """FastAPI dependency: the hub's settings."""
    return runtime.settings


SettingsDep = Annotated[Settings, Depends(get_settings)]


async def get_session(runtime: RuntimeDep) -> AsyncIterator[AsyncSession]:
    """FastAPI dependency: one database session per request."""
    async with runtime.database.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(get_session)]


def get_facade(runtime: RuntimeDep) -> ExchangeFacade:
    """FastAPI dependency: this hub's REST façade over the bus."""
    return runtime.facade


FacadeDep = Annotated[ExchangeFacade, Depends(get_facade)]
