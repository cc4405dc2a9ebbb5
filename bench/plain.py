"""The plain-aiokafka ceiling of the 4-hop exchange: what the bus carries with no project code at all.

``bench/exchange.py`` measures this beside its own no-op forwarder (built from the hub's ``Bus``,
``Worker`` and the SDK), in the same run and on the same broker, and states the hub's ratio against
it: the project's layers are then part of what is measured, not of the ceiling.

Clients, provider and forwarder are written with aiokafka alone, with settings chosen for the bus
rather than copied from the hub: consumers wait at most ``FETCH_MAX_WAIT_MS`` for a fetch (the embedded
broker answers a waiting fetch only when it expires), producers linger 1 ms, ``acks=all``, up to 1,000
records per poll, and the forwarder commits once per batch after every send of the batch was
acknowledged (at-least-once, as any bus forwarder must). Records are opaque bytes of the size of a
signed request: an exchange id, then padding. The forwarder (a child process: ``--role forwarder``)
moves each request unchanged to the provider's inbox and each response to the inbox its key names; the
provider answers each call on the responses topic; each client matches answers by exchange id. The
same topic layout and partition counts as the hub's, the same clients and in-flight requests.
"""

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord

#: How long a consumer waits for a fetch: short, since the embedded broker holds a fetch until then.
FETCH_MAX_WAIT_MS = 5
MAX_POLL_RECORDS = 1000
ID_BYTES = 16


def requests_topic(prefix: str) -> str:
    return f"{prefix}.requests"


def responses_topic(prefix: str) -> str:
    return f"{prefix}.responses"


def inbox_topic(prefix: str, system: str) -> str:
    return f"{prefix}.inbox.{system}"


def producer(bootstrap: str, client_id: str) -> AIOKafkaProducer:
    """A producer with the plain ceiling's settings."""
    return AIOKafkaProducer(bootstrap_servers=bootstrap, client_id=client_id, acks="all", linger_ms=1)


def consumer(bootstrap: str, topic: str, group: str, offset_reset: str) -> AIOKafkaConsumer:
    """A consumer with the plain ceiling's settings (manual commit)."""
    return AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset=offset_reset,
        max_poll_records=MAX_POLL_RECORDS,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        session_timeout_ms=3_000,
        heartbeat_interval_ms=750,
    )


# ---------------------------------------------------------------------------------------------------
# The forwarder process


async def forward(source: AIOKafkaConsumer, sink: AIOKafkaProducer, route: Any, ready: asyncio.Event) -> None:
    """Move every record of `source` to the topic `route(record)` names, keeping its key; commit per
    batch once every send of it was acknowledged."""
    while True:
        batches = await source.getmany(timeout_ms=500, max_records=MAX_POLL_RECORDS)
        if source.assignment():
            ready.set()
        if not batches:
            continue
        futures = [
            await sink.send(route(record), record.value, key=record.key)
            for records in batches.values()
            for record in records
        ]
        await asyncio.gather(*futures)
        await source.commit({tp: records[-1].offset + 1 for tp, records in batches.items()})


async def run_forwarder(bootstrap: str, prefix: str, provider: str) -> None:
    """Forward requests to the provider's inbox and responses to the inbox their key names; prints
    `ready` once both consumers have partitions, then runs until cancelled."""
    out = producer(bootstrap, "plain-forwarder")
    requests = consumer(bootstrap, requests_topic(prefix), f"{prefix}.plain.req", "earliest")
    responses = consumer(bootstrap, responses_topic(prefix), f"{prefix}.plain.resp", "earliest")
    await out.start()
    await requests.start()
    await responses.start()
    ready = [asyncio.Event(), asyncio.Event()]
    provider_inbox = inbox_topic(prefix, provider)

    def to_client(record: ConsumerRecord[bytes, bytes]) -> str:
        return inbox_topic(prefix, (record.key or b"").decode())

    tasks = [
        asyncio.create_task(forward(requests, out, lambda _: provider_inbox, ready[0])),
        asyncio.create_task(forward(responses, out, to_client, ready[1])),
    ]
    try:
        await asyncio.gather(*(event.wait() for event in ready))
        print("ready", flush=True)
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for client in (requests, responses):
            await client.stop()
        await out.stop()


# ---------------------------------------------------------------------------------------------------
# The load generator's side: clients and the provider


@dataclass
class PlainClient:
    """One client system: a producer, a consumer on its inbox, and the exchanges it waits for."""

    system: str
    out: AIOKafkaProducer
    inbox: AIOKafkaConsumer
    pending: dict[bytes, asyncio.Future[None]] = field(default_factory=dict)


