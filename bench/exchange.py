"""Benchmark of the exchange path: client -> hub -> provider -> hub -> client, against its ceiling.

Everything runs on the real parts: one embedded Tansu broker for the whole run, the hub as separate
``lgsp hub`` processes (SQLite by default, a fresh PostgreSQL database with ``--database postgresql``),
and the SDK's ``Connector`` as clients and provider. Phases, in order, on the same broker:

1. **one-way ceiling**: one producer with the hub's producer settings (``Bus``) sends records of the
   size of a signed ``ServiceRequest`` as fast as it can; one consumer in another process, with the hub
   worker's consumer settings (group, manual commit per batch, ``max_poll_records``), counts them.
2. **plain ceiling** (the target's): clients, provider and a 4-hop no-op forwarder written with
   aiokafka alone (``bench/plain.py``), no project code, settings chosen for the bus; the hub's
   ``ratio_to_ceiling`` is against this.
3. **forwarder ceiling**: a no-op forwarder process built from the hub's own ``Bus`` and ``Worker``
   does the same 4-hop routed exchange as the hub (requests -> provider inbox as a ``ServiceCall``,
   responses -> client inbox as a ``ServiceResult``), with nothing but decode, authenticate,
   re-address and sign: no database, no grant or schema check. Like the hub, it checks every consumed
   record's signature (``lgsp.bus.authentication``, with the systems' public keys held in memory where
   the hub reads them from its registry) and signs what it sends with a platform key the connectors
   trust, since the SDK refuses anything else. Same clients, same provider, same topics.
4. **the hub**, with 1 and then 2 hub processes in one consumer group: exchanges per second at
   saturation (closed loop: every client keeps ``--inflight`` requests in flight; completions counted
   over ``--duration`` seconds after a warm-up), the hub processes' CPU and RSS meanwhile, then p50/p99
   latency at half that rate (open loop: requests start on a fixed schedule and latency runs from the
   scheduled start to the answer, so queueing counts).

The load generator (the client connectors and the provider connector) runs in this process, apart from
the hub and the forwarder; its CPU is measured too, since on a two-core machine it competes with the
broker and the hub. Figures carry their unit in the key; progress goes to stderr. ``--profile FILE``
adds a py-spy run over the hub (one process) at saturation, after the measured phases, and lists the
hottest functions. A default run takes about three minutes::

    .venv/bin/python bench/exchange.py                             # SQLite, 1 and 2 hubs
    .venv/bin/python bench/exchange.py --database postgresql --hubs 1
    .venv/bin/python bench/exchange.py --hubs 1 --profile /tmp/hub-profile.txt
"""

import argparse
import asyncio
import contextlib
import json
import os
import platform
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

import httpx
import uvloop
from aiokafka import AIOKafkaConsumer
from prometheus_client.parser import text_string_to_metric_families
from sandbox.kafka import KafkaCluster
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine
from sqlmodel import col

from buscore.signing import HUB, Signer, SignerKey, Trust, b64, unb64
from connectors.sdk import Connector, ExchangeError
from lgsp.bus import Bus, Delivery, Rejection, Worker
from lgsp.bus.authentication import Authenticator
from lgsp.bus.broker import EmbeddedBroker
from lgsp.exchange.models import ExchangeRecord
from lgsp.security import issue_key
from lgsp.settings import Settings
from schemas.messages import REQUESTS, RESPONSES, ServiceCall, ServiceRequest, ServiceResponse, ServiceResult
from schemas.topics import Topics

from common import (
    ADMIN_TOKEN,
    FETCH_MAX_WAIT_MS,
    INBOX_PARTITIONS,
    PARTITIONS,
    SESSION_TIMEOUT_MS,
    Child,
    Clock,
    create_topics,
    database_url,
    loadavg,
    note,
    percentile_ms,
    rss_mib,
    spread_codes,
    start_hub,
    topic_layout,
    wait_connected,
)
from plain import PlainFleet, spawn_forwarder
from plain import topics as plain_topics

PROVIDER = "HO-TICH"
SERVICE = "birth-record.get"
#: Why the bench asks (a request about a person must say it; docs/citizens/data-tracker.md).
PURPOSE = "birth-registration"
PROVIDER_AGENCY = "SO-TP"
CLIENT_AGENCY = "VP-BENCH"
REQUEST_TIMEOUT_S = 30.0  # the exchange deadline: long enough that saturation never times out
REQUEST_SCHEMA = {
    "type": "object",
    "required": ["citizen_id"],
    "properties": {"citizen_id": {"type": "string", "pattern": "^[0-9]{12}$"}, "n": {"type": "integer"}},
}
ONE_WAY_SENDERS = 4  # concurrent send_all calls of the one-way producer
ONE_WAY_CHUNK = 500  # records per send_all
#: The hub's replay window and clock skew (their defaults), which the forwarder authenticates with.
REPLAY_WINDOW_S: float = Settings.model_fields["bus_replay_window"].default
CLOCK_SKEW_S: float = Settings.model_fields["bus_clock_skew"].default


def citizen_id(n: int) -> str:
    return f"079{n % 10**9:09d}"


class KnownKeys:
    """A key source (lgsp.bus.authentication.KeySource) over keys held in memory: the forwarder's, where
    the hub's keyring reads the registry."""

    def __init__(self, keys: Sequence[SignerKey]) -> None:
        self.known = {key.kid: key for key in keys}

    async def keys(self, kids: set[str]) -> dict[str, SignerKey]:
        return {kid: self.known[kid] for kid in kids if kid in self.known}


def signing_bus(
    bootstrap: str, topics: Topics, client_id: str, signer: Signer, keys: Sequence[SignerKey]
) -> Bus:
    """A bus with the hub's settings, signing as `signer` and authenticating with `keys` as the hub does."""
    return Bus(
        bootstrap,
        topics,
        client_id,
        signer=signer,
        authenticate=Authenticator(KnownKeys(keys), REPLAY_WINDOW_S, CLOCK_SKEW_S),
        session_timeout_ms=SESSION_TIMEOUT_MS,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )


def platform_signer() -> Signer:
    """A fresh platform key for a process that plays the hub."""
    return Signer.platform(HUB, os.urandom(32))


def sample_signer(client: str) -> Signer:
    """A system's signer with a key of the issued shape (nobody registers it: only sizes count)."""
    return Signer.for_system(client, issue_key().plaintext)


def sample_request(client: str, n: int) -> ServiceRequest:
    """A request like the ones the load sends (same payload shape and size)."""
    cid = citizen_id(n)
    return ServiceRequest(
        client=client,
        session_id=uuid.uuid4(),
        provider=PROVIDER,
        service=SERVICE,
        payload={"citizen_id": cid, "n": n},
        timeout_ms=int(REQUEST_TIMEOUT_S * 1000),
        subject=cid,
        purpose=PURPOSE,
    )


# ---------------------------------------------------------------------------------------------------
# The load generator: the SDK's connectors, closed and open loop


@dataclass
class Fleet:
    """The provider and the client connectors of one measurement."""

    provider: Connector
    clients: list[Connector]
    served: int = 0

    @classmethod
    def create(
        cls, bootstrap: str, prefix: str, keys: dict[str, str], clients: Sequence[str], trust: Trust | str
    ) -> "Fleet":
        """Connectors with these API keys, trusting the platform keys `trust` (the hub's, or the
        forwarder's): they refuse inbox messages signed by anyone else."""

        def connector(code: str) -> Connector:
            return Connector(
                code,
                keys[code],
                bootstrap,
                trust=trust,
                topic_prefix=prefix,
                session_timeout_ms=SESSION_TIMEOUT_MS,
                fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
            )

        fleet = cls(connector(PROVIDER), [connector(code) for code in clients])

        @fleet.provider.service(SERVICE)
        async def birth_record(payload: dict[str, Any]) -> dict[str, Any]:
            fleet.served += 1
            return {"citizen_id": payload["citizen_id"], "n": payload.get("n"), "registered_on": "2001-02-03"}

        return fleet

    @property
    def connectors(self) -> list[Connector]:
        return [self.provider, *self.clients]

    async def start(self) -> None:
        """Start every connector and wait until each inbox consumer has its partitions (the inboxes
        start at the latest offset: a call sent before the provider listens would be missed)."""
        for connector in self.connectors:
            await connector.start()
        async with asyncio.timeout(60):
            for connector in self.connectors:
                await connector._inbox_ready.wait()

    async def stop(self) -> None:
        await asyncio.gather(*(c.stop() for c in self.connectors), return_exceptions=True)

    async def request(self, client: Connector, n: int) -> None:
        cid = citizen_id(n)
        await client.request(
            PROVIDER,
            SERVICE,
            {"citizen_id": cid, "n": n},
            timeout=REQUEST_TIMEOUT_S,
            subject=cid,
            purpose=PURPOSE,
        )

    async def warm_up(self, within: float = 60.0) -> None:
        """One successful exchange per client (the hub may not know a session for a moment)."""
        deadline = time.perf_counter() + within
        for i, client in enumerate(self.clients):
            while True:
                try:
                    async with asyncio.timeout(10):
                        await self.request(client, i)
                    break
                except (ExchangeError, TimeoutError) as exc:
                    if time.perf_counter() > deadline:
                        raise TimeoutError(f"{client.system} never completed an exchange: {exc}") from exc
                    await asyncio.sleep(0.2)


class Generator(Protocol):
    """What the load loops drive: the SDK's fleet, or the plain-aiokafka one (bench/plain.py)."""

    @property
    def clients(self) -> Sequence[Any]: ...

    async def request(self, client: Any, n: int) -> None: ...


@dataclass
class Load:
    """What a load run counted."""

    completed: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    latencies: list[float] = field(default_factory=list)


async def closed_loop(
    fleet: Generator, inflight: int, warmup: float, seconds: float, pids: Sequence[int]
) -> tuple[dict[str, Any], Clock, Clock]:
    """Every client keeps `inflight` requests in flight; completions over `seconds` after `warmup`.

    Returns the figures and the CPU clocks at the start and end of the measured window."""
    load = Load()
    running = True
    counter = iter(range(10**9))

    async def loop(client: Any) -> None:
        while running:
            sent = time.perf_counter()
            try:
                await fleet.request(client, next(counter))
            except ExchangeError as exc:
                load.errors[exc.code] += 1
                continue
            now = time.perf_counter()
            load.completed += 1
            if measuring:
                load.latencies.append(now - sent)

    measuring = False
    tasks = [asyncio.create_task(loop(c)) for c in fleet.clients for _ in range(inflight)]
    try:
        await asyncio.sleep(warmup)
        measuring = True
        start, before, errors_before = Clock.now(pids), load.completed, sum(load.errors.values())
        await asyncio.sleep(seconds)
        end, after, errors_after = Clock.now(pids), load.completed, sum(load.errors.values())
        measuring = running = False
        async with asyncio.timeout(REQUEST_TIMEOUT_S + 15):
            await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    wall = end.wall - start.wall
    figures = {
        "in_flight": inflight * len(fleet.clients),
        "measured_s": round(wall, 2),
        "exchanges": after - before,
        "exchanges_per_s": round((after - before) / wall, 1),
        "errors": errors_after - errors_before,
        "error_codes": dict(load.errors),
        "closed_loop_p50_ms": percentile_ms(load.latencies, 50),
        "closed_loop_p99_ms": percentile_ms(load.latencies, 99),
        "generator_cpu_cores": end.cores_since(start),
    }
    return figures, start, end


