"""`lgsp cluster`: the production topology as processes on this machine.

A 3-node Apache Kafka cluster (`KafkaCluster`), PostgreSQL (already running: the Makefile wraps the
command in scripts/with-postgres.sh) with a fresh database, two `lgsp hub` processes sharing that
database and one consumer group, the NGSP stub (`lgsp ngsp`), Prometheus scraping both hubs with the
shipped rules, and the demo's mock systems, each an `lgsp connector` process holding only its own API
key, as a connector at an agency would. Every process logs to a file of the run directory.

The indicators are read through each hub, and must agree: the hubs keep no state of their own besides
the database and the bus, so either one answers for the province."""

import asyncio
import contextlib
import os
import random
import secrets
import shutil
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypedDict, TypeVar, cast

import asyncpg
import httpx
import yaml
from pydantic import SecretStr
from rich.console import Console
from rich.live import Live
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table

from buscore.signing import HUB, NGSP, Signer, b64
from connectors.mock import mock_systems
from connectors.registration import Registered, register_system
from connectors.sdk import Connector
from lgsp.bus.broker import port_in_use
from lgsp.settings import Settings
from sandbox.demo import Fleet, _declare_services, generate_datasets
from sandbox.kafka import KafkaCluster, Node

T = TypeVar("T")

ROOT = Path(__file__).resolve().parent.parent
MONITORING = ROOT / "monitoring"
#: Where PostgreSQL listens (trust auth on loopback, as scripts/with-postgres.sh sets it up).
PG_SERVER = os.environ.get("LGSP_CLUSTER_PG", "postgres@127.0.0.1:5432")
DATABASE = "lgsp_cluster"
HUBS = 2
LOOPBACK = "127.0.0.1"
#: Settings only the hubs may hold: a connector runs at an agency with its system's API key alone, and the
#: NGSP stub is another party with its own database.
HUB_ONLY = frozenset(
    f"LGSP_{name.upper()}"
    for name in (
        "admin_token",
        "admin_token_previous",
        "secret_key",
        "database_url",
        "ngsp_database_url",
        "bus_signing_key",
        "ngsp_signing_key",
    )
)
#: Short heartbeats and probes, so that connections show within seconds; settings given explicitly win.
#: The session timeout stays at Apache Kafka's default minimum (6 s), which a stock broker accepts.
TUNING: dict[str, Any] = {
    "heartbeat_interval": 1.0,
    "heartbeat_ttl": 4.0,
    "probe_interval": 2.0,
    "probe_ttl": 6.0,
    "probe_timeout": 2.0,
    "consumer_session_timeout_ms": 6000,
}


class ClusterError(RuntimeError):
    """The cluster could not start, or one of its processes died; the message says which and why."""


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    """How big a cluster, for how long, on which ports."""

    systems: int = 6
    citizens: int = 1000
    #: Seconds to run once everything is up; None: until Ctrl-C or SIGTERM.
    duration: float | None = None
    #: The first hub's port; the second hub listens on the next one, Prometheus on the one after.
    base_port: int = 8001
    seed: int = 7
    #: Longest wait for every in-scope system to show connected through both hubs before going on anyway.
    settle: float = 120.0
    #: Seconds between two readings of the indicators.
    refresh: float = 3.0
    #: The child processes log at INFO level too.
    verbose: bool = False

    def hub_ports(self) -> list[int]:
        """The hubs' ports, in start order."""
        return [self.base_port + n for n in range(HUBS)]

    @property
    def prometheus_port(self) -> int:
        """Where Prometheus serves its UI and API."""
        return self.base_port + HUBS


@dataclass
class Process:
    """One child process of the cluster, logging to its own file."""

    name: str
    process: asyncio.subprocess.Process
    log: Path
    url: str = ""

    @property
    def pid(self) -> int:
        """The process id."""
        return self.process.pid

    async def stop(self, patience: float = 20.0) -> int | None:
        """SIGTERM, then SIGKILL after `patience` seconds; returns the exit code.

        Interrupted itself (a second Ctrl-C), it kills the process before giving up, so that nothing
        outlives the cluster."""
        if self.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()
            try:
                async with asyncio.timeout(patience):
                    await self.process.wait()
            except TimeoutError:
                self.process.kill()
                await self.process.wait()
            except BaseException:
                with contextlib.suppress(ProcessLookupError):
                    self.process.kill()
                raise
        return self.process.returncode


