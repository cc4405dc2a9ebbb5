"""Helpers shared by the benchmarks that drive the real hub as a separate ``lgsp hub`` process.

``bench/exchange.py`` and ``bench/dossiers.py`` import these (the scripts run with ``bench/`` first on
``sys.path``, so a plain ``import common`` finds this module): the settings every measured hub gets, a
fresh database per measurement, the hub as a child process, topic creation, and the figures read from
``/proc`` (CPU seconds and resident memory of a process, the load average) with the percentiles they
are reported as. Nothing here measures by itself, and this module is not a benchmark: ``bench/run_all.py``
runs the scripts, not this file.
"""

import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy.ext.asyncio import create_async_engine

from lgsp.bus import partition_for, shared_topics
from lgsp.bus.broker import free_port
from lgsp.settings import Settings
from schemas.topics import Topics

ADMIN_TOKEN = "bench-admin-token-0123456789"
SECRET_KEY = "bench-secret-key-0123456789abcdef"
PARTITIONS = 6  # shared topics (requests, responses...), as the hub's default connectivity_partitions
INBOX_PARTITIONS = 2  # each system's inbox, as the hub's default inbox_partitions
SESSION_TIMEOUT_MS = 3_000  # consumer groups of hub, forwarder and connectors alike: quicker joins
#: Every consumer of hub, forwarder and connectors waits as long for a fetch: the hub's setting, taken
#: from the environment as the hub takes it (LGSP_CONSUMER_FETCH_MAX_WAIT_MS), else its default.
FETCH_MAX_WAIT_MS = int(
    os.environ.get(
        "LGSP_CONSUMER_FETCH_MAX_WAIT_MS", Settings.model_fields["consumer_fetch_max_wait_ms"].default
    )
)
PROBE_INTERVAL_S = 2.0  # the hub's prober: the provider counts as connected two seconds after its hello