class PlainFleet:
    """The provider and the clients of the plain ceiling, with the interface `exchange.closed_loop` and
    `exchange.open_loop` drive (`clients`, `request(client, n)`)."""

    def __init__(self, bootstrap: str, prefix: str, provider: str, systems: Sequence[str], size: int) -> None:
        self.prefix = prefix
        self.provider = provider
        self.padding = b"x" * max(0, size - ID_BYTES)
        self.clients = [
            PlainClient(
                code,
                producer(bootstrap, f"plain-{code}"),
                consumer(bootstrap, inbox_topic(prefix, code), f"{prefix}.plain.{code}", "latest"),
            )
            for code in systems
        ]
        self.provider_out = producer(bootstrap, f"plain-{provider}")
        self.provider_inbox = consumer(
            bootstrap, inbox_topic(prefix, provider), f"{prefix}.plain.{provider}", "latest"
        )
        self._tasks: list[asyncio.Task[None]] = []
        self._sequence = 0

    async def start(self) -> None:
        """Start every client and the provider; returns once each inbox consumer has its partitions
        (they start at the latest offset: an answer sent before would be missed)."""
        ready: list[asyncio.Event] = []
        for client in self.clients:
            await client.out.start()
            await client.inbox.start()
            ready.append(asyncio.Event())
            self._tasks.append(asyncio.create_task(self._receive(client, ready[-1])))
        await self.provider_out.start()
        await self.provider_inbox.start()
        ready.append(asyncio.Event())
        self._tasks.append(asyncio.create_task(self._serve(ready[-1])))
        async with asyncio.timeout(60):
            await asyncio.gather(*(event.wait() for event in ready))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for client in self.clients:
            await client.inbox.stop()
            await client.out.stop()
        await self.provider_inbox.stop()
        await self.provider_out.stop()

    async def request(self, client: PlainClient, n: int) -> None:
        """One exchange: send a request and wait for its answer in the client's inbox."""
        self._sequence += 1
        exchange_id = self._sequence.to_bytes(ID_BYTES, "big")
        answer: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        client.pending[exchange_id] = answer
        try:
            await client.out.send_and_wait(
                requests_topic(self.prefix), exchange_id + self.padding, key=client.system.encode()
            )
            async with asyncio.timeout(30):
                await answer
        finally:
            client.pending.pop(exchange_id, None)

    async def _receive(self, client: PlainClient, ready: asyncio.Event) -> None:
        while True:
            batches = await client.inbox.getmany(timeout_ms=500)
            if client.inbox.assignment():
                ready.set()
            for records in batches.values():
                for record in records:
                    answer = client.pending.get((record.value or b"")[:ID_BYTES])
                    if answer is not None and not answer.done():
                        answer.set_result(None)

    async def _serve(self, ready: asyncio.Event) -> None:
        topic = responses_topic(self.prefix)
        while True:
            batches = await self.provider_inbox.getmany(timeout_ms=500)
            if self.provider_inbox.assignment():
                ready.set()
            for records in batches.values():
                for record in records:
                    exchange_id = (record.value or b"")[:ID_BYTES]
                    # Not awaited one by one: a provider serves its calls concurrently, as the SDK's does.
                    await self.provider_out.send(topic, exchange_id + self.padding, key=record.key)


def topics(
    prefix: str, provider: str, clients: Sequence[str], partitions: int, inboxes: int
) -> dict[str, int]:
    """The plain ceiling's topics: the hub's layout (shared topics and one inbox per system)."""
    layout = {requests_topic(prefix): partitions, responses_topic(prefix): partitions}
    return layout | {inbox_topic(prefix, s): inboxes for s in [provider, *clients]}


async def spawn_forwarder(
    bootstrap: str, prefix: str, provider: str, log: Path
) -> asyncio.subprocess.Process:
    """The forwarder as a child process; returns once it printed `ready`."""
    with log.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--role",
            "forwarder",
            "--bootstrap",
            bootstrap,
            "--prefix",
            prefix,
            "--provider",
            provider,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    assert process.stdout is not None
    line = b""
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(60):
            line = await process.stdout.readline()
    if line.strip() != b"ready":
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise RuntimeError(f"plain forwarder did not start (its log: {log})")
    return process


async def _until_terminated(main: Any) -> None:
    """Run `main`, cancelling it on SIGTERM so its cleanup runs."""
    task = asyncio.ensure_future(main)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--role", choices=["forwarder"], required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--provider", required=True)
    args = parser.parse_args()
    with contextlib.suppress(KeyboardInterrupt):
        uvloop.run(_until_terminated(run_forwarder(args.bootstrap, args.prefix, args.provider)))


if __name__ == "__main__":
    main()