async def open_loop(fleet: Generator, rate: float, warmup: float, seconds: float) -> dict[str, Any]:
    """Requests started on a fixed schedule (round-robin over the clients) at `rate` per second; latency
    from each one's scheduled start to its answer, for those scheduled after `warmup`."""
    load = Load()
    total = int(rate * (warmup + seconds))
    begin = time.perf_counter() + 0.05
    measured_from = begin + warmup
    late_starts = 0

    async def one(i: int, scheduled: float) -> None:
        try:
            await fleet.request(fleet.clients[i % len(fleet.clients)], i)
        except ExchangeError as exc:
            load.errors[exc.code] += 1
            return
        load.completed += 1
        if scheduled >= measured_from:
            load.latencies.append(time.perf_counter() - scheduled)

    tasks: list[asyncio.Task[None]] = []
    start_cpu = time.process_time()
    while len(tasks) < total:
        now = time.perf_counter()
        due = min(total, int((now - begin) * rate) + 1)
        while len(tasks) < due:
            scheduled = begin + len(tasks) / rate
            late_starts += now - scheduled > 0.005
            tasks.append(asyncio.create_task(one(len(tasks), scheduled)))
        await asyncio.sleep(max(0.0, begin + len(tasks) / rate - time.perf_counter()))
    scheduled_s = time.perf_counter() - begin
    generator_cores = (time.process_time() - start_cpu) / scheduled_s
    async with asyncio.timeout(REQUEST_TIMEOUT_S + 15):
        await asyncio.gather(*tasks)
    return {
        "rate_per_s": round(rate, 1),
        "measured_s": seconds,
        "exchanges": len(load.latencies),
        "errors": sum(load.errors.values()),
        "error_codes": dict(load.errors),
        "p50_ms": percentile_ms(load.latencies, 50),
        "p90_ms": percentile_ms(load.latencies, 90),
        "p99_ms": percentile_ms(load.latencies, 99),
        "max_ms": round(max(load.latencies) * 1000, 2) if load.latencies else None,
        "started_over_5ms_late": late_starts,
        "generator_cpu_cores": round(generator_cores, 3),
    }


# ---------------------------------------------------------------------------------------------------
# Child processes: the no-op forwarder and the one-way sink (this script, with --role)


class Forwarder:
    """The hub's routing with no work: decode, authenticate, re-address, sign. Built on the hub's own Bus
    and Worker, so consumer and producer settings, batching, commits, signature checks and signing are
    the hub's; only the handlers (and where the keys come from) differ."""

    def __init__(self, bus: Bus) -> None:
        self.bus = bus
        self.topics = bus.topics
        self.services: dict[uuid.UUID, str] = {}  # exchange id -> service (the hub keeps it in its record)
        group = f"{self.topics.prefix}.forwarder"
        self.workers: list[Worker[Any]] = [
            Worker(bus, "requests", self.topics.requests, REQUESTS, self.on_requests, group=f"{group}.req"),
            Worker(
                bus, "responses", self.topics.responses, RESPONSES, self.on_responses, group=f"{group}.resp"
            ),
        ]

    async def on_requests(self, deliveries: Sequence[Delivery[ServiceRequest]]) -> list[Rejection]:
        out: list[tuple[str, bytes, str | None]] = []
        for delivery in deliveries:
            request = delivery.message
            self.services[request.message_id] = request.service
            call = ServiceCall(
                exchange_id=request.message_id,
                system=request.provider,
                client=request.client,
                service=request.service,
                payload=request.payload,
                deadline=delivery.received_at + timedelta(milliseconds=request.timeout_ms),
            )
            out.append((self.topics.inbox(request.provider), self.bus.seal(call), request.client))
        await self.bus.send_all(out)
        return []

    async def on_responses(self, deliveries: Sequence[Delivery[ServiceResponse]]) -> list[Rejection]:
        out: list[tuple[str, bytes, str | None]] = []
        for delivery in deliveries:
            response = delivery.message
            result = ServiceResult(
                exchange_id=response.exchange_id,
                system=response.client,
                provider=response.provider,
                service=self.services.pop(response.exchange_id, ""),
                payload=response.payload,
                fault=response.fault,
            )
            out.append((self.topics.inbox(response.client), self.bus.seal(result), response.client))
        await self.bus.send_all(out)
        return []


def write_forwarder_keys(path: Path, signer_seed: bytes, api_keys: dict[str, str]) -> None:
    """What the forwarder process signs with (its platform seed) and the systems' public keys it checks
    their messages with (never their API keys), as JSON in `path`."""
    keys = [Signer.for_system(code, key) for code, key in api_keys.items()]
    document = {
        "seed": signer_seed.hex(),
        "keys": [{"kid": k.kid, "owner": k.owner, "public_key": b64(k.public_key)} for k in keys],
    }
    path.write_text(json.dumps(document))


def read_forwarder_keys(path: Path) -> tuple[Signer, list[SignerKey]]:
    document = json.loads(path.read_text())
    keys = []
    for key in document["keys"]:
        public = unb64(key["public_key"])
        assert public is not None
        keys.append(SignerKey(key["kid"], key["owner"], public))
    return Signer.platform(HUB, bytes.fromhex(document["seed"])), keys


async def run_forwarder(bootstrap: str, prefix: str, keys_path: Path) -> None:
    """The forwarder process: prints `ready` once both workers consume, then runs until terminated."""
    topics = Topics(prefix)
    signer, keys = read_forwarder_keys(keys_path)
    bus = signing_bus(bootstrap, topics, "bench-forwarder", signer, keys)
    await bus.connect({topics.requests: PARTITIONS, topics.responses: PARTITIONS})
    forwarder = Forwarder(bus)
    tasks = [asyncio.create_task(w.run()) for w in forwarder.workers]
    try:
        while not all(w.healthy for w in forwarder.workers):  # noqa: ASYNC110 (a flag of the hub's Worker)
            await asyncio.sleep(0.05)
        print("ready", flush=True)
        await asyncio.gather(*tasks)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await bus.stop()


