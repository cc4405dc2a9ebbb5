"""Machinery of the fault-injection tests: a hub in its own OS process, a private PostgreSQL cluster,
streams of exchanges and dossiers that remember what became of every request, taps that read topics
from the start, and counts of what the database holds.

The tests count by consuming and by querying, never by offsets (the embedded broker's watermarks can
undercount batches).
"""

import asyncio
import contextlib
import ctypes
import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx
from aiokafka import AIOKafkaConsumer
from pydantic import SecretStr
from sqlalchemy import text

from connectors.sdk import Connector, ExchangeError
from lgsp.bus.broker import free_port
from lgsp.db import Database
from lgsp.settings import Settings
from schemas.messages import (
    INBOX,
    REQUESTS,
    Codec,
    DecodeError,
    DossierComponent,
    DossierReport,
    ServiceRequest,
    ServiceResult,
)
from schemas.onceonly import Catalogue, content_hash, load_catalogue
from schemas.topics import Topics
from tests.support import (
    ADMIN_TOKEN,
    connector_for,
    delete_topics,
    eventually,
    fast_settings,
    make_agency,
    make_system,
)
from tests.support.exchange import BIRTH_RECORD

SECRET_KEY = "faults-secret-key-0123456789abcdef"
#: Summaries of the fault tests, printed again at the end of the run (conftest's terminal summary).
SUMMARIES: list[tuple[str, dict[str, Any]]] = []


def report(name: str, summary: dict[str, Any]) -> None:
    """Print a test's summary now and keep it for the end of the run."""
    SUMMARIES.append((name, summary))
    print(f"\n[{name}] {json.dumps(summary, sort_keys=True)}", flush=True)


# -- the hub as an OS process ------------------------------------------------------------------------


def hub_env(settings: Settings, bootstrap: str, port: int) -> dict[str, str]:
    """The LGSP_* environment that makes `lgsp hub` run with `settings` on `bootstrap`."""
    assert settings.admin_token is not None
    changes = {
        "kafka_bootstrap": bootstrap,
        # The hub's (and the NGSP stub's) bus keys derive from it: the test's own settings have the same.
        "secret_key": settings.secret_key or SecretStr(SECRET_KEY),
        "host": "127.0.0.1",
        "port": port,
    }
    return settings.model_copy(update=changes).environment()


def _die_with_parent() -> None:
    # Linux: the hub gets SIGTERM if the test process dies (even by SIGKILL), so no hub outlives a run.
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


