"""Benchmark of the hub's connectivity ingestion: hellos and heartbeats on the real bus and database.

What it measures, on the real parts (embedded Tansu broker, SQLite or a fresh PostgreSQL database, the
hub application with its bus workers, talked to in-process through httpx's ASGI transport):

1. registering N systems one by one over ``POST /api/v1/systems`` as admin (registrations per second),
   then how long the hub needs to finish a probe round over all of them (the first probe of a system
   creates its inbox topic); the steady-state phases below start after it;
2. opening a session for every system with a ``Hello`` on the connectivity topic, signed with the
   system's key as its connector signs it, until the hub has consumed them all (hellos per second);
3. the hub with every session open and no heartbeats for one probe interval: its background CPU and the
   latency of ``GET /api/v1/indicators``;
4. heartbeats offered at a fixed rate, spread round-robin over the systems: the rate the hub accepts
   them (``lgsp_heartbeats_total`` deltas read from ``GET /metrics``), the processing lag (from the
   broker's acknowledgement of the last heartbeat to the counter reaching the total), the CPU used, and
   the latency of ``GET /api/v1/indicators`` sampled while heartbeats flow;
5. saturation: heartbeats offered as fast as the hub takes them (a backlog of a few thousand records is
   kept on the topic so the hub never idles) and the accepted rate it sustains;
6. after the hub stopped, the producer alone at the same fixed rate: the hub runs in this process next
   to the producer, and its CPU share is the whole process's minus the producer's.

It prints one JSON object on stdout (figures carry their unit in the key name); progress goes to stderr.
Run it from the repository root (a default run takes about three minutes on two cores, most of it
registering the systems and waiting for the hub's first probe round over them)::

    .venv/bin/python bench/heartbeats.py                          # SQLite, 2,000 systems, 1,000/s, 20 s
    .venv/bin/python bench/heartbeats.py --database postgresql    # a fresh database on 127.0.0.1:5432
    .venv/bin/python bench/heartbeats.py --systems 500 --rate 2000 --seconds 10

The targets of the performance issue (reported, not enforced): heartbeat processing keeps up with
1,000 per second using under half of one core, and ``GET /api/v1/indicators`` answers with p99 < 20 ms.
"""

import argparse
import asyncio
import json
import os
import platform
import resource
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from asgi_lifespan import LifespanManager
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from buscore.signing import Signer
from lgsp.app import create_app
from lgsp.bus.broker import EmbeddedBroker
from lgsp.settings import Settings
from schemas.messages import Heartbeat, Hello
from schemas.topics import Topics

from common import SECRET_KEY, database_url

ADMIN_TOKEN = "bench-admin-token-0123456789"
AGENCY = "SO-BENCH"
INDICATOR_CALLS_PER_SECOND = 10  # 200 calls over the default 20 s run
IDLE_SECONDS = 10.0  # one default probe interval, so one probe round falls inside
SATURATION_BACKLOG = 5_000  # records kept waiting on the topic while saturating (five hub batches)
SATURATION_WARMUP_SECONDS = 1.0
LAG_TIMEOUT_SECONDS = 60.0
SETTLE_TIMEOUT_SECONDS = 180.0
PRODUCER_ONLY_MAX_SECONDS = 10.0  # the producer's cost at a fixed rate is steady: no need to run longer
TARGET_RATE_PER_SECOND = 1_000
TARGET_HUB_CPU_SHARE = 0.5
TARGET_INDICATORS_P99_MS = 20.0
KEEPS_UP_LAG_MS = 1_000.0  # every heartbeat accepted within a second of the last one sent: no backlog grows


