"""The hub's one mechanism for work that runs in the background while the application lives.

A component (the connectivity tracker, the exchange router, the once-only ledger, the audit trail, the
REST façade, the outbox relay) hands the application its background jobs: bus workers, and periodic
steps written as `Every`. The application starts them all the same way and stops them the same way, so
no component starts a task of its own and none is forgotten at shutdown.
"""

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from monitoring.metrics import EVENT_LOOP_LAG

log = logging.getLogger(__name__)


class Background(Protocol):
    """A job that runs until it is cancelled (a bus worker, a periodic step, a listener)."""

    @property
    def name(self) -> str:
        """The name of its task, seen in logs and task dumps."""
        ...

    async def run(self) -> None:
        """Run until cancelled."""
        ...


class Component(Protocol):
    """A part of the hub with background jobs. Subclass it to inherit the default `stop`."""

    def background(self) -> Sequence[Background]:
        """The jobs to run while the application lives."""
        ...

    async def stop(self) -> None:
        """Called once its jobs are cancelled, to record or release what they leave behind."""
        return None


@dataclass(frozen=True, slots=True)
class Every:
    """`step` run over and over, `interval` seconds apart, until cancelled.

    A step that fails is logged and tried again next round: the database or the broker being away for a
    while must not end the loop. `interval` may be a function, read before each pause.
    - `from_start`: the interval runs from one start to the next (a round that takes time is not followed
      by a full pause), instead of from the end of one round to the start of the next.
    - `again`: given what a step returned, whether to run it again at once (a backlog left to drain).
    - `wake`: an event that cuts a pause short (something was just written that the step should handle).
      It is cleared before each step, so a wake during the step starts the next one straight away.
    """

    name: str
    interval: float | Callable[[], float]
    step: Callable[[], Awaitable[Any]]
    from_start: bool = False
    again: Callable[[Any], bool] | None = None
    wake: asyncio.Event | None = None

    async def run(self) -> None:
        """Run the step forever."""
        loop = asyncio.get_running_loop()
        while True:
            started = loop.time()
            if self.wake is not None:
                self.wake.clear()
            try:
                result = await self.step()
                while self.again is not None and self.again(result):
                    result = await self.step()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s failed: %s", self.name, exc)
            interval = self.interval() if callable(self.interval) else self.interval
            pause = max(0.0, (started if self.from_start else loop.time()) + interval - loop.time())
            if self.wake is None:
                await asyncio.sleep(pause)
                continue
            # asyncio.timeout, not wait_for: on Python 3.11 wait_for can swallow a cancellation.
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await self.wake.wait()


@dataclass(frozen=True, slots=True)
class LoopLag:
    """Measures, every `interval` seconds, how much later than asked a timer of the event loop fires, into
    `lgsp_event_loop_lag_seconds`: a hub that is slow because its loop is held or its machine has no CPU
    to spare says so, apart from a slow database or broker."""

    name: str = "event-loop-lag"
    interval: float = 0.1

    async def run(self) -> None:
        """Measure until cancelled."""
        loop = asyncio.get_running_loop()
        while True:
            asked = loop.time() + self.interval
            await asyncio.sleep(self.interval)
            EVENT_LOOP_LAG.observe(max(0.0, loop.time() - asked))


@dataclass(frozen=True, slots=True)
class Once:
    """`step` run once in the background (e.g. connecting to the bus while the API already serves)."""

    name: str
    step: Callable[[], Awaitable[Any]]

    async def run(self) -> None:
        """Run the step."""
        await self.step()


async def bounded(step: Awaitable[Any], what: str, seconds: float = 10.0) -> None:
    """Run one shutdown step, giving up after `seconds` so a dead broker or database cannot hang exit."""
    try:
        async with asyncio.timeout(seconds):
            await step
    except Exception as exc:
        log.warning("shutdown: %s failed or timed out (%s)", what, type(exc).__name__)


@contextlib.asynccontextmanager
async def running(components: Sequence[Component], *jobs: Background) -> AsyncIterator[list[Background]]:
    """Run `jobs` and every component's background jobs until the context exits; then cancel them all
    and stop each component, in order. Yields the jobs started."""
    started = [*jobs, *(job for component in components for job in component.background())]
    tasks = [asyncio.create_task(job.run(), name=job.name) for job in started]
    try:
        yield started
    finally:
        for task in tasks:
            task.cancel()
        await bounded(asyncio.gather(*tasks, return_exceptions=True), "stopping the background jobs")
        for component in components:
            await bounded(component.stop(), f"stopping the {type(component).__name__}")
