"""Benchmark of the hub at registry scale: 10,000 systems heartbeating every 10 s against a hub process.

The issue's step 4: the hub runs in its own process (``lgsp hub``, exactly as in production, with uvicorn
on a loopback port), on the embedded Tansu broker and SQLite (or PostgreSQL with ``--database
postgresql``). One simulator process plays every registered system without running 10,000 SDK
connectors: one producer says hello for each system and then sends each system's heartbeat every
``--heartbeat-interval`` seconds, evenly spread (10,000 / 10 s = 1,000 heartbeats a second), and a few
consumers read the systems' inbox topics and answer every probe the hub sends there with a
``ProbeReply`` echoing its token, as the SDK does (``--answering`` limits how many systems answer; the
probes of the others go unanswered and count as failed). Every hello, heartbeat and probe reply is signed
with its system's key (derived from its API key, as the SDK's), so the hub authenticates each one as it
would a connector's; the simulator does not check the hub's signature on the probes it answers (the SDK
does), which spares its CPU, not the hub's. The benchmark process itself only measures:

1. **seeding (not measured)**: the schema is migrated and the systems are inserted straight into the
   database in one transaction (agency, system, system_status and a hashed system API key with its bus
   public key per system, the rows ``POST /api/v1/systems`` writes, without its audit events and outbox
   message: the hub's prober registers unacknowledged systems with the NGSP itself), and their inbox
   topics are created on the broker (the embedded broker takes about a minute for 10,000 topics, so
   this runs alongside);
2. **registration over REST (measured)**: ``--rest`` more systems registered through the running hub's
   ``POST /api/v1/systems``, ``--rest-concurrency`` at a time; they heartbeat with the others;
3. **warm-up**: hellos for every system, heartbeats and probe answers start, until the indicator shows
   the expected systems connected to the LGSP (everything in scope that answers probes);
4. **the measured window** (``--window`` seconds, the load continuing): the hub's CPU from
   ``/proc/<pid>/stat`` (every thread), ``--indicator-calls`` sequential ``GET /api/v1/indicators`` over
   HTTP evenly spread (p50, p99, max), the heartbeat processing lag (``/metrics`` polled every 250 ms:
   the time since the simulator handed the heartbeat numbered ``lgsp_heartbeats_total`` to its
   producer, p50 / p99 / max over the polls) and the connectivity consumer's lag in records, the probes
   by outcome, and the hub's RSS at the end (``VmRSS``; ``VmHWM`` is its peak).

It prints one JSON object on stdout; progress goes to stderr. From the repository root (a default run
takes about three minutes on two cores, a minute of it the broker creating 10,000 topics)::

    .venv/bin/python bench/registry_scale.py                          # SQLite, 10,000 systems
    .venv/bin/python bench/registry_scale.py --database postgresql    # a fresh database on 127.0.0.1:5432
    .venv/bin/python bench/registry_scale.py --systems 2000 --window 30 --py-spy /tmp/hub.txt

Targets of the performance issue (reported, not enforced): at 10,000 systems ``GET /api/v1/indicators``
p99 < 20 ms, heartbeat processing keeps up with 1,000 a second using under half a core, hub RSS < 300 MB.
"""

import argparse
import asyncio
import bisect
import collections
import contextlib
import json
import multiprocessing
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from buscore.signing import Signer, SignerKey, check, signed_statement, system_public_key
from buscore.signing import b64 as base64_text
from lgsp.bus.broker import EmbeddedBroker, free_port
from lgsp.connectivity.models import SystemStatus
from lgsp.db import Database
from lgsp.registry.models import AdministrativeLevel, Agency, ApiKey, Role, System
from lgsp.security import issue_key
from schemas.common import utcnow
from schemas.messages import CONNECTIVITY, Heartbeat, Hello, Probe, ProbeReply, encode
from schemas.topics import Topics

from common import SECRET_KEY, database_url

REPOSITORY = Path(__file__).resolve().parent.parent
ADMIN_TOKEN = "bench-admin-token-0123456789"
AGENCY = "SO-BENCH"
EXEMPT_EVERY = 100  # every 100th system is a state-secret system: registered, heartbeating, out of scope
INBOX_PARTITIONS = 1  # one partition per inbox: the embedded broker's topic creation grows with partitions
TOPIC_BATCH = 1000  # topics per CreateTopics request while seeding
PARTITIONS_PER_CONSUMER = 2000  # inbox partitions per simulator consumer (one fetch covers them all)
METRICS_POLL_SECONDS = 0.25
CONNECTED_SHARE_TO_START = 0.99  # the window starts once this share of the expected systems is connected
TARGET_HEARTBEATS_PER_SECOND = 1_000
TARGET_HUB_CORES = 0.5
TARGET_INDICATORS_P99_MS = 20.0
TARGET_RSS_MIB = 300.0
KEEPS_UP_LAG_MS = 2_000.0  # p99 lag below this: no backlog builds (heartbeats are 10 s apart per system)