def note(message: str) -> None:
    """Progress on stderr, so stdout holds only the JSON result; tagged with the running script's name
    (``[exchange 12:00:00]``), so the lines of several benchmarks stay apart in one log."""
    print(f"[{Path(sys.argv[0]).stem} {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def loadavg() -> list[float]:
    """The 1, 5 and 15-minute load averages."""
    return [float(x) for x in Path("/proc/loadavg").read_text().split()[:3]]


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process (all its threads) so far, from /proc; 0 if it is gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    fields = stat.rsplit(")", 1)[1].split()  # from the 3rd field on: utime is the 14th, stime the 15th
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> tuple[float, float]:
    """Resident set size now and at its peak (VmRSS, VmHWM), in MiB."""
    values = {"VmRSS": 0.0, "VmHWM": 0.0}
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            name, _, rest = line.partition(":")
            if name in values:
                values[name] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine has spent on anything but idling, over all its cores, from
    /proc/stat (every field of the cpu line but idle and iowait; guest time is already in user)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    idle = fields[3] + fields[4]
    return (sum(fields) - idle) / os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Clock:
    """Wall time, the machine's busy CPU seconds, and the CPU seconds of some processes (by pid) and
    of this one."""

    wall: float
    machine: float
    own: float
    others: dict[int, float]

    @classmethod
    def now(cls, pids: Sequence[int]) -> "Clock":
        return cls(
            time.perf_counter(),
            machine_busy_seconds(),
            time.process_time(),
            {pid: cpu_seconds(pid) for pid in pids},
        )

    def machine_cores_since(self, start: "Clock") -> float:
        """Cores the whole machine kept busy since `start` (every process, the database server's too):
        near the core count, the machine itself is the limit."""
        return round((self.machine - start.machine) / (self.wall - start.wall), 3)

    def cores_since(self, start: "Clock", pid: int | None = None) -> float:
        """CPU cores used since `start`: by `pid`, or by this process when `pid` is None."""
        wall = self.wall - start.wall
        used = self.own - start.own if pid is None else self.others[pid] - start.others[pid]
        return round(used / wall, 3)


def percentile_ms(latencies: Sequence[float], percent: int) -> float | None:
    """The `percent`th percentile of latencies in seconds, in milliseconds (None without samples)."""
    if len(latencies) < 2:
        return None
    return round(statistics.quantiles(latencies, n=100, method="inclusive")[percent - 1] * 1000, 2)


def spread_codes(prefix: str, count: int, partitions: int) -> list[str]:
    """`count` system codes whose keys fall on distinct partitions (round-robin over them), so the
    requests of the clients spread evenly over the topic and over the hub processes."""
    codes: list[str] = []
    used: Counter[int] = Counter()
    for i in range(10_000):
        code = f"{prefix}-{i:02d}"
        partition = partition_for(code, partitions)
        if used[partition] <= min(used[p] for p in range(partitions)):
            codes.append(code)
            used[partition] += 1
            if len(codes) == count:
                return codes
    raise RuntimeError("cannot spread the client codes")


async def create_topics(bootstrap: str, partitions: dict[str, int]) -> None:
    """Create the topics (the same layout for the forwarder and the hub, before either starts)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        # Replicated like the hub's own topics when the environment asks for it (a Kafka cluster).
        replicas = int(os.environ.get("LGSP_KAFKA_REPLICATION_FACTOR", "1"))
        configs = (
            {"min.insync.replicas": os.environ["LGSP_KAFKA_MIN_INSYNC_REPLICAS"]} if replicas > 1 else {}
        )
        missing = [
            NewTopic(t, n, replicas, topic_configs=configs)
            for t, n in partitions.items()
            if t not in existing
        ]
        if missing:
            await admin.create_topics(missing)
    finally:
        await admin.close()


def topic_layout(topics: Topics, systems: Sequence[str]) -> dict[str, int]:
    """Every topic of a measurement: the hub's shared topics and each system's inbox."""
    return shared_topics(topics, PARTITIONS) | {topics.inbox(s): INBOX_PARTITIONS for s in systems}


@dataclass
class Child:
    """A child process of a benchmark (forwarder, sink or hub), with its log."""

    process: asyncio.subprocess.Process
    log: Path
    name: str

    @property
    def pid(self) -> int:
        return self.process.pid

    def tail(self) -> str:
        try:
            return self.log.read_text(errors="replace")[-1500:]
        except OSError:
            return "(no log)"

    async def stop(self) -> None:
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                async with asyncio.timeout(15):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()


@contextlib.asynccontextmanager
async def database_url(kind: str, pg_server: str, directory: Path) -> AsyncIterator[str]:
    """A fresh, empty database: a SQLite file, or a PostgreSQL database created and dropped here."""
    if kind == "sqlite":
        yield f"sqlite+aiosqlite:///{directory / f'lgsp-{uuid.uuid4().hex[:8]}.db'}"
        return
    name = f"lgsp_bench_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(f"postgresql+asyncpg://{pg_server}/test", isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield f"postgresql+asyncpg://{pg_server}/{name}"
    finally:
        async with admin.connect() as conn:
            await conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.dispose()


async def start_hub(
    index: int,
    bootstrap: str,
    url: str,
    prefix: str,
    workdir: Path,
    settings: Mapping[str, str] | None = None,
) -> tuple[Child, str]:
    """`lgsp hub` as a child process; returns it and its base URL once `/readyz` says ready.

    `settings` are further `LGSP_*` variables (e.g. `LGSP_CATALOGUE`), applied over the benchmark's own.
    """
    port = free_port()
    env = (
        os.environ
        | {
            "LGSP_KAFKA_BOOTSTRAP": bootstrap,
            "LGSP_DATABASE_URL": url,
            "LGSP_NGSP_DATABASE_URL": f"sqlite+aiosqlite:///{workdir / 'ngsp.db'}",
            "LGSP_TOPIC_PREFIX": prefix,
            "LGSP_ADMIN_TOKEN": ADMIN_TOKEN,
            "LGSP_SECRET_KEY": SECRET_KEY,
            "LGSP_HOST": "127.0.0.1",
            "LGSP_PORT": str(port),
            "LGSP_CONSUMER_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
            "LGSP_CONSUMER_FETCH_MAX_WAIT_MS": str(FETCH_MAX_WAIT_MS),
            "LGSP_CONNECTIVITY_PARTITIONS": str(PARTITIONS),
            "LGSP_INBOX_PARTITIONS": str(INBOX_PARTITIONS),
            "LGSP_PROBE_INTERVAL": str(PROBE_INTERVAL_S),
        }
        | dict(settings or {})
    )
    log = workdir / f"hub-{prefix}-{index}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            str(Path(sys.executable).with_name("lgsp")),
            "hub",
            env=env,
            cwd=workdir,  # no stray .env file
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    hub = Child(process, log, f"hub-{index}")
    base = f"http://127.0.0.1:{port}"
    deadline = time.perf_counter() + 90
    async with httpx.AsyncClient(base_url=base, timeout=5) as client:
        while True:
            if process.returncode is not None:
                raise RuntimeError(f"hub {index} exited: {hub.tail()}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get("/readyz")).status_code == 200:
                    return hub, base
            if time.perf_counter() > deadline:
                await hub.stop()
                raise TimeoutError(f"hub {index} not ready: {hub.tail()}")
            await asyncio.sleep(0.2)


async def wait_connected(api: httpx.AsyncClient, system_id: int, within: float = 60.0) -> None:
    """Wait until the hub counts the system connected to the LGSP (heartbeat and probe fresh)."""
    deadline = time.perf_counter() + within
    while not (await api.get(f"/api/v1/systems/{system_id}/status")).json().get("lgsp_connected"):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"system {system_id} did not connect")
        await asyncio.sleep(0.2)