class HubProcess:
    """`lgsp hub` as a child process (the way bench/exchange.py runs it), killable with SIGKILL and
    restartable on the same port, database and topics."""

    def __init__(self, settings: Settings, bootstrap: str, workdir: Path) -> None:
        self.port = free_port()
        self.env = os.environ | hub_env(settings, bootstrap, self.port)
        self.workdir = workdir
        self.log = workdir / "hub.log"
        self.process: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        """The hub's API address."""
        return f"http://127.0.0.1:{self.port}"

    def client(self) -> httpx.AsyncClient:
        """An admin HTTP client for the hub's API."""
        return httpx.AsyncClient(
            base_url=self.url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=15
        )

    async def start(self, within: float = 90.0) -> float:
        """Start the hub and wait until /readyz says ready; returns how long that took."""
        started = time.perf_counter()
        self.starts += 1
        with self.log.open("ab") as out:
            out.write(f"\n===== start {self.starts} =====\n".encode())
            out.flush()
            self.process = await asyncio.create_subprocess_exec(
                str(Path(sys.executable).with_name("lgsp")),
                "hub",
                "--verbose",  # INFO logs, in the hub's log file: what it did around the fault
                env=self.env,
                cwd=self.workdir,  # no stray .env file is read
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent,
            )
        async with httpx.AsyncClient(base_url=self.url, timeout=5) as client:
            while True:
                if self.process.returncode is not None:
                    raise RuntimeError(f"the hub exited with {self.process.returncode}: {self.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if (await client.get("/readyz")).status_code == 200:
                        return time.perf_counter() - started
                if time.perf_counter() - started > within:
                    raise TimeoutError(f"the hub was not ready within {within}s: {self.tail()}")
                await asyncio.sleep(0.2)

    async def kill(self) -> None:
        """SIGKILL: no shutdown code runs, exactly like a crash or an OOM kill."""
        process, self.process = self.process, None
        if process is not None and process.returncode is None:
            process.send_signal(signal.SIGKILL)
            await process.wait()

    async def stop(self) -> None:
        """A clean stop (SIGTERM), or SIGKILL after 20 s."""
        process, self.process = self.process, None
        if process is None or process.returncode is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(20):
                await process.wait()
        except TimeoutError:
            process.kill()
            await process.wait()

    def tail(self, chars: int = 3000) -> str:
        """The end of the hub's log."""
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"


# -- a private PostgreSQL cluster ----------------------------------------------------------------------


def postgres_bin() -> Path:
    """Where initdb and pg_ctl are: $LGSP_PG_BIN, else Debian's newest /usr/lib/postgresql/<version>/bin
    (what scripts/with-postgres.sh installs), else next to pg_config."""
    if "LGSP_PG_BIN" in os.environ:
        return Path(os.environ["LGSP_PG_BIN"])
    versions = [p for p in Path("/usr/lib/postgresql").glob("*/bin/initdb") if p.parts[-3].isdigit()]
    if versions:
        return max(versions, key=lambda p: int(p.parts[-3])).parent
    found = shutil.which("pg_config")
    if found is None:
        raise RuntimeError("PostgreSQL's server binaries are not installed (run scripts/with-postgres.sh)")
    return Path(
        subprocess.run([found, "--bindir"], capture_output=True, text=True, check=True).stdout.strip()
    )


class PrivateCluster:
    """A throwaway PostgreSQL cluster on a free loopback port, trust auth, that a test may stop.

    The shared server on 5432 serves every other test and must never be restarted; this one is ours.
    initdb and postgres refuse to run as root, so as root they run as the `postgres` user, who owns the
    directory.
    """

    def __init__(self) -> None:
        self.bin = postgres_bin()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="lgsp-faults-pg-"))
        self.data = self.root / "data"
        self.logfile = self.root / "postgres.log"
        self._as_root = os.geteuid() == 0
        if self._as_root:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)

    @property
    def server(self) -> str:
        """user@host:port, as conftest's PG_SERVER."""
        return f"postgres@127.0.0.1:{self.port}"

    def url(self, database: str = "postgres") -> str:
        """The SQLAlchemy URL of a database in this cluster."""
        return f"postgresql+asyncpg://{self.server}/{database}"

    def _run(self, *argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        command = list(argv)
        if self._as_root:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, text=True, timeout=120)

    def init(self) -> None:
        """initdb with trust authentication for the `postgres` superuser."""
        self._run(
            str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8"
        )

    def start(self) -> float:
        """Start the server (listening on loopback only, socket in its own directory); returns how
        long it took to accept connections."""
        started = time.perf_counter()
        options = f"-p {self.port} -h 127.0.0.1 -k {self.root} -c fsync=off -c max_connections=100"
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-l",
            str(self.logfile),
            "-o",
            options,
            "-w",
            "start",
        )
        return time.perf_counter() - started

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop: `fast` disconnects every client at once, as a restart would."""
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def create_database(self, name: str) -> None:
        """CREATE DATABASE through psql."""
        self._run(
            str(self.bin / "psql"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.port),
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            f'CREATE DATABASE "{name}"',
        )

    def remove(self) -> None:
        """Stop (immediately) and delete the cluster's files."""
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)


# -- taps: topics read from the start, in the background --------------------------------------------