def note(message: str) -> None:
    """Progress on stderr, so stdout holds only the JSON result."""
    print(f"[registry-scale {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def percentile(values: Sequence[float], percent: int) -> float:
    """The `percent`th percentile (inclusive method) of at least two values."""
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def loadavg() -> str:
    """The 1-, 5- and 15-minute load averages: the machine is shared, so figures are noisy."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# -- processes we watch --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ProcessSample:
    """CPU seconds (user + system, every thread) of a process at a wall-clock instant."""

    wall: float
    cpu: float


def cpu_of(pid: int) -> ProcessSample:
    """A process's CPU seconds so far, from /proc/<pid>/stat."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (14th and 15th fields)
    return ProcessSample(time.perf_counter(), ticks / os.sysconf("SC_CLK_TCK"))


def cores_between(start: ProcessSample, end: ProcessSample) -> float:
    """CPU used between two samples, in cores (1.0: one core busy all the time)."""
    return (end.cpu - start.cpu) / (end.wall - start.wall)


def runqueue_wait(pid: int) -> float:
    """Seconds the process's main thread (the hub's event loop) has spent runnable but not running, from
    /proc/<pid>/schedstat: on a shared machine, time the loop could not serve anything however fast."""
    return int(Path(f"/proc/{pid}/schedstat").read_text().split()[1]) / 1e9


def memory_mib(pid: int) -> dict[str, float]:
    """Resident set size now and at its peak, in MiB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = round(int(rest.split()[0]) / 1024, 1)
    return {"rss_mib": values["VmRSS"], "peak_rss_mib": values["VmHWM"]}


# -- seeding ---------------------------------------------------------------------------------------------


def seeded_code(i: int) -> str:
    return f"BENCH-{i:05d}"


def rest_code(i: int) -> str:
    return f"BENCH-R{i:04d}"


async def seed_database(url: str, codes: Sequence[str]) -> tuple[list[tuple[str, str]], float]:
    """Migrate, then insert the agency and the systems with their status rows and keys in one transaction
    (each key with the bus public key its signatures are checked with, as the registry computes it).

    Returns (code, API key) per system and the seconds it took.
    """
    start = time.perf_counter()
    database = Database(url)
    try:
        await database.migrate()
        async with database.sessions() as session:
            session.add(Agency(code=AGENCY, name="Benchmark agency", level=AdministrativeLevel.PROVINCE))
            await session.flush()
            systems = [
                System(
                    code=code,
                    name=f"System {code}",
                    agency_code=AGENCY,
                    exempt=i % EXEMPT_EVERY == EXEMPT_EVERY - 1,
                    exempt_reason="state secret" if i % EXEMPT_EVERY == EXEMPT_EVERY - 1 else None,
                )
                for i, code in enumerate(codes)
            ]
            session.add_all(systems)
            await session.flush()
            keys: list[tuple[str, str]] = []
            for system in systems:
                assert system.id is not None
                issued = issue_key()
                session.add(SystemStatus(system_id=system.id))
                session.add(
                    ApiKey(
                        lookup=issued.lookup,
                        digest=issued.digest,
                        role=Role.SYSTEM,
                        agency_code=AGENCY,
                        system_id=system.id,
                        label=f"system {system.code}",
                        verify_key=base64_text(system_public_key(issued.plaintext)),
                    )
                )
                keys.append((system.code, issued.plaintext))
            await session.commit()
    finally:
        await database.dispose()
    return keys, time.perf_counter() - start


async def create_inboxes(bootstrap: str, topics: Sequence[str]) -> float:
    """Create the systems' inbox topics (what the hub's first probe round would do); seconds taken."""
    start = time.perf_counter()
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=600_000)
    await admin.start()
    try:
        for i in range(0, len(topics), TOPIC_BATCH):
            batch = [NewTopic(t, INBOX_PARTITIONS, 1) for t in topics[i : i + TOPIC_BATCH]]
            await admin.create_topics(batch, timeout_ms=600_000)
            note(f"seeding: {min(i + TOPIC_BATCH, len(topics))}/{len(topics)} inbox topics created")
    finally:
        await admin.close()
    return time.perf_counter() - start


# -- the hub process -------------------------------------------------------------------------------------


def start_hub(env: dict[str, str], log_path: Path, cwd: Path, verbose: bool) -> subprocess.Popen[bytes]:
    """`lgsp hub` in its own process, logging to `log_path` (at INFO level if `verbose`)."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-c", "from lgsp.cli import main; main()", "hub", *(["-v"] if verbose else [])],
            env=os.environ | env,
            cwd=cwd,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