async def run_sink(bootstrap: str, topic: str) -> None:
    """The one-way consumer process, with the hub worker's consumer settings and a commit per batch.

    Prints `ready` once it has partitions, then counts records until stdin closes, and prints its
    samples (wall time, records so far) as one JSON line."""
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"{topic}.sink",
        client_id="bench-sink",
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        max_poll_records=1000,
        metadata_max_age_ms=5_000,
        session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=max(100, SESSION_TIMEOUT_MS // 4),
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )
    await consumer.start()
    loop = asyncio.get_running_loop()
    stdin = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(stdin), sys.stdin)
    closed = asyncio.create_task(stdin.read())
    count = 0
    samples: list[tuple[float, int]] = []
    announced = False
    try:
        while not closed.done():
            batches = await consumer.getmany(timeout_ms=100, max_records=1000)
            if not announced and consumer.assignment():
                print("ready", flush=True)
                announced = True
            if batches:
                count += sum(len(records) for records in batches.values())
                await consumer.commit({tp: records[-1].offset + 1 for tp, records in batches.items()})
            samples.append((time.time(), count))
    finally:
        await consumer.stop()
    print(json.dumps(samples), flush=True)


# ---------------------------------------------------------------------------------------------------
# The orchestrator


async def spawn_role(role: str, bootstrap: str, workdir: Path, *extra: str) -> Child:
    """This script as a child process in `role`; returns once it printed `ready`."""
    log = workdir / f"{role}.log"
    with log.open("wb") as err:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--role",
            role,
            "--bootstrap",
            bootstrap,
            *extra,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=err,
        )
    child = Child(process, log, role)
    assert process.stdout is not None
    try:
        async with asyncio.timeout(60):
            line = await process.stdout.readline()
    except TimeoutError:
        line = b""
    if line.strip() != b"ready":
        await child.stop()
        raise RuntimeError(f"{role} did not start: {child.tail()}")
    return child


async def one_way(bootstrap: str, workdir: Path, warmup: float, seconds: float) -> dict[str, Any]:
    """One producer (the hub's Bus) -> one consumer (another process): records per second."""
    topics = Topics(f"bench{uuid.uuid4().hex[:8]}")
    topic = f"{topics.prefix}.oneway"
    await create_topics(bootstrap, {topic: PARTITIONS})
    clients = spread_codes("MOT-CUA", PARTITIONS, PARTITIONS)
    signers = {client: sample_signer(client) for client in clients}
    records: list[tuple[str, bytes, str | None]] = []
    for i in range(ONE_WAY_CHUNK * ONE_WAY_SENDERS):
        client = clients[i % len(clients)]
        records.append((topic, signers[client].seal(sample_request(client, i)), client))
    size = statistics.mean(len(value) for _, value, _ in records)
    sink = await spawn_role("sink", bootstrap, workdir, "--topic", topic)
    bus = signing_bus(bootstrap, topics, "bench-oneway", platform_signer(), [])
    await bus.start()
    sent = 0
    begin = time.time()
    stop_at = time.perf_counter() + warmup + seconds

    async def sender(k: int) -> None:
        nonlocal sent
        chunk = records[k * ONE_WAY_CHUNK : (k + 1) * ONE_WAY_CHUNK]
        while time.perf_counter() < stop_at:
            await bus.send_all(chunk)
            sent += len(chunk)

    own = time.process_time()
    try:
        await asyncio.gather(*(sender(k) for k in range(ONE_WAY_SENDERS)))
        producer_cores = (time.process_time() - own) / (warmup + seconds)
        end = time.time()
        await asyncio.sleep(1.0)  # let the consumer drain what it can
    finally:
        await bus.stop()
        assert sink.process.stdin is not None and sink.process.stdout is not None
        sink.process.stdin.close()
        output = await sink.process.stdout.read()
        await sink.stop()
    samples: list[tuple[float, int]] = json.loads(output.splitlines()[-1])
    window = [(t, n) for t, n in samples if begin + warmup <= t <= end]
    if len(window) < 2:  # too few samples in the window (a starved sink): take the whole run
        window = samples
    (t0, n0), (t1, n1) = window[0], window[-1]
    return {
        "record_bytes": round(size),
        "partitions": PARTITIONS,
        "records_sent": sent,
        "records_consumed": samples[-1][1],
        "records_per_s": round((n1 - n0) / (t1 - t0), 1),
        "producer_acked_per_s": round(sent / (warmup + seconds), 1),
        "producer_cpu_cores": round(producer_cores, 3),
    }


async def one_hop_latency(bootstrap: str, records: int = 30) -> dict[str, Any]:
    """Produce -> consume latency of single records sent at random moments on an idle topic, with the
    hub's producer (Bus) and the worker's consumer settings: the bus's share of every hop's latency."""
    topics = Topics(f"bench{uuid.uuid4().hex[:8]}")
    topic = f"{topics.prefix}.hop"
    await create_topics(bootstrap, {topic: PARTITIONS})
    bus = signing_bus(bootstrap, topics, "bench-hop", platform_signer(), [])
    await bus.start()
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"{topic}.g",
        enable_auto_commit=False,
        auto_offset_reset="latest",
        max_poll_records=1000,
        metadata_max_age_ms=5_000,
        session_timeout_ms=SESSION_TIMEOUT_MS,
        heartbeat_interval_ms=max(100, SESSION_TIMEOUT_MS // 4),
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )
    await consumer.start()
    value = sample_signer("MOT-CUA-00").seal(sample_request("MOT-CUA-00", 0))
    latencies: list[float] = []
    rng = random.Random(7)
    try:
        while not consumer.assignment():
            await consumer.getmany(timeout_ms=100)
        await consumer.seek_to_end()
        for i in range(records):
            await asyncio.sleep(rng.uniform(0.0, 0.2))
            sent = time.perf_counter()
            await bus.send_all([(topic, value, f"k{i}")])
            while not await consumer.getmany(timeout_ms=2000):
                pass
            latencies.append(time.perf_counter() - sent)
    finally:
        await consumer.stop()
        await bus.stop()
    return {
        "records": records,
        "p50_ms": percentile_ms(latencies, 50),
        "max_ms": round(max(latencies) * 1000, 1),
        "fetch_max_wait_ms": FETCH_MAX_WAIT_MS,
    }


