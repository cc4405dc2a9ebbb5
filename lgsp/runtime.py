"""What a running hub holds, handed to API routes as a FastAPI dependency."""

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request

from lgsp.bus.kafka import Bus, Worker
from lgsp.bus.outbox import OutboxRelay
from lgsp.db import Database
from lgsp.settings import Settings
from schemas.topics import Topics


@dataclass(slots=True)
class Runtime:
    """Settings, database, bus and the background machinery of one hub process."""

    settings: Settings
    database: Database
    topics: Topics
    bus: Bus
    outbox: OutboxRelay
    platform_key: bytes
    workers: list[Worker[Any]]

    def bus_ready(self) -> bool:
        """Every bus worker has a live consumer."""
        return all(w.healthy for w in self.workers)


def get_runtime(request: Request) -> Runtime:
    """FastAPI dependency: the hub's runtime."""
    runtime: Runtime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