async def wait_ready(client: httpx.AsyncClient, hub: subprocess.Popen[bytes], within: float = 120.0) -> None:
    """Wait until the hub's `/readyz` says the database answers and every bus worker consumes."""
    deadline = time.perf_counter() + within
    while True:
        if hub.poll() is not None:
            raise RuntimeError(f"the hub exited with {hub.returncode}")
        with contextlib.suppress(httpx.TransportError):
            if (await client.get("/readyz")).status_code == 200:
                return
        if time.perf_counter() > deadline:
            raise TimeoutError(f"the hub was not ready within {within}s")
        await asyncio.sleep(0.2)


def stop_hub(hub: subprocess.Popen[bytes]) -> None:
    """SIGTERM (the hub records its clean stop), then SIGKILL after 20 s."""
    if hub.poll() is None:
        hub.send_signal(signal.SIGTERM)
        try:
            hub.wait(20)
        except subprocess.TimeoutExpired:
            hub.kill()
            hub.wait()


def metric(text: str, name: str, **labels: str) -> float:
    """Sum of the samples of `name` with these labels in a /metrics text (a line scan: no full parse)."""
    wanted = [f'{k}="{v}"' for k, v in labels.items()]
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name) or line[len(name) : len(name) + 1] not in ("{", " "):
            continue
        series, _, value = line.rpartition(" ")
        if all(w in series for w in wanted):
            total += float(value)
    return total


async def register_over_rest(
    client: httpx.AsyncClient, count: int, concurrency: int
) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """Register `count` systems through `POST /api/v1/systems`, `concurrency` requests at a time."""
    queue = list(range(count))
    keys: list[tuple[str, str]] = []
    latencies: list[float] = []

    async def registrar() -> None:
        while queue:
            i = queue.pop()
            sent = time.perf_counter()
            response = await client.post(
                "/api/v1/systems", json={"code": rest_code(i), "name": f"System {i}", "agency_code": AGENCY}
            )
            latencies.append(time.perf_counter() - sent)
            response.raise_for_status()
            body = response.json()
            keys.append((body["code"], body["api_key"]))

    start = time.perf_counter()
    await asyncio.gather(*(registrar() for _ in range(concurrency)))
    seconds = time.perf_counter() - start
    return keys, {
        "systems": count,
        "concurrency": concurrency,
        "seconds": round(seconds, 2),
        "registrations_per_second": round(count / seconds, 1) if seconds else None,
        "p50_ms": round(percentile(latencies, 50) * 1000, 1) if latencies else None,
        "p99_ms": round(percentile(latencies, 99) * 1000, 1) if latencies else None,
    }


async def connected_now(client: httpx.AsyncClient) -> dict[str, Any]:
    """The published connectivity figures."""
    response = await client.get("/api/v1/indicators")
    response.raise_for_status()
    connectivity: dict[str, Any] = response.json()["connectivity"]
    return connectivity


async def warm_up(client: httpx.AsyncClient, expected: int, within: float) -> dict[str, Any]:
    """Wait until `expected` systems (times CONNECTED_SHARE_TO_START) are connected to the LGSP."""
    start = time.perf_counter()
    connected = 0
    while time.perf_counter() - start < within:
        connected = (await connected_now(client))["lgsp"]["connected"]
        if connected >= expected * CONNECTED_SHARE_TO_START:
            break
        await asyncio.sleep(1.0)
    return {
        "seconds": round(time.perf_counter() - start, 1),
        "lgsp_connected": connected,
        "expected_connected": expected,
        "reached": connected >= expected * CONNECTED_SHARE_TO_START,
    }


# -- the measured window ---------------------------------------------------------------------------------


async def sample_indicators(client: httpx.AsyncClient, calls: int, seconds: float) -> list[float]:
    """`calls` sequential `GET /api/v1/indicators` evenly spread over `seconds`; their latencies."""
    latencies: list[float] = []
    start = time.perf_counter()
    for i in range(calls):
        await asyncio.sleep(max(0.0, start + i * seconds / calls - time.perf_counter()))
        sent = time.perf_counter()
        response = await client.get("/api/v1/indicators")
        latencies.append(time.perf_counter() - sent)
        response.raise_for_status()
    return latencies


async def poll_metrics(client: httpx.AsyncClient, until: float) -> list[tuple[float, str]]:
    """`/metrics` every METRICS_POLL_SECONDS until `until`: (time of the answer, text)."""
    polls: list[tuple[float, str]] = []
    while time.perf_counter() < until:
        response = await client.get("/metrics")
        polls.append((time.perf_counter(), response.text))
        await asyncio.sleep(METRICS_POLL_SECONDS)
    return polls