class Tap:
    """Reads topics from their start (no group, so nobody's offsets move) and keeps what it decodes."""

    def __init__(self, bootstrap: str, topics: Sequence[str], codec: Codec[Any]) -> None:
        self.bootstrap = bootstrap
        self.topics = list(topics)
        self.codec = codec
        self.messages: list[Any] = []
        self.undecodable = 0
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> "Tap":
        self._task = asyncio.create_task(self._run(), name=f"tap-{self.topics[0]}")
        return self

    async def _run(self) -> None:
        while True:  # a consumer that failed to start (broker away) is tried again
            consumer = AIOKafkaConsumer(
                *self.topics,
                bootstrap_servers=self.bootstrap,
                group_id=None,
                auto_offset_reset="earliest",
                metadata_max_age_ms=1000,
                fetch_max_bytes=64 * 1024 * 1024,
                max_partition_fetch_bytes=64 * 1024 * 1024,
            )
            try:
                await consumer.start()
                while True:
                    for records in (await consumer.getmany(timeout_ms=300)).values():
                        for record in records:
                            try:
                                self.messages.append(self.codec.decode(record.value))
                            except DecodeError:
                                self.undecodable += 1
            except asyncio.CancelledError:
                raise
            except Exception:
                await asyncio.sleep(0.5)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def reopen(self) -> None:
        """Read the topics afresh from their start, keeping what was read: after a memory-only broker
        restarted, the old consumer would wait at offsets its new, empty log does not have yet."""
        await self.stop()
        await self.start()

    def of(self, kind: type[Any]) -> list[Any]:
        """The messages of one type read so far."""
        return [m for m in self.messages if isinstance(m, kind)]


# -- traffic -------------------------------------------------------------------------------------------


def outcome_of(exc: BaseException | None) -> str:
    """`success`, the ExchangeError's code, or `error:<Type>` for anything that is not a clear answer."""
    if exc is None:
        return "success"
    if isinstance(exc, ExchangeError):
        return exc.code
    return f"error:{type(exc).__name__}"


@dataclass
class ExchangeStream:
    """An open-loop stream of requests from `client` to `provider`'s `service` at `rate` per second;
    each request runs in its own task, and what became of it is kept by sequence number."""

    client: Connector
    provider: str
    service: str
    rate: float
    timeout: float
    first: int = 0  # sequence number (and citizen id) of the first request
    outcomes: dict[int, str] = field(default_factory=dict)
    latencies: dict[int, float] = field(default_factory=dict)
    started: int = 0
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self, stop: asyncio.Event) -> None:
        """Start one request every 1/rate seconds until `stop` is set."""
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        while not stop.is_set():
            task = asyncio.create_task(self._one(self.first + self.started))
            self._tasks.add(task)
            self.started += 1
            next_at += 1 / self.rate
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_at - loop.time())):
                    await stop.wait()

    async def _one(self, n: int) -> None:
        started = time.perf_counter()
        citizen = citizen_id(n)
        error: BaseException | None = None
        try:
            answer = await self.client.request(
                self.provider,
                self.service,
                {"citizen_id": citizen},
                timeout=self.timeout,
                subject=citizen,
                purpose="birth-registration",
            )
            if answer.get("citizen_id") != citizen:  # a mixed-up answer is worse than none
                error = AssertionError(f"request {n} got the answer of {answer.get('citizen_id')}")
        except Exception as exc:
            error = exc
        self.outcomes[n] = outcome_of(error)
        self.latencies[n] = time.perf_counter() - started

    async def settle(self) -> None:
        """Wait for every request started to end (each ends within its timeout + 10 s, by the SDK)."""
        if self._tasks:
            await asyncio.gather(*self._tasks)

    def tally(self) -> Counter[str]:
        return Counter(self.outcomes.values())


def citizen_id(n: int) -> str:
    """A well-formed 12-digit citizen id, distinct for each n."""
    return f"079{n % 10**9:09d}"