@dataclass
class Cluster:
    """What `running_cluster` started, and how to reach it."""

    run_dir: Path
    kafka: KafkaCluster
    settings: Settings
    client: httpx.AsyncClient
    hubs: list[Process] = field(default_factory=list)
    processes: list[Process] = field(default_factory=list)
    prometheus_url: str = ""
    database_url: str = ""
    in_scope: list[str] = field(default_factory=list)
    own_kafka: bool = False
    startup_seconds: float = 0.0
    #: How each process ended, by name, as it was stopped.
    exit_codes: dict[str, int | None] = field(default_factory=dict)

    def check_alive(self) -> None:
        """Raise if one of the processes exited: the cluster is no longer the one that was started."""
        for process in self.processes:
            if process.process.returncode is not None:
                raise ClusterError(
                    f"{process.name} (pid {process.pid}) exited with {process.process.returncode}; "
                    f"see {process.log}"
                )


class ClusterResult(TypedDict):
    """What `run_cluster` saw last, just before it stopped everything, and what it stopped."""

    #: GET /api/v1/indicators through each hub, in hub order.
    indicators: list[dict[str, Any]]
    hubs: list[str]
    #: The status of GET / (the dashboard) through each hub, by hub URL.
    dashboards: dict[str, int]
    #: Prometheus's health of each scraped target (`up`, `down`, `unknown`), by scrape URL.
    targets: dict[str, str]
    #: The instances Prometheus has an `lgsp_systems_connected` series of, and how many series.
    series_instances: list[str]
    series: int
    #: Rule groups Prometheus loaded (the shipped recording and alerting rules).
    rule_groups: list[str]
    #: The in-scope mock systems (the exempt one is left out of the indicators).
    in_scope: list[str]
    #: Every process the cluster started and stopped (the Kafka nodes when it started them too).
    pids: list[int]
    exit_codes: dict[str, int | None]
    prometheus: str
    run_dir: str
    startup_seconds: float


def cluster_settings(base: Settings) -> Settings:
    """`base` with the demo's short intervals where it sets none, and an admin token and a platform secret
    (shared by the hubs alone) if it has none."""
    changes = {name: value for name, value in TUNING.items() if name not in base.model_fields_set}
    if base.admin_token is None:
        changes["admin_token"] = SecretStr(secrets.token_urlsafe(24))
    if base.secret_key is None:
        changes["secret_key"] = SecretStr(secrets.token_urlsafe(32))
    return base.model_copy(update=changes)


def bus_settings(settings: Settings, bootstrap: str) -> Settings:
    """What every process on the bus shares: the cluster's brokers, 3 replicas of every topic, a write
    acknowledged once 2 replicas hold it, idempotent producers."""
    return settings.model_copy(
        update={
            "kafka_bootstrap": bootstrap,
            "kafka_replication_factor": 3,
            "kafka_min_insync_replicas": 2,
            "kafka_idempotence": True,
        }
    )


def hub_environment(settings: Settings, database_url: str, port: int) -> dict[str, str]:
    """One hub's `LGSP_` variables: the bus settings, the shared database and token, its own port."""
    hub = settings.model_copy(update={"database_url": database_url, "host": LOOPBACK, "port": port})
    return hub.environment()


@dataclass(frozen=True, slots=True)
class BusKeys:
    """The platform key pairs of one cluster: each party holds its own seed and the other's public key,
    as a province and the national platform would (no secret shared between them)."""

    hub_seed: bytes
    ngsp_seed: bytes

    @classmethod
    def generate(cls) -> "BusKeys":
        """Fresh key pairs."""
        return cls(secrets.token_bytes(32), secrets.token_bytes(32))

    def hub(self) -> dict[str, str]:
        """A hub's variables: its signing seed and the NGSP's public key."""
        ngsp = Signer.platform(NGSP, self.ngsp_seed)
        return {"LGSP_BUS_SIGNING_KEY": self.hub_seed.hex(), "LGSP_NGSP_VERIFY_KEY": b64(ngsp.public_key)}

    def ngsp(self) -> dict[str, str]:
        """The NGSP stub's variables: its signing seed and the hub's public key."""
        hub = Signer.platform(HUB, self.hub_seed)
        return {"LGSP_NGSP_SIGNING_KEY": self.ngsp_seed.hex(), "LGSP_HUB_VERIFY_KEY": b64(hub.public_key)}