def heartbeat_lags(
    polls: Sequence[tuple[float, str]], checkpoints: Sequence[tuple[float, int]]
) -> list[float]:
    """Per poll, seconds since the heartbeat numbered by `lgsp_heartbeats_total` was handed to the producer.

    The simulator numbers its heartbeats from 1 and records, every 10 ms tick, when the tick began and how
    many heartbeats were handed over by its end; heartbeat k counts as sent when its tick began (so the
    lag is an upper bound, by the time a tick takes).
    """
    times = [t for t, _ in checkpoints]
    counts = [c for _, c in checkpoints]
    lags = []
    for at, text in polls:
        accepted = int(metric(text, "lgsp_heartbeats_total"))
        i = bisect.bisect_left(counts, accepted)
        if accepted > 0 and i < len(counts):
            lags.append(max(0.0, at - times[i]))
    return lags


# -- the simulated systems (a separate process) ----------------------------------------------------------


def signed(signer: Signer, document: dict[str, Any]) -> bytes:
    """A message's JSON object on the wire, signed by `signer` (as `Signer.seal` writes a model)."""
    return json.dumps(signer.sign(document), separators=(",", ":")).encode()


def heartbeat(signer: Signer, session: uuid.UUID, sent_at: str) -> bytes:
    """A `Heartbeat` of `signer`'s system on the wire, written directly (pydantic costs the simulator
    more than the hub) and signed."""
    document = {
        "message_id": str(uuid.uuid4()),
        "sent_at": sent_at,
        "type": "heartbeat",
        "system": signer.owner,
        "session_id": str(session),
    }
    return signed(signer, document)


def probe_reply(signer: Signer, probe: dict[str, Any]) -> bytes:
    """The `ProbeReply` the connector SDK sends for a probe (as a dict), written directly and signed."""
    document = {
        "message_id": str(uuid.uuid4()),
        "sent_at": utcnow().isoformat(),
        "type": "probe_reply",
        "system": probe["system"],
        "probe_id": probe["probe_id"],
        "token": probe["token"],
        "probe_sent_at": probe["sent_at"],
        "via": probe.get("via", "lgsp"),
    }
    return signed(signer, document)


def check_wire_format() -> None:
    """The hand-written messages are what the hub's codec accepts, equal to the models' own, and signed
    so that the hub's authentication takes them."""
    session, now = uuid.uuid4(), utcnow()
    signer = Signer.for_system("BENCH-00001", issue_key().plaintext)
    key = SignerKey(signer.kid, signer.owner, signer.public_key)
    raw = heartbeat(signer, session, now.isoformat())
    beat = CONNECTIVITY.decode(raw)
    expected = Heartbeat(message_id=beat.message_id, sent_at=now, system="BENCH-00001", session_id=session)
    assert beat.model_copy(update={"signature": None}) == expected
    assert beat.signature is not None
    assert check(beat, signed_statement(raw, beat.signature), key, "BENCH-00001") is None
    probe = Probe(system="BENCH-00001", probe_id=uuid.uuid4(), token="t" * 32, reply_to="x.connectivity")
    raw = probe_reply(signer, json.loads(encode(probe)))
    reply = CONNECTIVITY.decode(raw)
    assert isinstance(reply, ProbeReply) and reply.signature is not None
    assert (reply.probe_id, reply.token, reply.probe_sent_at, reply.via) == (
        probe.probe_id,
        probe.token,
        probe.sent_at,
        probe.via,
    )
    assert check(reply, signed_statement(raw, reply.signature), key, "BENCH-00001") is None


def simulate(config: dict[str, Any], conn: Connection) -> None:
    """Entry point of the simulator process: every system's hello, heartbeats and probe answers."""
    asyncio.run(_simulate(config, conn))


