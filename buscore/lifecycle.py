"""Stopping aiokafka consumers for sure: shared by the SDK and the hub's bus.

After a broker restart, aiokafka can hang in `consumer.stop()` (its group coordinator waits to leave a
group on a broker that no longer knows it, or is not back yet) and can let the cancellation of one of
its own background tasks out into the task that owns the consumer. Whoever reconnects must neither
wait forever nor take such a stray cancellation for a stop.
"""

import asyncio
import contextlib
import logging
from typing import Any

from aiokafka import AIOKafkaConsumer

log = logging.getLogger(__name__)

CLOSE_TIMEOUT_S = 5.0  # a healthy consumer leaves its group in milliseconds


def cancelled_by_owner() -> bool:
    """Whether the running task is being cancelled by whoever owns it (a stop), rather than hit by a
    cancellation aiokafka let out of one of its own background tasks."""
    task = asyncio.current_task()
    return task is None or task.cancelling() > 0


async def close_consumer(consumer: AIOKafkaConsumer) -> None:
    """Stop a consumer within CLOSE_TIMEOUT_S; if aiokafka's own stop hangs, cancel the consumer's
    background tasks and close its connections anyway, so none of them outlives it.

    The stop runs in a task of its own, so a stray cancellation inside it stays there."""
    stopping = asyncio.ensure_future(consumer.stop())
    stopping.add_done_callback(_retrieve)
    try:
        await asyncio.wait({stopping}, timeout=CLOSE_TIMEOUT_S)
    finally:
        if not stopping.done():
            stopping.cancel()
            await asyncio.shield(_force_close(consumer))


def _retrieve(task: "asyncio.Future[None]") -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("consumer stop failed: %s", task.exception())


async def _force_close(consumer: Any) -> None:
    # aiokafka 0.14 internals (pinned in constraints.txt): what stop() does after its coordinator's close.
    coordinator = consumer._coordinator
    if coordinator is not None:
        for task in (
            coordinator._coordination_task,
            coordinator._heartbeat_task,
            coordinator._commit_refresh_task,
        ):
            if task is not None:
                task.cancel()
    closing = asyncio.ensure_future(_close_connections(consumer))
    await asyncio.wait({closing}, timeout=CLOSE_TIMEOUT_S)


async def _close_connections(consumer: Any) -> None:
    # Each step waits for tasks just cancelled, which may re-raise their cancellation: keep going.
    if consumer._fetcher is not None:
        with contextlib.suppress(Exception, asyncio.CancelledError):
            await consumer._fetcher.close()
    with contextlib.suppress(Exception, asyncio.CancelledError):
        await consumer._client.close()