def party_environment(settings: Settings) -> dict[str, str]:
    """The `LGSP_` variables of a process that is not a hub (the NGSP stub, a connector)."""
    return {name: value for name, value in settings.environment().items() if name not in HUB_ONLY}


def child_environment(env: Mapping[str, str]) -> dict[str, str]:
    """Our environment without its `LGSP_` variables, plus `env`: each child gets the settings meant for
    it and no others (a connector never sees the admin token); its output reaches its log as it comes."""
    inherited = {name: value for name, value in os.environ.items() if not name.startswith("LGSP_")}
    return inherited | {"PYTHONUNBUFFERED": "1"} | dict(env)


def lgsp_command() -> str:
    """The `lgsp` executable beside this interpreter (the venv's), else the one on PATH."""
    beside = Path(sys.executable).with_name("lgsp")
    found = str(beside) if beside.exists() else shutil.which("lgsp")
    if found is None:
        raise ClusterError("no `lgsp` command: install the project (make venv)")
    return found


async def spawn(
    name: str, command: list[str], env: Mapping[str, str], run_dir: Path, url: str = ""
) -> Process:
    """Start `command` with `env` (see `child_environment`), its output in run_dir/NAME.log."""
    log = run_dir / f"{name}.log"
    out = await asyncio.to_thread(log.open, "wb")
    try:
        process = await asyncio.create_subprocess_exec(
            *command,
            env=child_environment(env),
            cwd=run_dir,  # no stray .env file is read
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            # Out of the terminal's process group: Ctrl-C reaches only us, and we stop the children in
            # reverse order (the connectors before the hubs, the hubs before Kafka) rather than all at once.
            start_new_session=True,
        )
    finally:
        out.close()  # the child holds its own descriptor
    return Process(name, process, log, url)


async def tail(path: Path, chars: int = 2000) -> str:
    """The end of a log file, read off the event loop."""

    def read() -> str:
        try:
            return path.read_text(errors="replace")[-chars:]
        except OSError as exc:
            return f"({exc})"

    return await asyncio.to_thread(read)