def dossier_report(office: Connector, catalogue: Catalogue, n: int) -> DossierReport:
    """A completed dossier of the first procedure of the catalogue, everything submitted by the applicant
    (valid against the catalogue, so the ledger records it rather than dead-lettering it)."""
    code, procedure = next(iter(catalogue.procedures.items()))
    applicant = citizen_id(500_000 + n)
    day = date(2026, 1, 1) + timedelta(days=n % 300)
    components = [
        DossierComponent(
            document_type=t,
            source="submitted",
            lookup="not_held",
            reason="not held",
            holder=catalogue.document_type(t).holder,
            content_hash=content_hash(t, applicant, {"n": n}),
            issued_on=day - timedelta(days=1000),
        )
        for t in procedure.requires
    ]
    return DossierReport(
        dossier_id=uuid4(),
        office=office.system,
        session_id=office.session_id,
        procedure=code,
        applicant=applicant,
        received_on=day,
        components=components,
    )


@dataclass
class DossierStream:
    """Dossier reports from a one-stop shop at `rate` per second; keeps the ids the broker acknowledged
    and counts the sends that failed (never acknowledged: the office would file them again)."""

    office: Connector
    catalogue: Catalogue
    rate: float
    acknowledged: list[str] = field(default_factory=list)  # dossier ids
    failed: Counter[str] = field(default_factory=Counter)
    unacknowledged: list[str] = field(default_factory=list)  # dossier ids whose send failed

    async def run(self, stop: asyncio.Event) -> None:
        loop = asyncio.get_running_loop()
        next_at = loop.time()
        n = 0
        while not stop.is_set():
            report = dossier_report(self.office, self.catalogue, n)
            n += 1
            try:
                await self.office.report_dossier(report)
                self.acknowledged.append(str(report.dossier_id))
            except Exception as exc:
                self.failed[type(exc).__name__] += 1
                self.unacknowledged.append(str(report.dossier_id))
            next_at += 1 / self.rate
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(max(0.0, next_at - loop.time())):
                    await stop.wait()


# -- what the database holds ---------------------------------------------------------------------------


async def scalar_rows(url: str, sql: str) -> list[tuple[Any, ...]]:
    """Run one query on the hub's database and return its rows."""
    database = Database(url)
    try:
        async with database.engine.connect() as conn:
            return [tuple(row) for row in (await conn.execute(text(sql))).all()]
    finally:
        await database.dispose()


async def exchange_records(url: str) -> dict[str, tuple[int, str, str | None]]:
    """Per exchange id: how many rows, the outcome and the fault code."""
    rows = await scalar_rows(
        url,
        "SELECT id, count(*), min(outcome), min(fault_code) FROM exchange_record GROUP BY id",
    )
    return {str(r[0]): (int(r[1]), str(r[2]), r[3]) for r in rows}


async def dossier_rows(url: str) -> Counter[str]:
    """Rows per dossier id."""
    rows = await scalar_rows(url, "SELECT id, count(*) FROM dossier GROUP BY id")
    return Counter({str(r[0]): int(r[1]) for r in rows})


async def disconnections(url: str) -> list[tuple[str, str, str]]:
    """Every recorded change of a link to disconnected: (system, link, reason)."""
    rows = await scalar_rows(
        url,
        "SELECT s.code, c.link, c.reason FROM link_state_change c JOIN system s ON s.id = c.system_id"
        " WHERE NOT c.connected ORDER BY c.at",
    )
    return [(str(r[0]), str(r[1]), str(r[2])) for r in rows]


def duplicates(counts: Iterable[int]) -> int:
    """Rows beyond the first, summed over keys."""
    return sum(c - 1 for c in counts if c > 1)


