"""A source's status, as Kafka Connect reports a connector's: RUNNING, or FAILED with the error."""

import logging
import time
from dataclasses import dataclass, field
from enum import StrEnum

from connectors.faults import ServiceFault

log = logging.getLogger(__name__)


class State(StrEnum):
    """Where a source stands: it answers, or its database or API is away."""

    RUNNING = "RUNNING"
    FAILED = "FAILED"


@dataclass
class Health:
    """The status of one source, changed by the answers it gives: a source that could not reach its
    database or API is FAILED until an answer gets through again, which makes it RUNNING by itself."""

    name: str
    state: State = State.RUNNING
    error: str | None = None
    since: float = field(default_factory=time.time)

    def unreachable(self, reason: str) -> ServiceFault:
        """Note the source as FAILED and return the fault to answer with."""
        if self.state is not State.FAILED:
            log.warning("source %s failed: %s", self.name, reason)
            self.state, self.error, self.since = State.FAILED, reason, time.time()
        return ServiceFault("server.provider_unreachable", reason)

    def answered(self) -> None:
        """Note that the source answered: RUNNING again if it had failed."""
        if self.state is not State.RUNNING:
            log.warning("source %s is back", self.name)
            self.state, self.error, self.since = State.RUNNING, None, time.time()