def note(message: str) -> None:
    """Progress on stderr, so stdout holds only the JSON result."""
    print(f"[heartbeats {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


@dataclass(frozen=True, slots=True)
class SystemSession:
    """A registered system with its signer (from its API key) and the session its hello opened."""

    system_id: int
    code: str
    signer: Signer
    session_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class CpuClock:
    """Wall time, CPU of this process (every thread) and CPU of its children (the broker), in seconds."""

    wall: float
    process: float
    children: float

    @classmethod
    def now(cls) -> "CpuClock":
        return cls(time.perf_counter(), time.process_time(), children_cpu_seconds())

    def shares_since(self, start: "CpuClock") -> tuple[float, float]:
        """CPU used since `start` by this process and by the broker, as shares of one core."""
        wall = self.wall - start.wall
        return (self.process - start.process) / wall, (self.children - start.children) / wall


def children_cpu_seconds() -> float:
    """User + system CPU of the live child processes (the embedded broker), from /proc."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for children in Path("/proc/self/task").glob("*/children"):
        for pid in children.read_text().split():
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:  # it ended meanwhile
                continue
            fields = stat.rsplit(")", 1)[1].split()  # fields from the 3rd on: utime is 14th, stime 15th
            total += int(fields[11]) + int(fields[12])
    return total / ticks


def percentile_ms(latencies: Sequence[float], percent: int) -> float:
    """The `percent`th percentile of latencies given in seconds, in milliseconds."""
    return round(statistics.quantiles(latencies, n=100, method="inclusive")[percent - 1] * 1000, 2)


async def metric(client: httpx.AsyncClient, name: str, **labels: str) -> float:
    """Sum of the samples of `name` with these labels on the hub's `/metrics`."""
    response = await client.get("/metrics")
    response.raise_for_status()
    return sum(
        sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


async def heartbeats_total(client: httpx.AsyncClient) -> float:
    """Heartbeats the hub accepted so far."""
    return await metric(client, "lgsp_heartbeats_total")


async def wait_for_count(
    client: httpx.AsyncClient, name: str, target: float, within: float, interval: float = 0.01, **labels: str
) -> float:
    """Poll `/metrics` until the metric reaches `target`; its last value (short of it after `within` s)."""
    deadline = time.perf_counter() + within
    while True:
        value = await metric(client, name, **labels)
        if value >= target or time.perf_counter() > deadline:
            return value
        await asyncio.sleep(interval)


async def wait_for_topic(bootstrap: str, topic: str, within: float = 60.0) -> None:
    """Wait until the hub created `topic`, so producing does not auto-create it with other partitions."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        deadline = time.perf_counter() + within
        while topic not in await admin.list_topics():
            if time.perf_counter() > deadline:
                raise TimeoutError(f"the hub did not create {topic} within {within}s")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


async def wait_until_ready(client: httpx.AsyncClient, within: float = 60.0) -> None:
    """Wait until `/readyz` says the database answers and the bus workers consume."""
    deadline = time.perf_counter() + within
    while (await client.get("/readyz")).status_code != 200:
        if time.perf_counter() > deadline:
            raise TimeoutError(f"the hub was not ready within {within}s")
        await asyncio.sleep(0.1)


async def register(client: httpx.AsyncClient, systems: int) -> tuple[list[SystemSession], dict[str, Any]]:
    """Register the agency and `systems` systems one request at a time, as an integration script would."""
    response = await client.post(
        "/api/v1/agencies", json={"code": AGENCY, "name": "Benchmark agency", "level": "province"}
    )
    response.raise_for_status()
    sessions: list[SystemSession] = []
    start = time.perf_counter()
    for i in range(systems):
        response = await client.post(
            "/api/v1/systems", json={"code": f"BENCH-{i:05d}", "name": f"System {i}", "agency_code": AGENCY}
        )
        response.raise_for_status()
        body = response.json()
        signer = Signer.for_system(body["code"], body["api_key"])
        sessions.append(SystemSession(body["id"], body["code"], signer, uuid.uuid4()))
        if (i + 1) % 500 == 0:
            note(f"registered {i + 1}/{systems} systems")
    seconds = time.perf_counter() - start
    return sessions, {
        "systems_registered": systems,
        "registration_seconds": round(seconds, 2),
        "registrations_per_second": round(systems / seconds, 1),
    }


async def settle(client: httpx.AsyncClient, systems: int) -> dict[str, Any]:
    """Wait until the hub's prober completed a round over every registered system.

    The first probe to a new system creates its inbox topic and makes the hub's producer fetch metadata
    for every topic it knows, one new topic at a time: after a burst of registrations the hub is busy
    with that for a while. Steady-state figures are measured after it.
    """
    base = await metric(client, "lgsp_probes_total", link="lgsp", outcome="sent")
    start = time.perf_counter()
    reached = await wait_for_count(
        client, "lgsp_probes_total", base + systems, SETTLE_TIMEOUT_SECONDS, 0.2, link="lgsp", outcome="sent"
    )
    if reached < base + systems:
        raise TimeoutError(f"the hub did not probe all {systems} systems within {SETTLE_TIMEOUT_SECONDS}s")
    return {"probe_round_after_registration_seconds": round(time.perf_counter() - start, 2)}


async def wait_for_session(client: httpx.AsyncClient, session: SystemSession, within: float = 10.0) -> None:
    """Wait until the hub's status of the system shows the session its hello opened."""
    deadline = time.perf_counter() + within
    while True:
        response = await client.get(f"/api/v1/systems/{session.system_id}/status")
        response.raise_for_status()
        if response.json()["last_heartbeat_at"] is not None:
            return
        if time.perf_counter() > deadline:
            raise TimeoutError(f"the hub consumed the hello of {session.code} but opened no session")
        await asyncio.sleep(0.01)


async def open_sessions(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, topic: str, sessions: Sequence[SystemSession]
) -> dict[str, Any]:
    """Say hello for every system and wait until the hub consumed them all and opened the sessions."""
    consumed = await metric(client, "lgsp_bus_records_consumed_total", worker="connectivity")
    dead = await metric(client, "lgsp_dead_letters_total")
    start = time.perf_counter()
    acks = [
        await producer.send(
            topic,
            s.signer.seal(Hello(system=s.code, session_id=s.session_id, sdk_version="bench")),
            key=s.code.encode(),
        )
        for s in sessions
    ]
    await asyncio.gather(*acks)
    reached = await wait_for_count(
        client,
        "lgsp_bus_records_consumed_total",
        consumed + len(sessions),
        LAG_TIMEOUT_SECONDS,
        worker="connectivity",
    )
    if reached < consumed + len(sessions):
        raise TimeoutError(f"the hub consumed {reached - consumed:.0f} of {len(sessions)} hellos")
    # Records count as consumed before their batch is committed: wait for the sessions themselves.
    for session in sessions[:: max(1, len(sessions) // 20)]:
        await wait_for_session(client, session)
    seconds = time.perf_counter() - start
    return {
        "hellos": len(sessions),
        "hello_seconds": round(seconds, 2),
        "hellos_per_second": round(len(sessions) / seconds, 1),
        "dead_letters": int(await metric(client, "lgsp_dead_letters_total") - dead),
    }


async def send_heartbeat(
    producer: AIOKafkaProducer, topic: str, session: SystemSession
) -> "asyncio.Future[Any]":
    """Hand one fresh heartbeat of `session`, signed as its connector signs it, to the producer; the
    future resolves on the broker's ack. (A heartbeat sent again would be refused as a replay.)"""
    record = session.signer.seal(Heartbeat(system=session.code, session_id=session.session_id))
    future: asyncio.Future[Any] = await producer.send(topic, record, key=session.code.encode())
    return future


async def offer_at_rate(
    producer: AIOKafkaProducer, topic: str, sessions: Sequence[SystemSession], rate: float, seconds: float
) -> int:
    """Send `rate * seconds` heartbeats evenly over `seconds` (in 10 ms ticks), round-robin over the
    systems, and wait for every acknowledgement; returns how many were sent."""
    total = int(rate * seconds)
    acks: list[asyncio.Future[Any]] = []
    start = time.perf_counter()
    while len(acks) < total:
        due = min(total, int((time.perf_counter() - start) * rate) + 1)
        while len(acks) < due:
            acks.append(await send_heartbeat(producer, topic, sessions[len(acks) % len(sessions)]))
        await asyncio.sleep(0.01)
    await asyncio.gather(*acks)
    return total


async def sample_indicators(client: httpx.AsyncClient, seconds: float) -> dict[str, Any]:
    """Call `GET /api/v1/indicators` INDICATOR_CALLS_PER_SECOND times a second for `seconds`, evenly
    spaced; the latency figures."""
    calls = round(INDICATOR_CALLS_PER_SECOND * seconds)
    latencies: list[float] = []
    start = time.perf_counter()
    for i in range(calls):
        await asyncio.sleep(max(0.0, start + i * seconds / calls - time.perf_counter()))
        sent = time.perf_counter()
        response = await client.get("/api/v1/indicators")
        latencies.append(time.perf_counter() - sent)
        response.raise_for_status()
    return {
        "indicator_calls": calls,
        "indicators_p50_ms": percentile_ms(latencies, 50),
        "indicators_p99_ms": percentile_ms(latencies, 99),
        "indicators_max_ms": round(max(latencies) * 1000, 2),
    }


async def without_heartbeats(client: httpx.AsyncClient, seconds: float) -> dict[str, Any]:
    """Every session open but no heartbeats: the hub's background CPU (evaluation every second, probe
    rounds, bus health checks) and the indicator latency, at the call rate of the fixed-rate run."""
    start = CpuClock.now()
    latency = await sample_indicators(client, seconds)
    hub_share, broker_share = CpuClock.now().shares_since(start)
    return {
        "seconds": seconds,
        "hub_cpu_share_of_one_core": round(hub_share, 3),
        "broker_cpu_share_of_one_core": round(broker_share, 3),
    } | latency


async def steady(
    client: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    topic: str,
    sessions: Sequence[SystemSession],
    rate: float,
    seconds: float,
) -> dict[str, Any]:
    """Heartbeats at a fixed rate with indicator calls alongside: throughput, lag, CPU and latency."""
    base = await heartbeats_total(client)
    dead = await metric(client, "lgsp_dead_letters_total")
    start = CpuClock.now()
    indicators = asyncio.create_task(sample_indicators(client, seconds))
    sent = await offer_at_rate(producer, topic, sessions, rate, seconds)
    acked_at = time.perf_counter()
    accepted_while_offered = await heartbeats_total(client) - base
    offered_seconds = acked_at - start.wall
    accepted = await wait_for_count(client, "lgsp_heartbeats_total", base + sent, LAG_TIMEOUT_SECONDS) - base
    end = CpuClock.now()
    latency = await indicators
    process_share, broker_share = end.shares_since(start)
    caught_up = accepted >= sent
    return {
        "heartbeats_sent": sent,
        "heartbeats_accepted": int(accepted),
        "offered_seconds": round(offered_seconds, 2),
        "heartbeats_offered_per_second": round(sent / offered_seconds, 1),
        "heartbeats_per_second": round(accepted_while_offered / offered_seconds, 1),
        "processing_lag_ms": round((end.wall - acked_at) * 1000, 1) if caught_up else None,
        "dead_letters": int(await metric(client, "lgsp_dead_letters_total") - dead),
        "process_cpu_share_of_one_core": round(process_share, 3),
        "broker_cpu_share_of_one_core": round(broker_share, 3),
    } | latency


async def saturate(
    client: httpx.AsyncClient,
    producer: AIOKafkaProducer,
    topic: str,
    sessions: Sequence[SystemSession],
    seconds: float,
) -> dict[str, Any]:
    """Keep about SATURATION_BACKLOG heartbeats waiting on the topic, so the hub always has work, and
    count what it accepts over `seconds` after a short warm-up."""
    base = await heartbeats_total(client)
    sent = 0
    acks: list[asyncio.Future[Any]] = []

    async def top_up() -> None:
        nonlocal sent
        backlog = sent - int(await heartbeats_total(client) - base)
        for _ in range(SATURATION_BACKLOG - backlog):
            acks.append(await send_heartbeat(producer, topic, sessions[sent % len(sessions)]))
            sent += 1
        await asyncio.sleep(0.02)

    warm_until = time.perf_counter() + SATURATION_WARMUP_SECONDS
    while time.perf_counter() < warm_until:
        await top_up()
    start, accepted_before = CpuClock.now(), await heartbeats_total(client)
    while time.perf_counter() - start.wall < seconds:
        await top_up()
    end, accepted = CpuClock.now(), await heartbeats_total(client)
    measured = end.wall - start.wall
    process_share, broker_share = end.shares_since(start)
    await asyncio.gather(*acks)
    note(f"saturation: draining the last {sent - int(accepted - base)} heartbeats")
    await wait_for_count(client, "lgsp_heartbeats_total", base + sent, LAG_TIMEOUT_SECONDS)
    return {
        "measured_seconds": round(measured, 2),
        "backlog_records": SATURATION_BACKLOG,
        "heartbeats_sent": sent,
        "max_sustained_heartbeats_per_second": round((accepted - accepted_before) / measured, 1),
        "process_cpu_share_of_one_core": round(process_share, 3),
        "broker_cpu_share_of_one_core": round(broker_share, 3),
    }


async def producer_only(
    producer: AIOKafkaProducer, topic: str, sessions: Sequence[SystemSession], rate: float, seconds: float
) -> dict[str, Any]:
    """The same fixed-rate offer with no hub running: what the producer alone costs this process."""
    start = CpuClock.now()
    sent = await offer_at_rate(producer, topic, sessions, rate, seconds)
    process_share, _ = CpuClock.now().shares_since(start)
    return {
        "heartbeats_sent": sent,
        "seconds": seconds,
        "producer_cpu_share_of_one_core": round(process_share, 3),
    }


@asynccontextmanager
async def running_hub(settings: Settings, bootstrap: str) -> AsyncIterator[httpx.AsyncClient]:
    """The hub application with its bus workers, and an admin client talking to it in-process."""
    app = create_app(settings, bootstrap)
    async with (
        LifespanManager(app, startup_timeout=60, shutdown_timeout=30) as manager,
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=manager.app),
            base_url="http://hub",
            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
            timeout=30,
        ) as client,
    ):
        await wait_until_ready(client)
        yield client


async def with_hub(
    client: httpx.AsyncClient, producer: AIOKafkaProducer, topic: str, args: argparse.Namespace
) -> tuple[list[SystemSession], dict[str, dict[str, Any]]]:
    """The phases that need the hub, in order; the registered systems and each phase's figures."""
    note(f"registering {args.systems} systems one by one")
    sessions, registration = await register(client, args.systems)
    note(f"{registration['registrations_per_second']} registrations/s; waiting for a full probe round")
    registration |= await settle(client, args.systems)
    note(f"probe round done after {registration['probe_round_after_registration_seconds']} s; saying hello")
    hello = await open_sessions(client, producer, topic, sessions)
    note(f"{hello['hellos_per_second']} hellos/s; {IDLE_SECONDS} s without heartbeats")
    idle = await without_heartbeats(client, IDLE_SECONDS)
    note(f"heartbeats at {args.rate}/s for {args.seconds} s")
    fixed = await steady(client, producer, topic, sessions, args.rate, args.seconds)
    note(f"accepted {fixed['heartbeats_per_second']}/s; saturating for {args.saturation} s")
    saturation = await saturate(client, producer, topic, sessions, args.saturation)
    note(f"saturation: {saturation['max_sustained_heartbeats_per_second']}/s; stopping the hub")
    phases = {
        "registration": registration,
        "hello": hello,
        "without_heartbeats": idle,
        "fixed_rate": fixed,
        "saturation": saturation,
    }
    return sessions, phases


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Every phase, in order, on one broker and one database; the result as one JSON-ready dict."""
    with tempfile.TemporaryDirectory(prefix="lgsp-bench-") as directory:
        async with (
            EmbeddedBroker() as broker,
            database_url(args.database, args.pg_server, Path(directory)) as url,
        ):
            settings = Settings(
                database_url=url,
                ngsp_database_url=f"sqlite+aiosqlite:///{Path(directory) / 'ngsp.db'}",
                topic_prefix=f"bench{uuid.uuid4().hex[:10]}",
                admin_token=SecretStr(ADMIN_TOKEN),
                secret_key=SecretStr(SECRET_KEY),
                consumer_session_timeout_ms=2000,
                connectivity_partitions=6,
            )
            topic = Topics(settings.topic_prefix).connectivity
            producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=5)
            await producer.start()
            try:
                note(f"starting the hub on {args.database} and broker {broker.bootstrap}")
                async with running_hub(settings, broker.bootstrap) as client:
                    await wait_for_topic(broker.bootstrap, topic)
                    sessions, phases = await with_hub(client, producer, topic, args)
                peak_rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
                alone_seconds = min(args.seconds, PRODUCER_ONLY_MAX_SECONDS)
                note(f"producer alone at {args.rate}/s for {alone_seconds} s")
                alone = await producer_only(producer, topic, sessions, args.rate, alone_seconds)
            finally:
                await producer.stop()

    fixed = phases["fixed_rate"]
    hub_share = fixed["process_cpu_share_of_one_core"] - alone["producer_cpu_share_of_one_core"]
    marginal = hub_share - phases["without_heartbeats"]["hub_cpu_share_of_one_core"]
    keeps_up = fixed["processing_lag_ms"] is not None and fixed["processing_lag_ms"] < KEEPS_UP_LAG_MS
    return {
        "benchmark": "heartbeats",
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "parameters": {
            "database": args.database,
            "systems": args.systems,
            "rate_per_second": args.rate,
            "seconds": args.seconds,
            "saturation_seconds": args.saturation,
            "connectivity_partitions": settings.connectivity_partitions,
            "consumer_session_timeout_ms": settings.consumer_session_timeout_ms,
            "probe_interval_s": settings.probe_interval,
            "evaluate_interval_s": settings.evaluate_interval,
        },
        **phases,
        "fixed_rate": fixed
        | {
            "hub_cpu_share_of_one_core": round(hub_share, 3),
            "heartbeats_marginal_cpu_share_of_one_core": round(marginal, 3),
        },
        "producer_only": alone,
        "peak_rss_mib": round(peak_rss_mib, 1),
        "targets": {
            "rate_per_second": TARGET_RATE_PER_SECOND,
            "measured_at_target_rate": args.rate == TARGET_RATE_PER_SECOND,
            "keeps_up": keeps_up,
            "hub_cpu_under_half_core": hub_share < TARGET_HUB_CPU_SHARE,
            "indicators_p99_under_20_ms": fixed["indicators_p99_ms"] < TARGET_INDICATORS_P99_MS,
        },
        "method": {
            "heartbeats_per_second": "lgsp_heartbeats_total delta on GET /metrics over the offer, "
            "from the first send to the broker's ack of the last heartbeat",
            "processing_lag_ms": "from the broker's ack of the last heartbeat until lgsp_heartbeats_total "
            "reached the number sent (polled every 10 ms); null if it never did within "
            f"{LAG_TIMEOUT_SECONDS:.0f} s",
            "cpu": "time.process_time deltas (all threads of this one process: hub, its SQLite threads, "
            "the producer, the HTTP client) over the fixed-rate run until caught up, divided by wall time; "
            "hub_cpu_share_of_one_core = that share minus producer_cpu_share_of_one_core measured by "
            "the same fixed-rate offer after the hub stopped; it includes serving the indicator calls "
            "and the /metrics polls. heartbeats_marginal_cpu_share_of_one_core = hub_cpu_share_of_one_core "
            "minus the hub's share without heartbeats (same indicator call rate). The broker (a child "
            "process) is read from /proc; a PostgreSQL server's CPU is not counted",
            "indicators_latency": f"{INDICATOR_CALLS_PER_SECOND} calls a second, evenly spread, in-process "
            "through httpx.ASGITransport (no socket or server), sharing the event loop with the producer "
            "and the hub's workers as in a real hub process",
            "saturation": f"about {SATURATION_BACKLOG} heartbeats kept waiting on the topic; accepted "
            f"rate over the run after a {SATURATION_WARMUP_SECONDS:.0f} s warm-up",
            "peak_rss_mib": "ru_maxrss of this process (hub and producer) when the hub stopped",
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--systems", type=int, default=1_000, help="systems to register (default 1000)")
    parser.add_argument("--rate", type=int, default=1_000, help="offered heartbeats per second (1000)")
    parser.add_argument("--seconds", type=float, default=20.0, help="length of the fixed-rate run (20)")
    parser.add_argument("--saturation", type=float, default=10.0, help="length of the saturation run (10)")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--pg-server",
        default=os.environ.get("LGSP_TEST_PG", "postgres@127.0.0.1:5432"),
        help="USER@HOST:PORT of a PostgreSQL server with a `test` database (trust auth)",
    )
    args = parser.parse_args()
    print(json.dumps(asyncio.run(run(args)), indent=2))


if __name__ == "__main__":
    main()