async def _simulate(config: dict[str, Any], conn: Connection) -> None:
    topics = Topics(config["prefix"])
    systems: list[tuple[str, str]] = config["systems"]
    signers = {code: Signer.for_system(code, key) for code, key in systems}  # as each one's SDK derives it
    sessions = [(signers[code], uuid.uuid4()) for code, _ in systems]
    interval: float = config["heartbeat_interval"]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def wait_for_stop() -> None:
        conn.recv()
        loop.call_soon_threadsafe(stop.set)

    loop.run_in_executor(None, wait_for_stop)
    producer = AIOKafkaProducer(bootstrap_servers=config["bootstrap"], linger_ms=5)
    await producer.start()
    errors = collections.Counter[str]()

    def check(future: "asyncio.Future[Any]") -> None:
        if future.exception() is not None:
            errors[type(future.exception()).__name__] += 1

    answered = 0
    answer_delays: list[float] = []

    async def answer(tps: list[TopicPartition]) -> None:
        nonlocal answered
        consumer = AIOKafkaConsumer(
            bootstrap_servers=config["bootstrap"],
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_partition_fetch_bytes=64 * 1024,
            # One fetch covers thousands of partitions and costs tens of ms to decode whatever it holds:
            # let the broker gather probes for up to two seconds (probes may take five to come back).
            fetch_min_bytes=256 * 1024,
            fetch_max_wait_ms=2000,
        )
        await consumer.start()
        consumer.assign(tps)
        try:
            while not stop.is_set():
                batches = await consumer.getmany(timeout_ms=500, max_records=5000)
                for records in batches.values():
                    for record in records:
                        probe = json.loads(record.value or b"{}")
                        if probe.get("type") != "probe":
                            continue  # session resets are answered by the next hello: none is sent here
                        reply = probe_reply(signers[probe["system"]], probe)
                        future = await producer.send(probe["reply_to"], reply, key=probe["system"].encode())
                        future.add_done_callback(check)
                        answered += 1
                        if answered % 20 == 0:  # a sample: parsing times is not free
                            sent_at = datetime.fromisoformat(probe["sent_at"].replace("Z", "+00:00"))
                            answer_delays.append((utcnow() - sent_at).total_seconds())
        finally:
            await consumer.stop()

    answering = [topics.inbox(code) for code, _ in systems[: config["answering"]]]
    tps = [TopicPartition(t, p) for t in answering for p in range(INBOX_PARTITIONS)]
    responders = [
        asyncio.create_task(answer(tps[i : i + PARTITIONS_PER_CONSUMER]))
        for i in range(0, len(tps), PARTITIONS_PER_CONSUMER)
    ]
    started = time.process_time()
    hellos = [
        await producer.send(
            topics.connectivity,
            signer.seal(Hello(system=signer.owner, session_id=session, sdk_version="bench")),
            key=signer.owner.encode(),
        )
        for signer, session in sessions
    ]
    await asyncio.gather(*hellos)
    conn.send({"event": "hellos_sent", "at": time.perf_counter()})

    rate = len(sessions) / interval
    sent = 0
    start = time.perf_counter()
    checkpoints: list[tuple[float, int]] = [(start, 0)]
    while not stop.is_set():
        tick = time.perf_counter()
        due = int((tick - start) * rate)
        now = utcnow().isoformat()
        while sent < due:
            signer, session = sessions[sent % len(sessions)]
            record = heartbeat(signer, session, now)
            future = await producer.send(topics.connectivity, record, key=signer.owner.encode())
            future.add_done_callback(check)
            sent += 1
        checkpoints.append((tick, sent))  # every heartbeat up to `sent` was handed over at `tick` or later
        await asyncio.sleep(0.01)
    wall = time.perf_counter() - start
    for responder in responders:
        responder.cancel()
    await asyncio.gather(*responders, return_exceptions=True)
    await producer.stop()
    delays = sorted(answer_delays)
    conn.send(
        {
            "event": "done",
            "checkpoints": checkpoints,
            "heartbeats_sent": sent,
            "heartbeats_per_second": round(sent / wall, 1),
            "probes_answered": answered,
            "probe_answer_delay_p50_ms": round(percentile(delays, 50) * 1000, 1) if len(delays) > 1 else None,
            "probe_answer_delay_p99_ms": round(percentile(delays, 99) * 1000, 1) if len(delays) > 1 else None,
            "send_errors": dict(errors),
            "cpu_cores": round((time.process_time() - started) / wall, 3),
            "consumers": len(responders),
        }
    )


# -- py-spy ----------------------------------------------------------------------------------------------