async def plain_ceiling(
    bootstrap: str,
    workdir: Path,
    args: argparse.Namespace,
    clients: list[str],
    broker_pids: list[int],
    record_bytes: int,
) -> dict[str, Any]:
    """The plain-aiokafka 4-hop forwarder (bench/plain.py: no project code) between plain clients and
    provider: saturation, then latency at half of it and at each --latency-fractions."""
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    await create_topics(bootstrap, plain_topics(prefix, PROVIDER, clients, PARTITIONS, INBOX_PARTITIONS))
    log = workdir / f"{prefix}.plain-forwarder.log"
    process = await spawn_forwarder(bootstrap, prefix, PROVIDER, log)
    forwarder = Child(process, log, "plain-forwarder")
    fleet = PlainFleet(bootstrap, prefix, PROVIDER, clients, record_bytes)
    try:
        await fleet.start()
        note(f"plain aiokafka forwarder: saturating for {args.duration} s")
        pids = [forwarder.pid, *broker_pids]
        saturation, start, end = await closed_loop(fleet, args.inflight, args.warmup, args.duration, pids)
        saturation |= {
            "forwarder_cpu_cores": end.cores_since(start, forwarder.pid),
            "broker_cpu_cores": round(sum(end.cores_since(start, pid) for pid in broker_pids), 3),
            "machine_busy_cores": end.machine_cores_since(start),
        }
        note(f"plain aiokafka forwarder: {saturation['exchanges_per_s']}/s")
        latency = await latency_runs(fleet, saturation["exchanges_per_s"], args, "plain aiokafka")
    finally:
        await fleet.stop()
        await forwarder.stop()
    return {"saturation": saturation} | latency


async def forwarder_ceiling(
    bootstrap: str, workdir: Path, args: argparse.Namespace, clients: list[str], broker_pids: list[int]
) -> dict[str, Any]:
    """The no-op forwarder between the same connectors: saturation, then latency at half of it."""
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    topics = Topics(prefix)
    await create_topics(bootstrap, topic_layout(topics, [PROVIDER, *clients]))
    # The systems' API keys (as the hub would issue them) and the forwarder's platform key, which the
    # connectors trust as they trust the hub's.
    api_keys = {code: issue_key().plaintext for code in [PROVIDER, *clients]}
    seed = os.urandom(32)
    keys_path = workdir / f"{prefix}.forwarder-keys.json"
    write_forwarder_keys(keys_path, seed, api_keys)
    forwarder = await spawn_role(
        "forwarder", bootstrap, workdir, "--prefix", prefix, "--keys", str(keys_path)
    )
    trust = Trust.of(Signer.platform(HUB, seed))
    fleet = Fleet.create(bootstrap, prefix, api_keys, clients, trust)
    try:
        await fleet.start()
        await fleet.warm_up()
        note(f"forwarder: saturating for {args.duration} s")
        pids = [forwarder.pid, *broker_pids]
        saturation, start, end = await closed_loop(fleet, args.inflight, args.warmup, args.duration, pids)
        saturation |= {
            "forwarder_cpu_cores": end.cores_since(start, forwarder.pid),
            "broker_cpu_cores": round(sum(end.cores_since(start, pid) for pid in broker_pids), 3),
            "machine_busy_cores": end.machine_cores_since(start),
            "forwarder_rss_mib": round(rss_mib(forwarder.pid)[0], 1),
        }
        note(f"forwarder: {saturation['exchanges_per_s']}/s")
        latency = await latency_runs(fleet, saturation["exchanges_per_s"], args, "forwarder")
    finally:
        await fleet.stop()
        await forwarder.stop()
    return {"saturation": saturation} | latency


async def register(api: httpx.AsyncClient, clients: Sequence[str]) -> tuple[dict[str, str], int, str]:
    """The provider and the clients, the service with its request schema, and a grant to the clients'
    agency, over the REST API as an integrator would; the API keys, the provider's id and the trust
    anchor the registrations gave (the platform keys the connectors check the hub's messages with)."""
    for agency in (PROVIDER_AGENCY, CLIENT_AGENCY):
        response = await api.post(
            "/api/v1/agencies", json={"code": agency, "name": agency, "level": "province"}
        )
        response.raise_for_status()
    keys: dict[str, str] = {}
    ids: dict[str, int] = {}
    trust = ""
    for code in [PROVIDER, *clients]:
        agency = PROVIDER_AGENCY if code == PROVIDER else CLIENT_AGENCY
        response = await api.post(
            "/api/v1/systems", json={"code": code, "name": f"System {code}", "agency_code": agency}
        )
        response.raise_for_status()
        body = response.json()
        keys[code], ids[code], trust = body["api_key"], body["id"], body["bus_trust"]
    provider = ids[PROVIDER]
    response = await api.post(
        f"/api/v1/systems/{provider}/services", json={"code": SERVICE, "request_schema": REQUEST_SCHEMA}
    )
    response.raise_for_status()
    response = await api.post(
        f"/api/v1/systems/{provider}/grants", json={"service": SERVICE, "client_agency": CLIENT_AGENCY}
    )
    response.raise_for_status()
    return keys, provider, trust


async def consumed_requests(base: str) -> float:
    """Requests a hub process consumed so far (from its /metrics)."""
    async with httpx.AsyncClient(base_url=base, timeout=10) as client:
        text = (await client.get("/metrics")).text
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "lgsp_bus_records_consumed_total" and s.labels.get("worker") == "requests"
    )


