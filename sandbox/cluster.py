"""`lgsp cluster`: the production topology as processes on this machine. A 3-node Apache Kafka cluster,
PostgreSQL (already running: the Makefile starts it), two hub processes sharing one database and one
consumer group, the NGSP stub, Prometheus scraping both hubs with the shipped rules, and the demo's
mock systems; the indicators are read through each hub, and must agree."""

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import yaml
from rich.console import Console
from rich.table import Table

from lgsp.bus.broker import free_port
from lgsp.settings import Settings
from sandbox.demo import DemoOptions, generate_datasets, running_fleet
from sandbox.kafka import KafkaCluster

ROOT = Path(__file__).resolve().parent.parent
#: Where PostgreSQL listens (trust auth on loopback, as scripts/with-postgres.sh sets it up).
PG_SERVER = os.environ.get("LGSP_CLUSTER_PG", "postgres@127.0.0.1:5432")
DATABASE = "lgsp_cluster"


@dataclass(frozen=True, slots=True)
class ClusterOptions:
    """How big a cluster, for how long, on which ports."""

    systems: int = 6
    citizens: int = 1000
    duration: float | None = None
    base_port: int = 8001
    seed: int = 7


@dataclass
class Process:
    """One child process of the cluster, logging to its own file."""

    name: str
    process: asyncio.subprocess.Process
    log: Path
    url: str = ""

    async def stop(self, patience: float = 20.0) -> None:
        """SIGTERM, then SIGKILL after `patience` seconds."""
        if self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            async with asyncio.timeout(patience):
                await self.process.wait()
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


@dataclass
class Cluster:
    """What `running_cluster` started."""

    run_dir: Path
    kafka: KafkaCluster
    hubs: list[Process]
    processes: list[Process] = field(default_factory=list)
    prometheus_url: str = ""


async def spawn(
    name: str, command: list[str], env: Mapping[str, str], run_dir: Path, url: str = ""
) -> Process:
    """Start `command` with `env` added to ours, its output in run_dir/NAME.log."""
    log = run_dir / f"{name}.log"
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            *command,
            env=os.environ | dict(env),
            cwd=run_dir,  # no stray .env file is read
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    return Process(name, process, log, url)


async def wait_ready(process: Process, path: str, patience: float = 90.0) -> None:
    """Wait until `process` answers 200 at `path`; fail with the end of its log if it dies or times out."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    async with httpx.AsyncClient(base_url=process.url, timeout=5) as client:
        while loop.time() < deadline:
            if process.process.returncode is not None:
                break
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(path)).status_code == 200:
                    return
            await asyncio.sleep(0.3)
    tail = process.log.read_text(errors="replace")[-2000:]
    raise RuntimeError(f"{process.name} was not ready at {process.url}{path}: {tail}")


async def fresh_database() -> str:
    """A new, empty PostgreSQL database for the cluster's hubs (an old one is dropped)."""
    admin = await asyncpg.connect(f"postgresql://{PG_SERVER}/postgres")
    try:
        await admin.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await admin.close()
    return f"postgresql+asyncpg://{PG_SERVER}/{DATABASE}"


def prometheus_config(run_dir: Path, targets: list[str]) -> Path:
    """The shipped Prometheus configuration with the hubs as targets and the shipped rules, by path."""
    config: dict[str, Any] = yaml.safe_load((ROOT / "monitoring" / "prometheus.yml").read_text())
    config["global"] |= {"scrape_interval": "2s", "evaluation_interval": "2s"}
    config["rule_files"] = [str(ROOT / "monitoring" / rules) for rules in config["rule_files"]]
    for job in config["scrape_configs"]:
        job["static_configs"] = [{"targets": targets}]
    path = run_dir / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def hub_environment(settings: Settings, bootstrap: str, database_url: str, port: int) -> dict[str, str]:
    """What every process of the cluster shares (bus, replication, database, token), and one hub's port."""
    cluster = {
        "kafka_bootstrap": bootstrap,
        "kafka_replication_factor": 3,
        "kafka_min_insync_replicas": 2,
        "kafka_idempotence": True,
        "database_url": database_url,
        "host": "127.0.0.1",
        "port": port,
    }
    return settings.model_copy(update=cluster).environment()