def start_profiler(pid: int, seconds: float, output: Path) -> subprocess.Popen[bytes] | None:
    """py-spy sampling the hub (non-blocking, 100 Hz, CPU samples only), folded stacks into `output`."""
    spy = Path(sys.executable).with_name("py-spy")
    if not spy.exists():
        note("py-spy is not installed in this environment: no profile")
        return None
    return subprocess.Popen(
        [str(spy), "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "100",
         "--nonblocking", "--function", "--format", "raw", "--output", str(output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip


def hotspots(folded: Path, top: int = 15) -> dict[str, Any]:
    """The functions with most samples on top of the stack (self) and anywhere on it (total), in %."""
    own: collections.Counter[str] = collections.Counter()
    total: collections.Counter[str] = collections.Counter()
    samples = 0
    for line in folded.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        n = int(count)
        frames = [re.sub(r"\s+\(/.*/(site-packages|main)/", " (", f) for f in stack.split(";")]
        samples += n
        own[frames[-1]] += n
        for frame in set(frames):
            total[frame] += n
    return {
        "samples": samples,
        "self_percent": {f: round(100 * n / samples, 1) for f, n in own.most_common(top)},
        "total_percent": {f: round(100 * n / samples, 1) for f, n in total.most_common(top)},
    }


# -- the run ---------------------------------------------------------------------------------------------


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Seed, start the hub and the simulator, warm up, measure; the result as one JSON-ready dict."""
    check_wire_format()
    seeded_count = args.systems - args.rest
    with tempfile.TemporaryDirectory(prefix="lgsp-scale-") as directory:
        workdir = Path(directory)
        async with (
            EmbeddedBroker() as broker,
            database_url(args.database, args.pg_server, workdir) as url,
        ):
            prefix = f"scale{uuid.uuid4().hex[:8]}"
            topics = Topics(prefix)
            codes = [seeded_code(i) for i in range(seeded_count)]
            inboxes = [topics.inbox(c) for c in codes + [rest_code(i) for i in range(args.rest)]]
            note(f"seeding {seeded_count} systems into {args.database} and {len(inboxes)} inbox topics")
            start = time.perf_counter()
            (seeded, db_seconds), topic_seconds = await asyncio.gather(
                seed_database(url, codes), create_inboxes(broker.bootstrap, inboxes)
            )
            seeding = {
                "measured": False,
                "how": "direct inserts of the agency, systems, system_status rows and hashed system keys "
                "(with their bus public keys) in one transaction (no audit events, no outbox NGSP "
                "registration: the hub's prober registers unacknowledged systems itself), and the inbox "
                "topics created on the broker, in parallel",
                "systems": seeded_count,
                "exempt_systems": seeded_count // EXEMPT_EVERY,
                "database_seconds": round(db_seconds, 1),
                "inbox_topics": len(inboxes),
                "inbox_partitions": INBOX_PARTITIONS,
                "topic_creation_seconds": round(topic_seconds, 1),
                "seconds": round(time.perf_counter() - start, 1),
            }
            port = free_port()
            env = {
                "LGSP_DATABASE_URL": url,
                "LGSP_NGSP_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'ngsp.db'}",
                "LGSP_KAFKA_BOOTSTRAP": broker.bootstrap,
                "LGSP_TOPIC_PREFIX": prefix,
                "LGSP_ADMIN_TOKEN": ADMIN_TOKEN,
                "LGSP_SECRET_KEY": SECRET_KEY,
                "LGSP_HOST": "127.0.0.1",
                "LGSP_PORT": str(port),
                "LGSP_INBOX_PARTITIONS": str(INBOX_PARTITIONS),
                "LGSP_HEARTBEAT_INTERVAL": str(args.heartbeat_interval),
                "LGSP_HEARTBEAT_TTL": str(3 * args.heartbeat_interval),
                "PYTHONPATH": str(REPOSITORY),
            }
            if args.asyncio_debug:  # the hub logs every callback that holds its event loop over 100 ms
                env["PYTHONASYNCIODEBUG"] = "1"
            note(f"starting the hub process on {args.database}, broker {broker.bootstrap}")
            hub = start_hub(env, workdir / "hub.log", workdir, verbose=bool(args.hub_log))
            simulator: multiprocessing.process.BaseProcess | None = None
            try:
                async with httpx.AsyncClient(
                    base_url=f"http://127.0.0.1:{port}",
                    headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                    timeout=60,
                ) as client:
                    started = time.perf_counter()
                    await wait_ready(client, hub)
                    startup = {"ready_seconds": round(time.perf_counter() - started, 1)}
                    note(f"hub ready after {startup['ready_seconds']} s; {args.rest} registrations over REST")
                    registered, rest = await register_over_rest(client, args.rest, args.rest_concurrency)
                    note(f"{rest['registrations_per_second']} registrations/s; starting the simulator")
                    systems = registered + seeded  # the REST ones answer their probes first
                    answering = min(args.answering, len(systems))
                    in_scope_answering = sum(
                        1 for i, (code, _) in enumerate(systems[:answering]) if not is_exempt(code)
                    )
                    parent, child = multiprocessing.get_context("spawn").Pipe()
                    simulator = multiprocessing.get_context("spawn").Process(
                        target=simulate,
                        args=(
                            {
                                "bootstrap": broker.bootstrap,
                                "prefix": prefix,
                                "systems": systems,
                                "answering": answering,
                                "heartbeat_interval": args.heartbeat_interval,
                            },
                            child,
                        ),
                        daemon=True,
                    )
                    simulator.start()
                    hello = await asyncio.to_thread(parent.recv)
                    rate = len(systems) / args.heartbeat_interval
                    note(f"{len(systems)} hellos sent; heartbeats at {rate:.0f}/s")
                    warm = await warm_up(client, in_scope_answering, args.warm_up)
                    warm["since_hellos_seconds"] = round(time.perf_counter() - hello["at"], 1)
                    note(f"warm-up: {warm}; measuring for {args.window} s (load {loadavg()})")

                    load_before = loadavg()
                    metrics_before = (await client.get("/metrics")).text
                    profiler = (
                        start_profiler(hub.pid, args.window, Path(args.py_spy)) if args.py_spy else None
                    )
                    hub_start, broker_start = cpu_of(hub.pid), cpu_of(broker_pid(broker))
                    waited_before = runqueue_wait(hub.pid)
                    until = time.perf_counter() + args.window
                    polls_task = asyncio.create_task(poll_metrics(client, until))
                    latencies = await sample_indicators(client, args.indicator_calls, args.window)
                    polls = await polls_task
                    hub_end, broker_end = cpu_of(hub.pid), cpu_of(broker_pid(broker))
                    waited = runqueue_wait(hub.pid) - waited_before
                    load_after = loadavg()
                    memory = memory_mib(hub.pid)
                    metrics_after = polls[-1][1] if polls else (await client.get("/metrics")).text
                    final = await connected_now(client)
                    if profiler is not None:
                        profiler.wait(60)
                    parent.send("stop")
                    result = await asyncio.to_thread(parent.recv)
                    simulator.join(30)
            finally:
                if simulator is not None and simulator.is_alive():
                    simulator.kill()
                stop_hub(hub)
                keep_log(workdir / "hub.log", args.hub_log, failed=hub.returncode not in (0, -signal.SIGTERM))

    def delta(name: str, **labels: str) -> int:
        return int(metric(metrics_after, name, **labels) - metric(metrics_before, name, **labels))

    lags = heartbeat_lags(polls, result.pop("checkpoints"))
    consumer_lags = [
        metric(text, "lgsp_bus_consumer_lag_records", worker="connectivity") for _, text in polls
    ]
    window_seconds = hub_end.wall - hub_start.wall
    accepted = delta("lgsp_heartbeats_total")
    hub_cores = cores_between(hub_start, hub_end)
    p99_ms = percentile(latencies, 99) * 1000
    lag_p99_ms = percentile(lags, 99) * 1000 if len(lags) > 1 else None
    out: dict[str, Any] = {
        "benchmark": "registry_scale",
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "parameters": {
            "database": args.database,
            "systems": args.systems,
            "heartbeat_interval_s": args.heartbeat_interval,
            "offered_heartbeats_per_second": args.systems / args.heartbeat_interval,
            "answering_probes": answering,
            "window_s": args.window,
            "indicator_calls": args.indicator_calls,
            "hub_settings": {k: v for k, v in env.items() if k.startswith("LGSP_") and "URL" not in k}
            | {"LGSP_PROBE_INTERVAL": "10.0 (default)", "LGSP_EVALUATE_INTERVAL": "1.0 (default)"},
        },
        "seeding": seeding,
        "startup": startup,
        "registration_over_rest": rest,
        "warm_up": warm,
        "window": {
            "seconds": round(window_seconds, 1),
            "loadavg_before": load_before,
            "loadavg_after": load_after,
            "hub_cpu_cores": round(hub_cores, 3),
            "hub_loop_thread_runqueue_wait_share": round(waited / window_seconds, 3),
            "broker_cpu_cores": round(cores_between(broker_start, broker_end), 3),
            "heartbeats_accepted": accepted,
            "heartbeats_accepted_per_second": round(accepted / window_seconds, 1),
            "heartbeat_lag_p50_ms": round(percentile(lags, 50) * 1000, 1) if len(lags) > 1 else None,
            "heartbeat_lag_p99_ms": round(lag_p99_ms, 1) if lag_p99_ms is not None else None,
            "heartbeat_lag_max_ms": round(max(lags) * 1000, 1) if lags else None,
            "connectivity_consumer_lag_records_max": int(max(consumer_lags, default=0)),
            "indicators_p50_ms": round(percentile(latencies, 50) * 1000, 2),
            "indicators_p99_ms": round(p99_ms, 2),
            "indicators_max_ms": round(max(latencies) * 1000, 2),
            "probes": {
                outcome: delta("lgsp_probes_total", link="lgsp", outcome=outcome)
                for outcome in ("sent", "ok", "late", "bad_token")
            },
            "ngsp_registrations_and_probes_sent": "not exported; see the profile",
            "state_changes": delta("lgsp_link_state_changes_total"),
            "dead_letters": delta("lgsp_dead_letters_total"),
        },
        "hub_memory_at_end": memory,
        "connectivity_at_end": {
            link: {k: v[k] for k in ("connected", "in_scope")} for link, v in final.items()
        },
        "simulator": result
        | {
            "probe_answers": "probes read from the inbox topics and answered with the "
            f"echoed token by the first {answering} systems; the others' go unanswered "
            "and count as failed (no successful probe: not connected)"
        },
        "targets": {
            "indicators_p99_under_20_ms": p99_ms < TARGET_INDICATORS_P99_MS,
            "keeps_up_with_1000_heartbeats_per_second": (
                args.systems / args.heartbeat_interval >= TARGET_HEARTBEATS_PER_SECOND
                and accepted / window_seconds >= 0.97 * args.systems / args.heartbeat_interval
                and lag_p99_ms is not None
                and lag_p99_ms < KEEPS_UP_LAG_MS
            ),
            "hub_under_half_a_core": hub_cores < TARGET_HUB_CORES,
            "hub_rss_under_300_mib": memory["rss_mib"] < TARGET_RSS_MIB,
        },
        "method": {
            "hub_cpu_cores": "utime+stime of the hub process (every thread) from /proc over the window / "
            "wall time; it includes answering the probes' replies, sending the probes, evaluating, the "
            "indicator calls and the /metrics polls. A PostgreSQL server's CPU is not counted",
            "heartbeat_lag": "every 250 ms: time since the simulator handed heartbeat number "
            "lgsp_heartbeats_total (counted after the hub's commit) to its producer",
            "indicators": "sequential calls over HTTP (keep-alive) from this process, evenly spread over the "
            "window",
            "memory": "VmRSS and VmHWM of the hub process at the end of the window",
            "hub_loop_thread_runqueue_wait_share": "share of the window the hub's main thread (its event "
            "loop) was runnable but waiting for a CPU (/proc/<pid>/schedstat): the machine's share of the "
            "indicator latency, not the hub's",
            "NGSP": "no NGSP stub runs: the NGSP link stays down and unacknowledged systems are "
            "re-registered by the hub's prober as they would be",
        },
    }
    return out


def keep_log(log: Path, copy: str | None, *, failed: bool) -> None:
    """Copy the hub's log where asked, and show its tail if the hub failed."""
    if copy:
        Path(copy).write_bytes(log.read_bytes())
    if failed:
        note(f"hub log tail: {log.read_text(errors='replace')[-3000:]}")


def is_exempt(code: str) -> bool:
    """Whether a seeded system is one of the exempt ones (REST-registered ones are all in scope)."""
    return (
        code.startswith("BENCH-") and code[6:].isdigit() and int(code[6:]) % EXEMPT_EVERY == EXEMPT_EVERY - 1
    )


def broker_pid(broker: EmbeddedBroker) -> int:
    """The embedded broker's process id (for its CPU)."""
    process = broker._process  # private, but the benchmark only reads its CPU
    assert process is not None
    return process.pid


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--systems", type=int, default=10_000, help="registered systems in all (10000)")
    parser.add_argument("--rest", type=int, default=200, help="of which registered over REST (200)")
    parser.add_argument("--rest-concurrency", type=int, default=8, help="concurrent registrations (8)")
    parser.add_argument("--answering", type=int, default=10_000_000, help="systems answering probes (all)")
    parser.add_argument("--heartbeat-interval", type=float, default=10.0, help="seconds per system (10)")
    parser.add_argument("--window", type=float, default=60.0, help="seconds measured (60)")
    parser.add_argument("--indicator-calls", type=int, default=500, help="calls in the window (500)")
    parser.add_argument("--warm-up", type=float, default=90.0, help="longest wait for the links (90 s)")
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument(
        "--pg-server",
        default=os.environ.get("LGSP_TEST_PG", "postgres@127.0.0.1:5432"),
        help="USER@HOST:PORT of a PostgreSQL server with a `test` database (trust auth)",
    )
    parser.add_argument("--hub-log", metavar="FILE", help="keep the hub's log (INFO level) in FILE")
    parser.add_argument("--asyncio-debug", action="store_true", help="hub in asyncio debug mode (slow!)")
    parser.add_argument("--py-spy", metavar="FILE", help="profile the hub over the window into FILE (folded)")
    args = parser.parse_args()
    result = asyncio.run(run(args))
    if args.py_spy:
        profile = Path(args.py_spy)
        result["profile"] = hotspots(profile) if profile.exists() else "py-spy failed (ptrace allowed?)"
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
