"""Reading the dead-letter topic and the hub's dead-letter counters back, as an operator would."""

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

import httpx
from aiokafka import AIOKafkaConsumer
from prometheus_client.parser import text_string_to_metric_families

from schemas.messages import DeadLetter
from schemas.topics import Topics


@dataclass(frozen=True, slots=True)
class Letter:
    """A record read back from the dead-letter topic."""

    key: bytes | None
    letter: DeadLetter


async def read_dead_letters(
    bootstrap: str,
    topics: Topics,
    done: Callable[[list[Letter]], bool],
    within: float = 15.0,
    *,
    raw: bool = False,
) -> list[Letter]:
    """Consume the dead-letter topic (with `raw`, raw mode's) from the start until `done(letters)` or the
    timeout (then fail)."""
    topic = topics.dead_letters_raw if raw else topics.dead_letters
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    letters: list[Letter] = []
    try:
        deadline = asyncio.get_running_loop().time() + within
        while not done(letters):
            if asyncio.get_running_loop().time() > deadline:
                found = [(x.letter.reason, x.letter.source_topic) for x in letters]
                raise AssertionError(f"timed out waiting for dead letters; got {found}")
            batches = await consumer.getmany(timeout_ms=200)
            for records in batches.values():
                for record in records:
                    assert record.value is not None
                    letters.append(Letter(record.key, DeadLetter.model_validate_json(record.value)))
    finally:
        await consumer.stop()
    return letters


def dead_letter_counts(exposition: str) -> dict[str, float]:
    """lgsp_dead_letters_total by reason, from a /metrics answer."""
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        if family.name == "lgsp_dead_letters":
            for sample in family.samples:
                if sample.name == "lgsp_dead_letters_total":
                    counts[sample.labels["reason"]] = sample.value
    return counts


async def dead_letters_counted(client: httpx.AsyncClient) -> dict[str, float]:
    """The hub's lgsp_dead_letters_total by reason, as Prometheus scrapes it."""
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return dead_letter_counts(response.text)
