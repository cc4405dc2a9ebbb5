"""Stopping a consumer whose broker is gone: bounded, and nothing of it left running."""

import asyncio
import time
import uuid

import pytest
from aiokafka import AIOKafkaConsumer

from buscore import lifecycle
from buscore.lifecycle import close_consumer
from lgsp.bus.broker import EmbeddedBroker


def _source(task: asyncio.Task[object]) -> str:
    code = getattr(task.get_coro(), "cr_code", None)
    return str(getattr(code, "co_filename", ""))


def aiokafka_tasks() -> set[asyncio.Task[object]]:
    """Running tasks whose coroutine is aiokafka's own."""
    return {task for task in asyncio.all_tasks() if not task.done() and "aiokafka" in _source(task)}


async def test_a_consumer_of_a_stopped_broker_closes_in_bounded_time_and_leaves_no_task(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(lifecycle, "CLOSE_TIMEOUT_S", 1.0)  # 5 s in production: the same path, sooner
    async with EmbeddedBroker() as broker:
        before = aiokafka_tasks()
        topic = f"lifecycle{uuid.uuid4().hex[:8]}"
        consumer = AIOKafkaConsumer(
            topic,
            bootstrap_servers=broker.bootstrap,
            group_id=f"{topic}.group",
            session_timeout_ms=3_000,
            heartbeat_interval_ms=750,
        )
        await consumer.start()
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=200)
        assert aiokafka_tasks() - before, "the consumer runs background tasks"
        await broker.stop()

        began = time.perf_counter()
        await close_consumer(consumer)
        took = time.perf_counter() - began

    assert took < 2 * lifecycle.CLOSE_TIMEOUT_S + 1
    await asyncio.sleep(0.1)  # cancelled tasks finish on the next turns of the loop
    assert not (aiokafka_tasks() - before), "no background task outlives the consumer"