@contextlib.asynccontextmanager
async def running_cluster(
    base: Settings,
    options: ClusterOptions,
    run_dir: Path,
    console: Console,
    kafka: KafkaCluster | None = None,
) -> AsyncIterator[Cluster]:
    """Start the whole topology (on `kafka` if given, else a new 3-node cluster) and stop every process
    it started on exit, whatever happened."""
    lgsp = str(Path(sys.executable).with_name("lgsp"))
    async with contextlib.AsyncExitStack() as stack:
        if kafka is None:
            with console.status("starting a 3-node Apache Kafka cluster..."):
                kafka = await stack.enter_async_context(KafkaCluster(3, run_dir / "kafka"))
        datasets = await generate_datasets(run_dir / "datasets", options.citizens, options.seed, console)
        database_url = await fresh_database()
        cluster = Cluster(run_dir, kafka, [])

        async def started(process: Process) -> Process:
            cluster.processes.append(process)
            stack.push_async_callback(process.stop)
            return process

        with console.status("starting two hubs, the NGSP stub and Prometheus..."):
            for n in range(2):
                port = options.base_port + n
                env = hub_environment(base, kafka.bootstrap, database_url, port)
                hub = await started(
                    await spawn(f"hub-{n + 1}", [lgsp, "hub"], env, run_dir, f"http://127.0.0.1:{port}")
                )
                await wait_ready(hub, "/readyz")  # the first migrates the database before the second starts
                cluster.hubs.append(hub)
            ngsp_env = hub_environment(base, kafka.bootstrap, database_url, 0) | {
                "LGSP_NGSP_DATABASE_URL": f"sqlite+aiosqlite:///{run_dir / 'ngsp.db'}"
            }
            await started(
                await spawn(
                    "ngsp", [lgsp, "ngsp", "--datasets", str(run_dir / "datasets")], ngsp_env, run_dir
                )
            )
            port = free_port("127.0.0.1")
            config = prometheus_config(run_dir, [h.url.removeprefix("http://") for h in cluster.hubs])
            prometheus = await started(
                await spawn(
                    "prometheus",
                    [
                        "prometheus",
                        f"--config.file={config}",
                        f"--storage.tsdb.path={run_dir / 'prometheus'}",
                        f"--web.listen-address=127.0.0.1:{port}",
                    ],
                    {},
                    run_dir,
                    f"http://127.0.0.1:{port}",
                )
            )
            await wait_ready(prometheus, "/-/ready")
            cluster.prometheus_url = prometheus.url
        fleet_settings = base.model_copy(update={"kafka_bootstrap": kafka.bootstrap})
        token = base.admin_token.get_secret_value() if base.admin_token else ""
        client = await stack.enter_async_context(
            httpx.AsyncClient(
                base_url=cluster.hubs[0].url, headers={"Authorization": f"Bearer {token}"}, timeout=15
            )
        )
        demo = DemoOptions(systems=options.systems, citizens=options.citizens, seed=options.seed)
        await stack.enter_async_context(
            running_fleet(client, fleet_settings, kafka.bootstrap, demo, datasets, console)
        )
        yield cluster


async def indicators_through(hubs: list[Process]) -> list[dict[str, Any]]:
    """`GET /api/v1/indicators` through each hub."""
    answers = []
    for hub in hubs:
        async with httpx.AsyncClient(base_url=hub.url, timeout=10) as client:
            response = await client.get("/api/v1/indicators")
            response.raise_for_status()
            answers.append(response.json())
    return answers


async def prometheus_targets(url: str) -> dict[str, str]:
    """Each scraped hub's health as Prometheus sees it (`up`, `down` or `unknown`)."""
    async with httpx.AsyncClient(base_url=url, timeout=10) as client:
        active = (await client.get("/api/v1/targets")).json()["data"]["activeTargets"]
    return {t["scrapeUrl"]: t["health"] for t in active}


def process_table(cluster: Cluster) -> Table:
    """What runs where: one row per process."""
    table = Table(title="lgsp cluster")
    for column in ("process", "pid", "address", "log"):
        table.add_column(column)
    table.add_row(
        "kafka (3 nodes)",
        ", ".join(str(n.pid) for n in cluster.kafka.nodes()),
        cluster.kafka.bootstrap,
        str(cluster.kafka.directory),
    )
    for process in cluster.processes:
        table.add_row(process.name, str(process.process.pid), process.url, str(process.log))
    return table


def link_line(indicators: dict[str, Any]) -> str:
    """`LGSP a/b, NGSP c/d` from one hub's indicators."""
    lgsp, ngsp = indicators["connectivity"]["lgsp"], indicators["connectivity"]["ngsp"]
    return f"LGSP {lgsp['connected']}/{lgsp['in_scope']}, NGSP {ngsp['connected']}/{ngsp['in_scope']}"


async def run_cluster(
    base: Settings,
    options: ClusterOptions,
    run_dir: Path,
    console: Console,
    kafka: KafkaCluster | None = None,
) -> dict[str, Any]:
    """Run the cluster until `duration` passes (or until cancelled), showing the indicators through each
    hub every few seconds; return what was last seen through each hub and by Prometheus."""
    async with running_cluster(base, options, run_dir, console, kafka) as cluster:
        console.print(process_table(cluster))
        loop = asyncio.get_running_loop()
        until = None if options.duration is None else loop.time() + options.duration
        seen: list[dict[str, Any]] = []
        while until is None or loop.time() < until:
            seen = await indicators_through(cluster.hubs)
            console.print(
                "  ·  ".join(f"{hub.name}: {link_line(i)}" for hub, i in zip(cluster.hubs, seen, strict=True))
            )
            await asyncio.sleep(3)
        return {
            "indicators": seen,
            "hubs": [hub.url for hub in cluster.hubs],
            "targets": await prometheus_targets(cluster.prometheus_url),
            "prometheus": cluster.prometheus_url,
            "pids": [p.process.pid for p in cluster.processes],
        }