def where_stuck(*suffixes: str) -> str:
    """Where the running tasks whose names end with one of `suffixes` wait now, as their chain of awaits
    (function:line > ...): what a timed-out wait for recovery reports, so a stuck client or worker shows
    itself."""
    lines = []
    for task in asyncio.all_tasks():
        if not task.get_name().endswith(suffixes):
            continue
        chain: list[str] = []
        awaited: Any = task.get_coro()
        while awaited is not None and hasattr(awaited, "cr_frame"):
            if awaited.cr_frame is not None:
                chain.append(f"{awaited.cr_frame.f_code.co_name}:{awaited.cr_frame.f_lineno}")
            awaited = awaited.cr_await
        if awaited is not None:
            chain.append(type(awaited).__name__)
        lines.append(f"{task.get_name()}: {' > '.join(chain)}")
    return "; ".join(sorted(lines)) or "no such task"


async def eventually_true(check: Callable[[], Any], timeout: float, interval: float = 0.25) -> bool:
    """Poll an async predicate until true or `timeout`; returns the last answer (no failure here)."""
    deadline = time.perf_counter() + timeout
    while True:
        if await check():
            return True
        if time.perf_counter() > deadline:
            return False
        await asyncio.sleep(interval)


async def wait_settled(database_url: str, acknowledged: Iterable[str], timeout: float) -> None:
    """Wait (without failing) until the ledger holds every acknowledged dossier and no exchange record is
    pending: what is still missing then shows in the test's summary and asserts."""
    wanted = set(acknowledged)

    async def ledger_complete() -> bool:
        return set(await dossier_rows(database_url)) >= wanted

    async def nothing_pending() -> bool:
        records = await exchange_records(database_url)
        return not any(outcome == "pending" for _, outcome, _ in records.values())

    await eventually_true(ledger_complete, timeout)
    await eventually_true(nothing_pending, timeout)


@dataclass
class BirthRecordPair:
    """HO-TICH (agency SO-TP) serving the birth-record service to MOT-CUA (VP-UBND), with its grant."""

    provider_system: dict[str, Any]
    client_system: dict[str, Any]
    provider: Connector
    client: Connector
    served: Counter[str] = field(default_factory=Counter)  # citizen id -> times the provider served it

    @property
    def service(self) -> str:
        return str(BIRTH_RECORD["code"])


async def birth_record_pair(
    api: httpx.AsyncClient, settings: Settings, bootstrap: str, connectors: list[Connector]
) -> BirthRecordPair:
    """Register the pair over `api`, start both connectors (added to `connectors`, for the caller to
    stop) and wait until the provider is connected and the router's directory has caught up."""
    await make_agency(api, "SO-TP")
    await make_agency(api, "VP-UBND")
    provider_system = await make_system(api, "HO-TICH", "SO-TP")
    client_system = await make_system(api, "MOT-CUA", "VP-UBND")
    url = f"/api/v1/systems/{provider_system['id']}"
    assert (await api.post(f"{url}/services", json=BIRTH_RECORD)).status_code == 201
    grant = {"service": BIRTH_RECORD["code"], "client_system": "MOT-CUA"}
    assert (await api.post(f"{url}/grants", json=grant)).status_code == 201
    pair = BirthRecordPair(
        provider_system,
        client_system,
        connector_for(provider_system, settings, bootstrap),
        connector_for(client_system, settings, bootstrap),
    )

    @pair.provider.service(pair.service)
    async def birth_record(payload: dict[str, Any]) -> dict[str, Any]:
        pair.served[payload["citizen_id"]] += 1
        return {"citizen_id": payload["citizen_id"], "registered": "2003-04-05"}

    for connector in (pair.provider, pair.client):
        connectors.append(connector)
        await connector.start()

    async def provider_connected() -> bool:
        return bool((await api.get(f"{url}/status")).json()["lgsp_connected"])

    await eventually(provider_connected, timeout=30, what="the provider to connect")
    await asyncio.sleep(1.5)  # the router's directory cache catches up with the connection
    return pair