async def wait_ready(process: Process, path: str, patience: float = 90.0) -> None:
    """Wait until `process` answers 200 at `path`; fail with the end of its log if it dies or times out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    async with httpx.AsyncClient(base_url=process.url, timeout=5) as client:
        while loop.time() < deadline and process.process.returncode is None:
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(path)).status_code == 200:
                    return
            await asyncio.sleep(0.3)
    why = "timed out" if process.process.returncode is None else f"exited {process.process.returncode}"
    raise ClusterError(
        f"{process.name} was not ready at {process.url}{path} ({why}); {process.log} ends:\n"
        f"{await tail(process.log)}"
    )


async def fresh_database() -> str:
    """A new, empty PostgreSQL database for the cluster's hubs (an old one is dropped, connections and
    all); its SQLAlchemy URL."""
    try:
        admin = await asyncpg.connect(f"postgresql://{PG_SERVER}/postgres")
    except (OSError, asyncpg.PostgresError) as exc:
        raise ClusterError(
            f"no PostgreSQL at {PG_SERVER} ({exc}): `make cluster` starts it (scripts/with-postgres.sh), or "
            "set LGSP_CLUSTER_PG=user@host:port"
        ) from exc
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await admin.close()
    return f"postgresql+asyncpg://{PG_SERVER}/{DATABASE}"


def prometheus_config(run_dir: Path, targets: list[str]) -> Path:
    """Write run_dir/prometheus.yml: the shipped configuration with `targets` as every job's targets,
    its rule files by absolute path (they are relative to the shipped file), and a 2 s scrape and
    evaluation interval so that the figures show within seconds."""
    config: dict[str, Any] = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["global"] |= {"scrape_interval": "2s", "evaluation_interval": "2s"}
    config["rule_files"] = [str((MONITORING / rules).resolve()) for rules in config["rule_files"]]
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": targets}]
    path = run_dir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@contextlib.asynccontextmanager
async def concurrently() -> AsyncIterator[asyncio.TaskGroup]:
    """A task group whose failure, when a single task failed (the others are then cancelled), is raised
    as itself rather than inside an exception group: its message is what the user needs to read."""
    try:
        async with asyncio.TaskGroup() as group:
            yield group
    except BaseExceptionGroup as failed:
        if len(failed.exceptions) == 1:
            raise failed.exceptions[0] from None
        raise


async def step(progress: Progress, description: str, work: Awaitable[T]) -> T:
    """Await `work` as one line of the start-up progress, ticked off when it is done."""
    task = progress.add_task(description, total=1)
    result = await work
    progress.update(task, completed=1)
    return result


async def register_fleet(
    client: httpx.AsyncClient, options: ClusterOptions
) -> tuple[dict[str, Registered], list[str]]:
    """The demo's mock systems registered through a hub's API (`client`, an admin): their agencies, the
    systems (each one's API key is shown this once), and their services declared and granted to the
    one-stop shop's agency as the demo does. The systems by code, and the codes of those in scope."""
    agencies, systems = mock_systems(options.systems, options.seed)
    for agency in agencies:
        body = {"code": agency.code, "name": agency.name, "level": agency.level}
        (await client.post("/api/v1/agencies", json=body)).raise_for_status()
    registered = {system.code: await register_system(client, system.registration()) for system in systems}
    ids = {code: system.system_id for code, system in registered.items()}
    # The demo declares the services of a fleet of in-process connectors, of which it reads only the
    # codes: here each connector is a process of its own, so the fleet holds the codes alone.
    codes = cast("dict[str, Connector]", dict.fromkeys(registered))
    await _declare_services(client, Fleet(codes, random.Random(options.seed)), ids)
    return registered, [system.code for system in systems if system.exempt_reason is None]


async def indicators_through(client: httpx.AsyncClient, hubs: list[Process]) -> list[dict[str, Any]]:
    """`GET /api/v1/indicators` through each hub, in hub order."""
    answers = []
    for hub in hubs:
        response = await client.get(f"{hub.url}/api/v1/indicators")
        response.raise_for_status()
        answers.append(response.json())
    return answers


def settled(indicators: dict[str, Any], in_scope: int) -> bool:
    """Whether all `in_scope` systems show connected on both links in one hub's indicators."""
    links = indicators["connectivity"]
    return all(links[link]["connected"] == links[link]["in_scope"] == in_scope for link in ("lgsp", "ngsp"))


async def prometheus_targets(client: httpx.AsyncClient, url: str) -> dict[str, str]:
    """Each scraped hub's health as Prometheus sees it (`up`, `down` or `unknown`), by scrape URL."""
    active = (await client.get(f"{url}/api/v1/targets")).json()["data"]["activeTargets"]
    return {target["scrapeUrl"]: target["health"] for target in active}


async def wait_connected(cluster: Cluster, progress: Progress, patience: float) -> bool:
    """Wait until every in-scope system shows connected on both links through each hub; False if that
    takes longer than `patience` seconds (the live view then shows what is missing)."""
    expected = len(cluster.in_scope)
    bar = progress.add_task("in-scope systems connected (LGSP and NGSP, through both hubs)", total=expected)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while True:
        cluster.check_alive()
        seen = await indicators_through(cluster.client, cluster.hubs)
        links = [i["connectivity"][link]["connected"] for i in seen for link in ("lgsp", "ngsp")]
        progress.update(bar, completed=min(links))
        if all(settled(i, expected) for i in seen):
            return True
        if loop.time() > deadline:
            return False
        await asyncio.sleep(1)


@contextlib.asynccontextmanager
async def running_cluster(
    base: Settings,
    options: ClusterOptions,
    run_dir: Path,
    console: Console,
    kafka: KafkaCluster | None = None,
) -> AsyncIterator[Cluster]:
    """Start the whole topology (on `kafka` if given, else on a new 3-node cluster in run_dir/kafka),
    showing the progress; on exit stop every process it started, last started first, whatever happened
    (an error, Ctrl-C, SIGTERM)."""
    ports = [*options.hub_ports(), options.prometheus_port]
    if taken := [port for port in ports if port_in_use(LOOPBACK, port)]:
        raise ClusterError(f"port {taken[0]} is in use: choose another --base-port (it needs {ports})")
    stack = contextlib.AsyncExitStack()
    progress = Progress(
        SpinnerColumn(finished_text="[green]✓[/]"),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    )
    try:
        with progress:
            cluster = await _start(stack, cluster_settings(base), options, run_dir, console, progress, kafka)
        yield cluster
    finally:
        with console.status("stopping the cluster, the last started first..."):
            await stack.aclose()


async def _start(
    stack: contextlib.AsyncExitStack,
    settings: Settings,
    options: ClusterOptions,
    run_dir: Path,
    console: Console,
    progress: Progress,
    kafka: KafkaCluster | None,
) -> Cluster:
    """Start everything, each stop registered on `stack` as soon as there is something to stop."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    lgsp = lgsp_command()
    if shutil.which("prometheus") is None:
        raise ClusterError("no `prometheus` command: scripts/ensure-tools.sh installs it (Debian's package)")
    verbose = ["--verbose"] if options.verbose else []
    client = await stack.enter_async_context(httpx.AsyncClient(timeout=10))
    own_kafka = kafka is None
    if kafka is None:
        kafka = KafkaCluster(3, run_dir / "kafka")
        stack.push_async_callback(_stop_kafka, kafka, console)  # before it starts: a half-started one too
    cluster = Cluster(run_dir, kafka, settings, client, own_kafka=own_kafka)

    async def started(process: Process, layer: list[Process] | None = None) -> Process:
        """Record a process and how to stop it: on its own, or with the rest of its `layer`."""
        cluster.processes.append(process)
        if layer is None:
            stack.push_async_callback(_stop_process, process, console, cluster)
        else:
            layer.append(process)
        return process

    async def prometheus() -> Process:
        targets = [f"{LOOPBACK}:{port}" for port in options.hub_ports()]
        config = await asyncio.to_thread(prometheus_config, run_dir, targets)
        command = [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={run_dir / 'prometheus'}",
            f"--web.listen-address={LOOPBACK}:{options.prometheus_port}",
        ]
        url = f"http://{LOOPBACK}:{options.prometheus_port}"
        process = await started(await spawn("prometheus", command, {}, run_dir, url))
        await wait_ready(process, "/-/ready")
        return process

    # What needs no hub starts at once: Kafka, the mock data (which the NGSP stub and the connectors
    # serve), the database, and Prometheus (whose targets are down until the hubs come up).
    async with concurrently() as group:
        if own_kafka:
            group.create_task(step(progress, "Apache Kafka: 3 nodes (KRaft)", kafka.start()))
        group.create_task(
            step(
                progress,
                f"the mock systems' data ({options.citizens} citizens)",
                generate_datasets(run_dir / "datasets", options.citizens, options.seed, console),
            )
        )
        database = group.create_task(step(progress, f"PostgreSQL: database {DATABASE}", fresh_database()))
        group.create_task(step(progress, f"Prometheus on :{options.prometheus_port}", prometheus()))
    cluster.database_url = database.result()
    cluster.prometheus_url = f"http://{LOOPBACK}:{options.prometheus_port}"
    on_bus = bus_settings(settings, await asyncio.to_thread(lambda: kafka.bootstrap))
    keys = BusKeys.generate()

    async def hub(n: int) -> Process:
        port = options.hub_ports()[n]
        env = hub_environment(on_bus, cluster.database_url, port) | keys.hub()
        process = await started(
            await spawn(f"hub-{n + 1}", [lgsp, "hub", *verbose], env, run_dir, f"http://{LOOPBACK}:{port}")
        )
        await wait_ready(process, "/readyz")
        return process

    # The first hub migrates the database; the second starts once it is ready, as a rolling deploy would.
    cluster.hubs.append(await step(progress, "hub-1 (migrates the database)", hub(0)))

    async def fleet() -> None:
        token = settings.admin_token.get_secret_value() if settings.admin_token else ""
        async with httpx.AsyncClient(
            base_url=cluster.hubs[0].url, headers={"Authorization": f"Bearer {token}"}, timeout=15
        ) as admin:
            registered, cluster.in_scope = await step(
                progress,
                f"{options.systems} mock systems registered through hub-1, services declared and granted",
                register_fleet(admin, options),
            )
        bar = progress.add_task("their connectors, each an `lgsp connector` process", total=len(registered))
        # The connectors depend on one another no more than agencies do: they stop together.
        layer: list[Process] = []
        stack.push_async_callback(_stop_layer, layer, console, cluster)
        for code, system in registered.items():
            env = party_environment(on_bus) | {
                "LGSP_CONNECTOR_API_KEY": system.api_key,
                "LGSP_CONNECTOR_TRUST": system.bus_trust,
            }
            command = [lgsp, "connector", "--system", code, "--datasets", str(run_dir / "datasets"), *verbose]
            await started(await spawn(f"connector-{code}", command, env, run_dir), layer)
            progress.advance(bar)

    async def ngsp() -> None:
        env = (
            party_environment(on_bus)
            | keys.ngsp()
            | {"LGSP_NGSP_DATABASE_URL": f"sqlite+aiosqlite:///{run_dir / 'ngsp.db'}"}
        )
        command = [lgsp, "ngsp", "--datasets", str(run_dir / "datasets"), *verbose]
        await started(await spawn("ngsp", command, env, run_dir))

    async with concurrently() as group:
        second = group.create_task(step(progress, "hub-2", hub(1)))
        group.create_task(step(progress, "the NGSP stub", ngsp()))
        group.create_task(fleet())
    cluster.hubs.append(second.result())
    if not await wait_connected(cluster, progress, options.settle):
        console.print(f"[yellow]not every system connected within {options.settle:.0f}s: see below[/]")
    cluster.startup_seconds = loop.time() - began
    return cluster


async def _stop_process(process: Process, console: Console, cluster: Cluster) -> None:
    loop = asyncio.get_running_loop()
    began = loop.time()
    cluster.exit_codes[process.name] = code = await process.stop()
    console.print(f"stopped {process.name} (pid {process.pid}, exit {code}, {loop.time() - began:.1f}s)")


async def _stop_layer(layer: list[Process], console: Console, cluster: Cluster) -> None:
    results = await asyncio.gather(
        *(_stop_process(process, console, cluster) for process in reversed(layer)), return_exceptions=True
    )
    if failed := [r for r in results if isinstance(r, BaseException)]:
        raise failed[0]


async def _stop_kafka(kafka: KafkaCluster, console: Console) -> None:
    # Nothing to stop when the start failed before any node was launched (the script writes DIR/nodes
    # as soon as it has launched them).
    if await asyncio.to_thread((kafka.directory / "nodes").exists):
        began = asyncio.get_running_loop().time()
        await kafka.stop()
        console.print(f"stopped Apache Kafka (3 nodes, {asyncio.get_running_loop().time() - began:.1f}s)")


def process_table(cluster: Cluster, nodes: list[Node]) -> Table:
    """What runs where: one row per process, with its log file (relative to the run directory)."""
    table = Table(title=f"lgsp cluster, logs in {cluster.run_dir}")
    for column in ("process", "pid", "address", "log"):
        table.add_column(column, overflow="fold")
    for node in nodes:
        log = cluster.kafka.directory / f"node-{node.id}" / "server.log"
        table.add_row(
            f"kafka-{node.id}",
            str(node.pid),
            f"{LOOPBACK}:{node.broker_port} (controller :{node.controller_port})",
            str(log.relative_to(cluster.run_dir)) if log.is_relative_to(cluster.run_dir) else str(log),
        )
    table.add_row("postgresql", "", cluster.database_url.replace("+asyncpg", ""), "")
    for process in cluster.processes:
        address = process.url or "on the bus"
        if process.name.startswith("hub"):
            address += " (dashboard /, API /docs, /metrics)"
        table.add_row(process.name, str(process.pid), address, process.log.name)
    return table


def fraction(link: dict[str, Any]) -> str:
    """`connected/in_scope`, green when every in-scope system is connected."""
    colour = "green" if link["connected"] == link["in_scope"] else "yellow"
    return f"[{colour}]{link['connected']}/{link['in_scope']}[/]"


def link_line(indicators: dict[str, Any]) -> str:
    """`LGSP a/b, NGSP c/d` from one hub's indicators."""
    lgsp, ngsp = indicators["connectivity"]["lgsp"], indicators["connectivity"]["ngsp"]
    return f"LGSP {lgsp['connected']}/{lgsp['in_scope']}, NGSP {ngsp['connected']}/{ngsp['in_scope']}"


def indicators_view(
    cluster: Cluster, seen: list[dict[str, Any]], targets: dict[str, str], running: float
) -> Table:
    """The live view: the connectivity indicators as read through each hub, whether the hubs agree, and
    how Prometheus sees them."""
    agree = all(i["connectivity"] == seen[0]["connectivity"] for i in seen)
    health = ", ".join(
        f"[{'green' if state == 'up' else 'red'}]{url.removeprefix('http://')} {state}[/]"
        for url, state in sorted(targets.items())
    )
    table = Table(
        title=f"connectivity through each hub (running {running:.0f}s)",
        caption=("[green]the hubs agree[/]" if agree else "[red]the hubs disagree[/]")
        + f" · Prometheus targets: {health or 'none yet'}",
    )
    for column in ("through", "LGSP connected", "NGSP connected", "as of (UTC)"):
        table.add_column(column)
    for hub, indicators in zip(cluster.hubs, seen, strict=True):
        links = indicators["connectivity"]
        table.add_row(
            f"{hub.name} {hub.url}",
            fraction(links["lgsp"]),
            fraction(links["ngsp"]),
            indicators["as_of"][11:19],
        )
    return table


async def watch(cluster: Cluster, options: ClusterOptions, console: Console) -> None:
    """Show the indicators through each hub every `refresh` seconds, for `duration` seconds or until
    cancelled; raise if a process of the cluster dies meanwhile."""
    loop = asyncio.get_running_loop()
    began = loop.time()
    until = None if options.duration is None else began + options.duration
    with contextlib.ExitStack() as leave:
        if not console.is_terminal:
            # After the live view's last rendering, which ends without a new line on a console that is no
            # terminal (a log file, a test).
            leave.callback(console.line)
        live = leave.enter_context(Live(console=console, auto_refresh=False))
        while True:
            cluster.check_alive()
            seen = await indicators_through(cluster.client, cluster.hubs)
            targets = await prometheus_targets(cluster.client, cluster.prometheus_url)
            live.update(indicators_view(cluster, seen, targets, loop.time() - began), refresh=True)
            if until is not None and loop.time() >= until:
                return
            left = options.refresh if until is None else min(options.refresh, until - loop.time())
            await asyncio.sleep(max(0.0, left))


async def observe(cluster: Cluster) -> dict[str, Any]:
    """What the test checks while everything still runs: the indicators and the dashboard through each
    hub, and Prometheus's targets, `lgsp_systems_connected` series and loaded rule groups."""
    client, prometheus = cluster.client, cluster.prometheus_url
    query = {"query": "lgsp_systems_connected"}
    series = (await client.get(f"{prometheus}/api/v1/query", params=query)).json()["data"]["result"]
    groups = (await client.get(f"{prometheus}/api/v1/rules")).json()["data"]["groups"]
    return {
        "indicators": await indicators_through(client, cluster.hubs),
        "dashboards": {hub.url: (await client.get(f"{hub.url}/")).status_code for hub in cluster.hubs},
        "targets": await prometheus_targets(client, prometheus),
        "series_instances": sorted({s["metric"].get("instance", "") for s in series}),
        "series": len(series),
        "rule_groups": sorted(group["name"] for group in groups),
    }


async def run_cluster(
    base: Settings,
    options: ClusterOptions,
    run_dir: Path,
    console: Console,
    kafka: KafkaCluster | None = None,
) -> ClusterResult:
    """Start the cluster, show its processes, then the indicators through each hub every few seconds
    until `duration` passes (or until cancelled: Ctrl-C, SIGTERM); stop everything; return what was seen
    last, through each hub and by Prometheus, and what was stopped."""
    async with running_cluster(base, options, run_dir, console, kafka) as cluster:
        nodes = await asyncio.to_thread(cluster.kafka.nodes)
        console.print(process_table(cluster, nodes))
        token = cluster.settings.admin_token.get_secret_value() if cluster.settings.admin_token else ""
        until = "Ctrl-C stops it" if options.duration is None else f"stopping in {options.duration:.0f}s"
        console.print(
            f"up in {cluster.startup_seconds:.0f}s · admin token [bold]{token}[/] · Prometheus "
            f"{cluster.prometheus_url} · {until}"
        )
        await watch(cluster, options, console)
        seen = await observe(cluster)
    kafka_pids = [node.pid for node in nodes] if cluster.own_kafka else []
    return ClusterResult(
        indicators=seen["indicators"],
        hubs=[hub.url for hub in cluster.hubs],
        dashboards=seen["dashboards"],
        targets=seen["targets"],
        series_instances=seen["series_instances"],
        series=seen["series"],
        rule_groups=seen["rule_groups"],
        in_scope=cluster.in_scope,
        pids=[process.pid for process in cluster.processes] + kafka_pids,
        exit_codes=cluster.exit_codes,
        prometheus=cluster.prometheus_url,
        run_dir=str(cluster.run_dir),
        startup_seconds=cluster.startup_seconds,
    )