async def profile_hub(pid: int, fleet: Fleet, args: argparse.Namespace) -> dict[str, Any]:
    """py-spy over one hub process at saturation (an extra run, not part of the figures)."""
    output = Path(args.profile)
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        return {"error": "py-spy is not installed (pip install -c constraints.txt -e '.[dev]')"}
    seconds = max(5, int(args.profile_seconds))
    note(f"profiling hub pid {pid} for {seconds} s at saturation")
    process = await asyncio.create_subprocess_exec(
        str(spy),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(seconds),
        "--rate",
        "200",
        "--gil",  # only the thread holding the GIL: Python work, not threads waiting on a queue or socket
        "--format",
        "raw",
        "--output",
        str(output),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    load = asyncio.create_task(closed_loop(fleet, args.inflight, 1.0, seconds + 1.0, []))
    _, err = await process.communicate()
    figures, _, _ = await load
    raw = read_text(output) if process.returncode == 0 else None
    if raw is None:
        return {"error": err.decode(errors="replace")[-500:]}
    return {
        "file": str(output),
        "seconds": seconds,
        "exchanges_per_s_while_profiled": figures["exchanges_per_s"],
        "share_of": "samples (200/s) in which a thread of the hub held the GIL (py-spy --gil)",
    } | hotspots(raw)


def read_text(path: Path) -> str | None:
    """A small file's text, or None if it is missing."""
    try:
        return path.read_text()
    except OSError:
        return None


def hotspots(raw: str, top: int = 15) -> dict[str, Any]:
    """From py-spy's raw (collapsed) output: the functions with the most samples on top of the stack
    (self), and the project's functions with the most samples anywhere in the stack (inclusive)."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        samples = int(count)
        total += samples
        frames = [parsed for parsed in map(frame_name, stack.split(";")) if parsed is not None]
        if frames:
            own[frames[-1][0]] += samples
        for name in {name for name, ours in frames if ours}:
            inclusive[name] += samples
    total = total or 1
    return {
        "samples": total,
        "self": [{"function": f, "share": round(n / total, 3)} for f, n in own.most_common(top)],
        "inclusive_project_code": [
            {"function": f, "share": round(n / total, 3)} for f, n in inclusive.most_common(top)
        ],
    }


PROJECT_CODE = ("lgsp/", "schemas/", "connectors/", "monitoring/")


def frame_name(frame: str) -> tuple[str, bool] | None:
    """`function (path/module.py:123)` -> (`function (path/module.py)`, whether it is the project's own
    code, not its entry point); None for frames that are not Python functions."""
    name, _, where = frame.partition(" (")
    if not where or frame.startswith(("process ", "thread ")):
        return None
    path = where.rstrip(")").rsplit(":", 1)[0]
    return f"{name} ({path})", path.startswith(PROJECT_CODE) and path != "lgsp/cli.py"


async def through_hubs(
    hubs: int,
    bootstrap: str,
    workdir: Path,
    args: argparse.Namespace,
    clients: list[str],
    broker_pids: list[int],
) -> dict[str, Any]:
    """The real hub in `hubs` processes on a fresh database: saturation with CPU/RSS, then latency."""
    prefix = f"bench{uuid.uuid4().hex[:8]}"
    topics = Topics(prefix)
    await create_topics(bootstrap, topic_layout(topics, [PROVIDER, *clients]))
    async with database_url(args.database, args.pg_server, workdir) as url:
        running: list[tuple[Child, str]] = []
        fleet: Fleet | None = None
        try:
            for i in range(hubs):
                running.append(await start_hub(i, bootstrap, url, prefix, workdir))
            note(f"{hubs} hub(s) ready on {args.database}; registering")
            base = running[0][1]
            async with httpx.AsyncClient(
                base_url=base, timeout=30, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
            ) as api:
                keys, provider_id, trust = await register(api, clients)
                fleet = Fleet.create(bootstrap, prefix, keys, clients, trust)
                await fleet.start()
                await wait_connected(api, provider_id)
            await fleet.warm_up()
            pids = [hub.pid for hub, _ in running] + broker_pids
            consumed_before = [await consumed_requests(b) for _, b in running]
            note(f"{hubs} hub(s): saturating for {args.duration} s")
            saturation, start, end = await closed_loop(fleet, args.inflight, args.warmup, args.duration, pids)
            consumed_after = [await consumed_requests(b) for _, b in running]
            memory = [rss_mib(hub.pid) for hub, _ in running]
            saturation |= {
                "hub_cpu_cores": round(sum(end.cores_since(start, hub.pid) for hub, _ in running), 3),
                "hub_cpu_cores_each": [end.cores_since(start, hub.pid) for hub, _ in running],
                "hub_rss_mib": round(sum(now for now, _ in memory), 1),
                "hub_rss_mib_each": [round(now, 1) for now, _ in memory],
                "hub_peak_rss_mib_each": [round(peak, 1) for _, peak in memory],
                "broker_cpu_cores": round(sum(end.cores_since(start, pid) for pid in broker_pids), 3),
                "machine_busy_cores": end.machine_cores_since(start),
                "requests_consumed_share_each": share(consumed_before, consumed_after),
            }
            note(f"{hubs} hub(s): {saturation['exchanges_per_s']}/s")
            rate = saturation["exchanges_per_s"]
            latency = await latency_runs(fleet, rate, args, f"{hubs} hub(s)", url)
            profile = None
            if args.profile and hubs == 1:
                profile = await profile_hub(running[0][0].pid, fleet, args)
        finally:
            if fleet is not None:
                await fleet.stop()
            for hub, _ in running:
                await hub.stop()
    result = {"saturation": saturation} | latency
    return result | ({"profile": profile} if profile else {})


async def latency_runs(
    fleet: Generator,
    saturation_rate: float,
    args: argparse.Namespace,
    label: str,
    database: str | None = None,
) -> dict[str, Any]:
    """Open-loop latency at half the saturation rate (the issue's figure), and at each other fraction
    of it in --latency-fractions (the latency curve: where queueing starts). With the hub's `database`,
    each point also says where the time went (`stages_ms`, from the exchange records)."""
    if args.latency_duration <= 0:
        return {"latency_at_half_saturation": None}
    curve: dict[str, Any] = {}
    for fraction in sorted({0.5, *args.latency_fractions}):
        rate = saturation_rate * fraction
        await asyncio.sleep(1.0)  # let the previous run's last answers drain
        note(f"{label}: latency at {rate:.0f}/s ({fraction:g} of saturation) for {args.latency_duration} s")
        started = datetime.now(UTC) + timedelta(seconds=args.warmup)
        curve[f"{fraction:g}"] = await open_loop(fleet, rate, args.warmup, args.latency_duration)
        if database is not None:
            curve[f"{fraction:g}"]["stages_ms"] = await stages(database, started, datetime.now(UTC))
        note(f"{label}: p50 {curve[f'{fraction:g}']['p50_ms']} ms, p99 {curve[f'{fraction:g}']['p99_ms']} ms")
    return {"latency_at_half_saturation": curve["0.5"], "latency_by_fraction_of_saturation": curve}


async def stages(database: str, since: datetime, until: datetime) -> dict[str, Any]:
    """Where an exchange's time went, from the records of those the hub received in [since, until]: the
    hub's own work on the request (received to forwarded: admission, the record's insert, the send) and
    on the answer (received to sent on: settlement), and the provider's hop between (two bus hops and
    the provider). What the client measured beyond these is the other two bus hops."""
    engine = create_async_engine(database)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    select(
                        ExchangeRecord.request_in_at,  # type: ignore[call-overload]
                        ExchangeRecord.request_out_at,
                        ExchangeRecord.response_in_at,
                        ExchangeRecord.response_out_at,
                    ).where(col(ExchangeRecord.request_in_at).between(since, until))
                )
            ).all()
    finally:
        await engine.dispose()
    spans = {"hub_request": (0, 1), "provider_hop": (1, 2), "hub_answer": (2, 3)}
    out: dict[str, Any] = {"exchanges": len(rows)}
    for name, (a, b) in spans.items():
        seconds = [(r[b] - r[a]).total_seconds() for r in rows if r[a] is not None and r[b] is not None]
        out[name] = {"p50": percentile_ms(seconds, 50), "p99": percentile_ms(seconds, 99)}
    return out


def share(before: Sequence[float], after: Sequence[float]) -> list[float]:
    deltas = [a - b for a, b in zip(after, before, strict=True)]
    total = sum(deltas) or 1.0
    return [round(d / total, 3) for d in deltas]


def summary(figures: dict[str, Any], ceiling: float, forwarder: float) -> dict[str, Any]:
    """The headline figures of one hub configuration: its ratio to the plain-aiokafka ceiling (the
    target's) and to the forwarder built from the project's layers."""
    saturation, latency = figures["saturation"], figures["latency_at_half_saturation"] or {}
    rate = saturation["exchanges_per_s"]
    return {
        "exchanges_per_s": rate,
        "ratio_to_ceiling": round(rate / ceiling, 3) if ceiling else None,
        "ratio_to_forwarder": round(rate / forwarder, 3) if forwarder else None,
        "p50_ms": latency.get("p50_ms"),
        "p99_ms": latency.get("p99_ms"),
        "rate_for_latency": latency.get("rate_per_s"),
        "hub_cpu_cores": saturation["hub_cpu_cores"],
        "hub_rss_mb": saturation["hub_rss_mib"],
        "hub_cpu_ms_per_exchange": round(
            1000 * saturation["hub_cpu_cores"] / saturation["exchanges_per_s"], 3
        )
        if saturation["exchanges_per_s"]
        else None,
        "generator_cpu_cores": saturation["generator_cpu_cores"],
        "broker_cpu_cores": saturation["broker_cpu_cores"],
        "machine_busy_cores": saturation["machine_busy_cores"],
    }


@contextlib.asynccontextmanager
async def bench_broker(
    kind: str, workdir: Path
) -> AsyncIterator[tuple[EmbeddedBroker | KafkaCluster, list[int]]]:
    """The broker measured on and the pids whose CPU is the broker's: the embedded Tansu broker, or a
    3-node Apache Kafka cluster whose topics get 3 replicas and min.insync.replicas=2 (the hubs the
    benchmark starts inherit the settings from this environment)."""
    if kind == "tansu":
        async with EmbeddedBroker() as tansu:
            assert tansu._process is not None
            yield tansu, [tansu._process.pid]
        return
    os.environ |= {
        "LGSP_KAFKA_REPLICATION_FACTOR": "3",
        "LGSP_KAFKA_MIN_INSYNC_REPLICAS": "2",
        "LGSP_KAFKA_IDEMPOTENCE": "true",
    }
    async with KafkaCluster(3, workdir / "kafka") as cluster:
        yield cluster, [node.pid for node in cluster.nodes()]


async def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    load_before = loadavg()
    clients = spread_codes("MOT-CUA", args.clients, PARTITIONS)
    hub_counts = [int(h) for h in args.hubs.split(",")]
    result: dict[str, Any] = {
        "benchmark": "exchange",
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "loadavg_at_start": load_before,
        },
        "parameters": {
            "broker": args.broker,
            "database": args.database,
            "clients": args.clients,
            "inflight_per_client": args.inflight,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "latency_duration_s": args.latency_duration,
            "hubs": hub_counts,
            "partitions": PARTITIONS,
            "inbox_partitions": INBOX_PARTITIONS,
            "consumer_session_timeout_ms": SESSION_TIMEOUT_MS,
            "request_timeout_s": REQUEST_TIMEOUT_S,
        },
    }
    with tempfile.TemporaryDirectory(prefix="lgsp-bench-exchange-") as tmp:
        workdir = Path(tmp)
        async with bench_broker(args.broker, workdir) as (broker, broker_pids):
            note(f"broker {broker.bootstrap}; one-way ceiling for {args.warmup + args.duration} s")
            oneway = await one_way(broker.bootstrap, workdir, args.warmup, args.duration)
            note(f"one-way: {oneway['records_per_s']} records/s; one-hop latency on an idle topic")
            hop = await one_hop_latency(broker.bootstrap)
            note(f"one hop: p50 {hop['p50_ms']} ms")
            plain = await plain_ceiling(
                broker.bootstrap, workdir, args, clients, broker_pids, oneway["record_bytes"]
            )
            forwarder = await forwarder_ceiling(broker.bootstrap, workdir, args, clients, broker_pids)
            ceiling = plain["saturation"]["exchanges_per_s"]
            stack = forwarder["saturation"]["exchanges_per_s"]
            flat = forwarder["latency_at_half_saturation"] or {}
            bare = plain["latency_at_half_saturation"] or {}
            tenth = (plain.get("latency_by_fraction_of_saturation") or {}).get("0.1") or {}
            result["ceiling"] = {
                "one_way_records_per_s": oneway["records_per_s"],
                "one_hop_idle_p50_ms": hop["p50_ms"],
                "plain_exchanges_per_s": ceiling,
                "plain_p50_ms": bare.get("p50_ms"),
                "plain_p99_ms": bare.get("p99_ms"),
                "plain_tenth_p50_ms": tenth.get("p50_ms"),
                "plain_tenth_p99_ms": tenth.get("p99_ms"),
                "plain_forwarder_cpu_cores": plain["saturation"]["forwarder_cpu_cores"],
                "plain_generator_cpu_cores": plain["saturation"]["generator_cpu_cores"],
                "forwarder_exchanges_per_s": stack,
                "forwarder_ratio_to_plain": round(stack / ceiling, 3) if ceiling else None,
                "forwarder_p50_ms": flat.get("p50_ms"),
                "forwarder_p99_ms": flat.get("p99_ms"),
                "forwarder_cpu_cores": forwarder["saturation"]["forwarder_cpu_cores"],
                "generator_cpu_cores": forwarder["saturation"]["generator_cpu_cores"],
                "broker_cpu_cores": forwarder["saturation"]["broker_cpu_cores"],
                "machine_busy_cores": forwarder["saturation"]["machine_busy_cores"],
            }
            details: dict[str, Any] = {
                "one_way": oneway,
                "one_hop_idle": hop,
                "plain": plain,
                "forwarder": forwarder,
            }
            result["hub"] = {}
            for hubs in hub_counts:
                figures = await through_hubs(hubs, broker.bootstrap, workdir, args, clients, broker_pids)
                details[f"hub_{hubs}"] = figures
                result["hub"][str(hubs)] = summary(figures, ceiling, stack)
    generator = [result["ceiling"]["generator_cpu_cores"], result["ceiling"]["plain_generator_cpu_cores"]] + [
        h["generator_cpu_cores"] for h in result["hub"].values()
    ]
    result["generator_cpu_cores"] = max(generator)
    result["generator_bound"] = max(generator) > 0.85
    result["details"] = details
    result["machine"]["loadavg_at_end"] = loadavg()
    result["elapsed_s"] = round(time.perf_counter() - started, 1)
    result["method"] = {
        "saturation": "closed loop: each client connector keeps inflight requests in flight (SDK "
        "Connector.request); completed exchanges counted over duration_s after warmup_s",
        "latency": "open loop at half the measured saturation: requests started on a fixed schedule, "
        "round-robin over the clients; latency = answer time - scheduled start (queueing counts)",
        "plain_ceiling": "bench/plain.py: clients, provider and a 4-hop no-op forwarder process written "
        "with aiokafka alone (fetch wait 5 ms, linger 1 ms, acks=all, commit per batch), records of the size "
        "of a signed request, same topics, clients and in-flight requests; ratio_to_ceiling is against it",
        "ceiling": "forwarder: the hub's Bus and Worker with handlers that only decode, re-address and "
        "encode (ServiceRequest -> ServiceCall, ServiceResponse -> ServiceResult), no database; one_way: "
        "the hub's producer (Bus.send_all) to one consumer process with the worker's consumer settings",
        "cpu": "utime+stime from /proc/<pid>/stat over the measured window, in cores; generator = this "
        "process (clients and provider connectors); a PostgreSQL server's CPU is not counted",
        "machine_busy_cores": "non-idle time of every core from /proc/stat over the saturation window "
        "(all processes, a PostgreSQL server's too): at the core count, the machine is the limit",
        "generator_bound": "true when the generator used more than 0.85 of a core: it, not the hub, "
        "may then limit the figures",
    }
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds of each saturation run (10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="seconds of load before measuring (2)")
    parser.add_argument(
        "--latency-duration", type=float, default=8.0, help="seconds of each latency run (8; 0 skips)"
    )
    parser.add_argument(
        "--latency-fractions",
        type=lambda text: [float(x) for x in text.split(",") if x],
        default=[],
        help="fractions of saturation to measure latency at besides 0.5, e.g. 0.1,0.25 (none)",
    )
    parser.add_argument("--clients", type=int, default=6, help="client connectors (6)")
    parser.add_argument("--inflight", type=int, default=100, help="requests in flight per client (100)")
    parser.add_argument(
        "--hubs",
        default="1,2",
        choices=["1", "2", "3", "1,2", "1,2,3"],
        help="hub processes, one run per count (1,2: both)",
    )
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--broker",
        choices=["tansu", "kafka"],
        default="tansu",
        help="the embedded Tansu broker, or a 3-node Apache Kafka cluster (3 replicas, min ISR 2)",
    )
    parser.add_argument(
        "--pg-server",
        default=os.environ.get("LGSP_TEST_PG", "postgres@127.0.0.1:5432"),
        help="USER@HOST:PORT of a PostgreSQL server with a `test` database (trust auth)",
    )
    parser.add_argument("--profile", default=None, help="py-spy raw profile of the hub written here")
    parser.add_argument("--profile-seconds", type=float, default=15.0, help="length of the profile (15)")
    parser.add_argument("--role", choices=["forwarder", "sink"], help=argparse.SUPPRESS)
    parser.add_argument("--bootstrap", help=argparse.SUPPRESS)
    parser.add_argument("--prefix", help=argparse.SUPPRESS)
    parser.add_argument("--topic", help=argparse.SUPPRESS)
    parser.add_argument("--keys", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "forwarder":
        with contextlib.suppress(KeyboardInterrupt):
            uvloop.run(_until_terminated(run_forwarder(args.bootstrap, args.prefix, Path(args.keys))))
        return
    if args.role == "sink":
        uvloop.run(run_sink(args.bootstrap, args.topic))
        return
    # Every process of the run on uvloop, as the hub (lgsp.cli.run): the ceilings and the load generator
    # get the same event loop as what they are compared with.
    print(json.dumps(uvloop.run(run(args)), indent=2))


async def _until_terminated(main: Any) -> None:
    """Run `main`, cancelling it on SIGTERM so its cleanup runs."""
    task = asyncio.ensure_future(main)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
    with contextlib.suppress(asyncio.CancelledError):
        await task


if __name__ == "__main__":
    main()