#: Intervals a little slower than tests.conftest.fast_settings: on two shared cores the hub, broker,
#: connectors and PostgreSQL must keep up with the traffic too, and a missed beat is not the fault tested.
TIMINGS: dict[str, Any] = {
    "heartbeat_interval": 0.5,
    "heartbeat_ttl": 2.5,
    "probe_interval": 1.0,
    "probe_ttl": 3.5,
    "probe_timeout": 1.5,
    "evaluate_interval": 0.5,
    "connectivity_partitions": 2,
    "inbox_partitions": 1,
    "consumer_session_timeout_ms": 3000,
}


def fault_settings(database_url: str, tmp_path: Path, **overrides: Any) -> Settings:
    """Per-test settings: own topic prefix and database, the timings above, and the secret key a hub
    process runs with (`hub_env`), so the bus keys derived in the test are the hub's."""
    return fast_settings(
        database_url, tmp_path, **(TIMINGS | {"secret_key": SecretStr(SECRET_KEY)} | overrides)
    )


#: A fault injected into a stream: it runs while traffic flows and returns figures for the summary.
Fault = Callable[[HubProcess], Awaitable[dict[str, Any]]]


async def fault_under_load(
    name: str,
    database_url: str,
    bootstrap: str,
    tmp_path: Path,
    fault: Fault,
    *,
    rate: float = 20.0,
    dossier_rate: float = 8.0,
    before: float = 5.0,
    after: float = 5.0,
    request_timeout: float = 15.0,
    bus_fault: bool = False,
) -> dict[str, Any]:
    """Stream exchanges and dossier reports through a hub process (`lgsp hub` on `bootstrap` and the
    database at `database_url`), run `fault` after `before` seconds, keep streaming `after` seconds more,
    and check that nothing was lost or duplicated: every request ended with an answer or a code the hub
    gave, every request the broker took has exactly one exchange record, the records agree with what the
    clients were told, and every acknowledged dossier report is in the ledger exactly once. Prints and
    returns the summary (sent / answered / records / lost / duplicated ...).

    The connectors run here, so they live through the fault as real integrators' would.

    With `bus_fault` (the fault hits the brokers themselves) a send may fail: a request the client was
    told `client.bus_unreachable` may be missing from the bus, and a dossier report whose send failed may
    be missing from the ledger (the office files it again). Such a failed send may still have been
    written (the broker took it but its acknowledgement was lost): the record, not the client, then
    tells what happened, and the summary counts these as `ambiguous`. Nothing acknowledged may be lost,
    nothing may be duplicated, and every request must end with a code.
    """
    began = time.perf_counter()
    settings = fault_settings(database_url, tmp_path)
    topics = Topics(settings.topic_prefix)
    hub = HubProcess(settings, bootstrap, tmp_path)
    catalogue = load_catalogue()
    taps: list[Tap] = []
    connectors: list[Connector] = []
    try:
        first_start = await hub.start()
        async with hub.client() as api:
            pair = await birth_record_pair(api, settings, bootstrap, connectors)
            client, served = pair.client, pair.served

        taps = [
            await Tap(bootstrap, [topics.requests], REQUESTS).start(),
            await Tap(bootstrap, [topics.inbox("MOT-CUA")], INBOX).start(),
        ]
        stop = asyncio.Event()
        exchanges = ExchangeStream(client, "HO-TICH", pair.service, rate, request_timeout)
        dossiers = DossierStream(client, catalogue, dossier_rate)
        streams = [asyncio.create_task(exchanges.run(stop)), asyncio.create_task(dossiers.run(stop))]

        await asyncio.sleep(before)
        sent_before_fault = exchanges.started
        figures = await fault(hub)
        await asyncio.sleep(after)
        stop.set()
        await asyncio.gather(*streams)
        await exchanges.settle()  # each request ends within its timeout + 10 s

        await wait_settled(database_url, dossiers.acknowledged, timeout=30)
        await asyncio.sleep(1.0)  # the taps catch up with the last results
        requests = [m for m in taps[0].of(ServiceRequest) if m.client == "MOT-CUA"]
        results = taps[1].of(ServiceResult)
        records = await exchange_records(database_url)
        ledger = await dossier_rows(database_url)
        # The systems stayed up all along: a disconnection recorded now would blame them for the crash.
        blamed = await disconnections(database_url)

        sent = Counter(str(m.message_id) for m in requests)
        number = {str(m.message_id): int(m.payload["citizen_id"][3:]) for m in requests}
        delivered = Counter(str(m.exchange_id) for m in results)
        tally = exchanges.tally()
        # What each client was told against what its record says (no_answer: the hub never told it).
        disagreements = []
        ambiguous = 0  # the client heard no answer (or its send failed), yet the exchange went through
        unsure = {"client.no_answer", "client.bus_unreachable"} if bus_fault else {"client.no_answer"}
        for exchange_id, (_, outcome, code) in records.items():
            told = exchanges.outcomes.get(number.get(exchange_id, -1))
            recorded = "success" if outcome == "success" else code
            if told in unsure and told != recorded:
                ambiguous += 1
            elif told is not None and told != recorded:
                disagreements.append((exchange_id, told, recorded))
        on_bus = set(number.values())
        never_sent = [n for n in range(exchanges.started) if n + exchanges.first not in on_bus]
        summary = {
            "sent": exchanges.started,
            "sent_before_fault": sent_before_fault,
            "on_the_bus": len(sent),
            "answered": tally["success"],
            "failed_with_code": {k: v for k, v in tally.items() if k != "success"},
            "records": len(records),
            "lost_records": len(set(sent) - set(records)),
            "duplicated_records": duplicates(c for c, _, _ in records.values()),
            "unanswered": tally["client.no_answer"],
            "results_delivered_twice": duplicates(delivered.values()),
            "served_twice_by_provider": duplicates(served.values()),
            "disagreements": len(disagreements),
            "ambiguous": ambiguous,
            "never_on_the_bus": len(never_sent),
            "disconnections_recorded": blamed,
            "dossiers_acknowledged": len(dossiers.acknowledged),
            "dossier_send_failures": dict(dossiers.failed),
            "dossier_rows": sum(ledger.values()),
            "lost_dossiers": len(set(dossiers.acknowledged) - set(ledger)),
            "duplicated_dossiers": duplicates(ledger.values()),
            "pending_records": sum(1 for _, o, _ in records.values() if o == "pending"),
            "hub_start_s": round(first_start, 1),
            **figures,
            "runtime_s": round(time.perf_counter() - began, 1),
        }
        report(name, summary)

        assert len(exchanges.outcomes) == exchanges.started, "a request never ended"
        assert not [o for o in tally if o.startswith("error:")], f"requests failed without a code: {tally}"
        assert duplicates(sent.values()) == 0, "a request reached the bus twice"
        not_told = [
            n for n in never_sent if exchanges.outcomes.get(n + exchanges.first) != "client.bus_unreachable"
        ]
        assert not not_told, f"requests never on the bus whose client was not told so: {not_told[:5]}"
        assert bus_fault or not never_sent, "the broker stayed up: every request must reach the bus"
        assert set(records) == set(sent), "exchange records lost, or records nobody sent"
        assert summary["duplicated_records"] == 0 and summary["pending_records"] == 0
        assert summary["unanswered"] == 0, f"the hub never answered some requests: {tally}"
        assert not disagreements, f"clients told one thing, records say another: {disagreements[:5]}"
        assert summary["served_twice_by_provider"] == 0
        assert bus_fault or not dossiers.failed, (
            "the broker stayed up: every dossier report must be acknowledged"
        )
        assert summary["lost_dossiers"] == 0 and summary["duplicated_dossiers"] == 0
        strays = set(ledger) - set(dossiers.acknowledged) - set(dossiers.unacknowledged)
        assert not strays, "dossiers nobody sent in the ledger"
        return summary
    finally:
        for tap in taps:
            await tap.stop()
        for connector in connectors:
            await connector.stop()
        await hub.stop()
        await delete_topics(bootstrap, settings.topic_prefix)
