"""`lgsp demo`: the whole axis on one machine, with faults, and the indicators live in the terminal."""

import asyncio
import contextlib
import random
import secrets
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from rich.columns import Columns
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress import Progress, TaskID
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from buscore.signing import Trust
from connectors.datasets import BusinessStore, Datasets, PopulationStore, SqliteStore, generate_all
from connectors.datasets.loader import load_into
from connectors.mock import MockSystem, mock_systems
from connectors.registration import register_system
from connectors.sdk import Connector, ExchangeError
from connectors.services import declarations, served_datasets, subject_lookups
from lgsp.api.server import serving
from lgsp.app import create_app
from lgsp.bus.broker import bootstrap_servers
from lgsp.settings import Settings
from sandbox.identity import citizen_page, stub_provider
from sandbox.ngsp.gateway import NationalGateway
from sandbox.ngsp.service import running_gateway
from sandbox.simulation import Prepared, Simulation, SimulationOptions, prepare, provincial
from schemas.common import utcnow
from schemas.onceonly import EVIDENCE_GET, EVIDENCE_REGISTER, load_catalogue


@dataclass
class DemoOptions:
    systems: int = 20
    citizens: int = 1000
    rate: float = 20.0
    duration: float | None = None
    port: int = 8000
    seed: int = 7
    dossier_rate: float = 5.0
    fault_every: float = 6.0
    outage: tuple[float, float] = (8.0, 20.0)


def demo_settings(base: Settings, port: int, workdir: Path) -> Settings:
    """Embedded defaults with short intervals, so connections and outages show within seconds."""
    changes: dict[str, Any] = {
        "port": port,
        "heartbeat_interval": 1.0,
        "heartbeat_ttl": 3.5,
        "probe_interval": 2.0,
        "probe_ttl": 5.0,
        "probe_timeout": 2.0,
        "consumer_session_timeout_ms": 4000,
        "admin_token": base.admin_token or SecretStr(secrets.token_urlsafe(24)),
        # Shared by the hub and the NGSP stub, which derive their bus keys from it (one organisation
        # plays both in the demo).
        "secret_key": base.secret_key or SecretStr(secrets.token_hex(32)),
    }
    if base.citizen_issuer_key is None:  # citizens sign in to /me with the sandbox's stand-in for VNeID
        provider = stub_provider(base.model_copy(update={"secret_key": changes["secret_key"]}))
        changes["citizen_issuer_key"] = provider.public_key
    fields = base.model_fields_set
    if "database_url" not in fields:
        changes["database_url"] = f"sqlite+aiosqlite:///{workdir / 'lgsp.db'}"
    if "ngsp_database_url" not in fields:
        changes["ngsp_database_url"] = f"sqlite+aiosqlite:///{workdir / 'ngsp.db'}"
    return base.model_copy(update=changes)


def tuned_connector(
    settings: Settings, system: str, api_key: str, bootstrap: str, trust: Trust | str
) -> Connector:
    """A connector whose heartbeats, consumer session and inbox watchdog match the hub's `settings`."""
    return Connector(
        system,
        api_key,
        bootstrap,
        trust=trust,
        topic_prefix=settings.topic_prefix,
        heartbeat_interval=settings.heartbeat_interval,
        session_timeout_ms=settings.consumer_session_timeout_ms,
        inbox_watchdog=3 * settings.probe_interval,
        fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms,
        kafka_options=_connector_kafka_options(settings),
        idempotence=settings.kafka_idempotence,
        kafka_principal=settings.kafka_principals,
    )


def _connector_kafka_options(settings: Settings) -> dict[str, Any]:
    """The hub's Kafka security options for a connector: with per-system principals, the protocol and
    TLS only (the connector logs in as its own system, never with the hub's credentials)."""
    options = settings.kafka_options()
    if settings.kafka_principals:
        for name in ("sasl_mechanism", "sasl_plain_username", "sasl_plain_password"):
            options.pop(name, None)
    return options


@dataclass
class Fleet:
    """The mock systems' connectors and the fault schedule that takes them down and up."""

    connectors: dict[str, Connector]
    rng: random.Random
    down_until: dict[str, float] = field(default_factory=dict)
    events: list[str] = field(default_factory=list)

    async def fault_step(self, now: float, outage: tuple[float, float]) -> None:
        for code, until in list(self.down_until.items()):
            if now >= until:
                await self.connectors[code].start()
                del self.down_until[code]
                self._log(f"[green]{code} back up[/]")
        # The one-stop shop is the client of every exchange and dossier: faults hit the others.
        candidates = [c for c in self.connectors if c not in self.down_until and c != "MOT-CUA"]
        if candidates:
            code = self.rng.choice(candidates)
            await self.connectors[code].stop()
            self.down_until[code] = now + self.rng.uniform(*outage)
            self._log(f"[red]{code} taken down[/]")

    def _log(self, text: str) -> None:
        self.events.append(f"{datetime.now():%H:%M:%S} {text}")
        del self.events[:-6]


@dataclass(frozen=True, slots=True)
class Target:
    """A service the workload calls, and the one key its requests carry (citizen_id or tax_code)."""

    provider: str
    service: str
    key: str


def _purpose(target: Target) -> str:
    """Why the one-stop shop asks (docs/citizens/data-tracker.md): about a business, for a change to its
    registration; about a person, to check who is at the counter."""
    return "business-change-registration" if target.key == "tax_code" else "identity-verification"


@dataclass
class Workload:
    """The one-stop-shop asking the axis for citizens' and businesses' records, at a steady rate."""

    client: Connector
    denied_caller: Connector | None
    targets: list[Target]
    citizens: list[str]
    tax_codes: list[str]
    rng: random.Random
    outcomes: Counter[str] = field(default_factory=Counter)
    _inflight: set[asyncio.Task[None]] = field(default_factory=set)

    async def run(self, rate: float) -> None:
        """Start one request every 1/rate seconds, each in its own task so slow answers keep the pace."""
        while True:
            task = asyncio.create_task(self._one())
            self._inflight.add(task)
            task.add_done_callback(self._inflight.discard)
            await asyncio.sleep(1 / rate)

    async def _one(self) -> None:
        target = self.rng.choice(self.targets)
        subject = self.rng.choice(self.tax_codes if target.key == "tax_code" else self.citizens)
        payload = {target.key: subject}
        # Now and then a system that was never granted the service tries: it must be denied.
        caller = self.denied_caller if self.denied_caller and self.rng.random() < 0.05 else self.client
        try:
            await caller.request(
                target.provider,
                target.service,
                payload,
                timeout=2.0,
                subject=subject,
                purpose=_purpose(target),
            )
            self.outcomes["success"] += 1
        except ExchangeError as exc:
            self.outcomes[exc.code] += 1

    def stop(self) -> None:
        """Abandon the requests still in flight."""
        for task in self._inflight:
            task.cancel()


def _ratio_bar(label: str, connected: int, in_scope: int, target: float) -> Table:
    ratio = connected / in_scope if in_scope else 0.0
    colour = "green" if ratio >= target else "yellow" if ratio >= 0.8 else "red"
    grid = Table.grid(padding=(0, 1))
    grid.add_row(
        Text(f"{label:<5}", style="bold"),
        ProgressBar(total=1.0, completed=ratio, width=40, complete_style=colour),
        Text(f"{ratio:6.1%}  {connected}/{in_scope}  (target {target:.0%})", style=colour),
    )
    return grid


def _since(at: str | None) -> str:
    if not at:
        return "-"
    seconds = (utcnow() - datetime.fromisoformat(at)).total_seconds()
    return f"{seconds:4.0f}s"


def _exchanges_panel(workload: Workload, elapsed: float) -> Panel:
    total = sum(workload.outcomes.values())
    table = Table.grid(padding=(0, 2))
    for outcome, count in workload.outcomes.most_common():
        style = "green" if outcome == "success" else "yellow" if outcome.startswith("client") else "red"
        table.add_row(Text(outcome, style=style), f"{count:>7}")
    rate = total / elapsed if elapsed > 0 else 0.0
    return Panel(table, title=f"exchanges: {total} answered, {rate:.1f}/s")


def render(
    indicators: dict[str, Any],
    links: list[dict[str, Any]],
    fleet: Fleet,
    workload: Workload,
    simulation: Simulation,
    elapsed: float,
    url: str,
) -> Group:
    """The live view: both indicators against target, the systems table, exchanges and recent faults."""
    conn = indicators["connectivity"]
    ratios = Panel(
        Group(
            _ratio_bar("LGSP", conn["lgsp"]["connected"], conn["lgsp"]["in_scope"], conn["lgsp"]["target"]),
            _ratio_bar(
                "NDXP (NGSP)", conn["ngsp"]["connected"], conn["ngsp"]["in_scope"], conn["ngsp"]["target"]
            ),
        ),
        title="100% of in-scope systems connected through the LGSP and to the NDXP (formerly NGSP)",
    )
    once = indicators["once_only"]
    once_only = Panel(
        Group(
            *(
                _ratio_bar(label, m["numerator"], m["denominator"], m["target"])
                for label, m in (
                    ("dossier", once["by_dossier"]),
                    ("person", once["by_applicant"]),
                    ("reuse", once["reuse"]),
                )
            )
        ),
        title=(
            "80% of citizens and businesses do not re-provide documents already accepted "
            f"({simulation.result.filed} dossiers filed)"
        ),
    )
    table = Table(expand=True, title=f"Systems  ({url})")
    for column in ("system", "agency", "level", "scope", "LGSP", "NDXP", "for", "why"):
        table.add_column(column, no_wrap=True, overflow="ellipsis", ratio=2 if column == "why" else None)
    for row in links:
        table.add_row(
            row["code"],
            row["agency_code"],
            row["level"],
            "in" if row["in_scope"] else "[dim]exempt[/]",
            "[green]●[/]" if row["lgsp_connected"] else "[red]○[/]",
            "[green]●[/]" if row["ngsp_connected"] else "[red]○[/]",
            _since(row["lgsp_since"]),
            row["lgsp_reason"]
            if not row["lgsp_connected"]
            else ""
            if row["ngsp_connected"]
            else row["ngsp_reason"],
        )
    faults = Panel("\n".join(fleet.events) or "none yet", title="fault schedule")
    return Group(
        ratios, once_only, table, Columns([_exchanges_panel(workload, elapsed), faults], expand=True)
    )


@dataclass
class World:
    """Everything `running_world` started: the hub's URL and an admin client, the fleet, the data."""

    settings: Settings
    client: httpx.AsyncClient
    fleet: Fleet
    datasets: Datasets
    gateway: NationalGateway
    url: str
    ids: dict[str, int]  # system code -> registry id


@contextlib.asynccontextmanager
async def running_world(base: Settings, options: DemoOptions, console: Console) -> AsyncIterator[World]:
    """Data, broker, NGSP stub, hub and the mock fleet with its services declared and granted to the
    one-stop shop's agency; everything stops when the context exits."""
    with tempfile.TemporaryDirectory(prefix="lgsp-demo-") as tmp:
        settings = demo_settings(base, options.port, Path(tmp))
        token = settings.admin_token.get_secret_value() if settings.admin_token else ""
        async with contextlib.AsyncExitStack() as stack:
            where = Path(tmp) / "datasets"
            datasets = await generate_datasets(where, options.citizens, options.seed, console)
            with console.status("starting the embedded broker, hub and NDXP (NGSP) stub..."):
                bootstrap = await stack.enter_async_context(bootstrap_servers(settings))
                gateway = await stack.enter_async_context(running_gateway(settings, bootstrap, datasets))
                await stack.enter_async_context(
                    serving(create_app(settings, bootstrap), settings.host, settings.port)
                )
            url = f"http://{settings.host}:{settings.port}"
            console.print(f"[bold]LGSP hub[/] on {url}  (dashboard {url}/, API {url}/docs)  bus {bootstrap}")
            console.print(f"admin token: [bold]{token}[/]")
            client = await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
            )
            fleet, ids = await stack.enter_async_context(
                running_fleet(client, settings, bootstrap, options, datasets, console)
            )
            await _grant_national(client, gateway)
            yield World(settings, client, fleet, datasets, gateway, url, ids)


async def _grant_national(client: httpx.AsyncClient, gateway: NationalGateway) -> None:
    """Grant the one-stop shop's agency every service the NGSP stub serves: the hub forwards nothing else
    beyond the province (lgsp.catalogue.national), and `client` is an admin, whose grants hold at once."""
    side = gateway.national
    if side is None:
        return
    evidence = {(holder, code) for holder in side.holders for code in (EVIDENCE_GET, EVIDENCE_REGISTER)}
    for provider, service in sorted(set(side.services) | evidence):
        body = {"client_agency": "VP-UBND", "provider": provider, "service": service, "reason": "the demo"}
        (await client.post("/api/v1/national-grants", json=body)).raise_for_status()


@contextlib.asynccontextmanager
async def running_fleet(
    client: httpx.AsyncClient,
    settings: Settings,
    bootstrap: str,
    options: DemoOptions,
    datasets: Datasets,
    console: Console,
) -> AsyncIterator[tuple[Fleet, dict[str, int]]]:
    """The mock systems registered through the hub's API (`client`, an admin), connected on `bootstrap`,
    serving `datasets`, with their services declared and granted to the one-stop shop's agency; yields
    the fleet and the systems' ids by code, and stops every connector on exit."""
    async with contextlib.AsyncExitStack() as stack:
        fleet = await _register_fleet(client, settings, bootstrap, options, console)
        for connector in fleet.connectors.values():
            stack.push_async_callback(connector.stop)
            await stack.enter_async_context(served_datasets(connector, datasets))
        ids = {
            s["code"]: s["id"]
            for s in (await client.get("/api/v1/systems", params={"limit": 1000})).json()["items"]
        }
        await _declare_services(client, fleet, ids)
        yield fleet, ids


async def run_demo(base: Settings, options: DemoOptions, console: Console) -> dict[str, Any]:
    """Run everything until `duration` passes (or forever); return the last indicators."""
    async with running_world(base, options, console) as world:
        national = world.gateway.national.services.values() if world.gateway.national else []
        beyond = [Target(s.provider, s.code, s.key) for s in national]
        workload = await _workload(world, beyond, options)
        # The demo's own fault schedule takes holders down; the simulation leaves them alone.
        dossiers = SimulationOptions(
            applicants=min(300, options.citizens),
            dossiers=100_000,
            rate=options.dossier_rate,
            seed=options.seed,
        )
        prepared = await prepare(world.fleet.connectors, world.datasets, dossiers, control_holders=False)
        _print_citizen_page(console, world, prepared)
        filing = asyncio.create_task(prepared.simulation.run(prepared.dossiers), name="dossiers")
        try:
            return await _watch(world, workload, prepared.simulation, options, console)
        finally:
            filing.cancel()
            await asyncio.gather(filing, return_exceptions=True)
            await prepared.close()


def _print_citizen_page(console: Console, world: World, prepared: Prepared) -> None:
    """A link to /me signed in as one of the applicants: who read their data, and why."""
    link = citizen_page(world.settings, world.url, (d.applicant for d in prepared.dossiers))
    if link is not None:
        console.print(f"a citizen's data tracker: {link}", soft_wrap=True)


@contextlib.contextmanager
def progress_bars(console: Console, doing: str) -> Iterator[Callable[[str, int, int], None]]:
    """A progress callback (name, done, total) drawing a bar per name, "`doing` name"."""
    with Progress(*Progress.get_default_columns(), console=console, transient=True) as progress:
        bars: dict[str, TaskID] = {}

        def report(name: str, done: int, total: int) -> None:
            if name not in bars:
                bars[name] = progress.add_task(f"{doing} {name}", total=total)
            progress.update(bars[name], completed=done)

        yield report


async def generate_datasets(directory: Path, citizens: int, seed: int, console: Console) -> Datasets:
    """The mock systems' data, with a progress bar per dataset."""
    with progress_bars(console, "generating") as report:
        return await generate_all(directory, citizens=citizens, seed=seed, progress=report)


async def load_datasets(
    datasets: Datasets, url: str, stores: Sequence[type[SqliteStore]], console: Console
) -> dict[str, int]:
    """Load `stores` of the generated `datasets` into the database at `url`, a progress bar per table."""
    with progress_bars(console, "loading") as report:
        return await load_into(datasets, url, stores, report)


async def _declare_services(client: httpx.AsyncClient, fleet: Fleet, ids: dict[str, int]) -> None:
    """Declare the mock systems' services (and the holders' evidence services) and grant them all to the
    one-stop shop's agency."""
    for code in fleet.connectors:
        for declaration in declarations(code):
            declared = await client.post(f"/api/v1/systems/{ids[code]}/services", json=declaration)
            declared.raise_for_status()
            granted = await client.post(
                f"/api/v1/systems/{ids[code]}/grants",
                json={"service": declaration["code"], "client_agency": "VP-UBND"},
            )
            granted.raise_for_status()


async def _workload(world: World, beyond: list[Target], options: DemoOptions) -> Workload:
    """The exchange workload over the declared services and the services `beyond` the province."""
    fleet = world.fleet
    # The workload asks for citizens' and businesses' records; QLVB's document services take other keys.
    present = subject_lookups(fleet.connectors)
    async with (
        await world.datasets.open(PopulationStore) as people,
        await world.datasets.open(BusinessStore) as firms,
    ):
        citizens = await people.sample_citizens(min(500, options.citizens), options.seed)
        # About one person in twenty-five owns a business: sample well within that.
        tax_codes = await firms.sample_tax_codes(max(1, options.citizens // 50), options.seed)
    outsider = next((fleet.connectors[c] for c in ("LLTP", "BAO-CAO") if c in fleet.connectors), None)
    targets = [Target(system, code, key) for system, code, key in present]
    return Workload(
        fleet.connectors["MOT-CUA"],
        outsider,
        targets + beyond,
        citizens,
        tax_codes,
        random.Random(options.seed),
    )


async def _register_fleet(
    client: httpx.AsyncClient, settings: Settings, bootstrap: str, options: DemoOptions, console: Console
) -> Fleet:
    agencies, systems = mock_systems(options.systems, options.seed)
    for agency in agencies:
        response = await client.post(
            "/api/v1/agencies", json={"code": agency.code, "name": agency.name, "level": agency.level}
        )
        response.raise_for_status()
    connectors: dict[str, Connector] = {}
    with console.status(f"registering {len(systems)} systems and connecting them..."):
        for system in systems:
            connectors[system.code] = await _connect(client, system, settings, bootstrap)
    return Fleet(connectors, random.Random(options.seed))


async def _connect(
    client: httpx.AsyncClient, system: MockSystem, settings: Settings, bootstrap: str
) -> Connector:
    registered = await register_system(client, system.registration())
    connector = tuned_connector(
        settings, registered.code, registered.api_key, bootstrap, registered.bus_trust
    )
    await connector.start()
    return connector


async def _watch(
    world: World, workload: Workload, simulation: Simulation, options: DemoOptions, console: Console
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    next_fault = started + options.fault_every * 2  # let everyone connect first
    indicators: dict[str, Any] = {}
    traffic = asyncio.create_task(workload.run(options.rate), name="workload")
    try:
        indicators = await _live(world, workload, simulation, options, console, started, next_fault)
    finally:
        traffic.cancel()
        workload.stop()
    elapsed = loop.time() - started
    return indicators | {
        "exchanges": dict(workload.outcomes),
        "exchanges_per_second": sum(workload.outcomes.values()) / elapsed,
        "dossiers_filed": simulation.result.filed,
    }


async def _live(
    world: World,
    workload: Workload,
    simulation: Simulation,
    options: DemoOptions,
    console: Console,
    started: float,
    next_fault: float,
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    indicators: dict[str, Any] = {}
    client = world.client
    with Live(console=console, refresh_per_second=2, transient=False) as live:
        while options.duration is None or loop.time() - started < options.duration:
            now = loop.time()
            if now >= next_fault:
                await world.fleet.fault_step(now, options.outage)
                next_fault = now + options.fault_every
            indicators = (await client.get("/api/v1/indicators")).json()
            links = (await client.get("/api/v1/connectivity/systems", params={"limit": 1000})).json()["items"]
            view = render(
                indicators, links, world.fleet, workload, simulation, loop.time() - started, world.url
            )
            live.update(view)
            await asyncio.sleep(1)
    return indicators


async def run_simulation(
    base: Settings, options: DemoOptions, simulation: SimulationOptions, console: Console
) -> dict[str, Any]:
    """`lgsp simulate`: file a seeded plan of dossiers with holder faults, then report what the hub
    measured (the once-only report of the simulated period)."""
    async with running_world(base, options, console) as world:

        async def connected(code: str, link: str = "lgsp") -> bool:
            status = (await world.client.get(f"/api/v1/systems/{world.ids[code]}/status")).json()
            return bool(status[f"{link}_connected"])

        async def wait_connected(code: str) -> None:
            await until(lambda: connected(code), what=f"{code} to connect")

        with console.status("waiting for the one-stop shop and the holders to connect..."):
            # National lookups need the one-stop shop in the national catalogue: its NGSP link.
            await until(lambda: connected("MOT-CUA", "ngsp"), what="MOT-CUA to reach the NDXP")
            for code in provincial(load_catalogue().holders()):
                await wait_connected(code)
        prepared = await prepare(
            world.fleet.connectors, world.datasets, simulation, wait_connected=wait_connected
        )
        _print_citizen_page(console, world, prepared)
        try:
            with Progress(*Progress.get_default_columns(), console=console) as progress:
                bar = progress.add_task("filing dossiers", total=len(prepared.dossiers))
                await prepared.simulation.run(prepared.dossiers, lambda n: progress.advance(bar, n))
        finally:
            await prepared.close()
        result = prepared.simulation.result

        async def recorded() -> bool:
            indicators = (await world.client.get("/api/v1/indicators")).json()
            return bool(indicators["once_only"]["by_dossier"]["denominator"] >= result.filed)

        with console.status("waiting for the ledger to record every dossier..."):
            await until(recorded, what="the ledger to record every dossier")
        report: dict[str, Any] = (await world.client.get("/api/v1/reports/once-only")).json()
        console.print(summary(report, result.filed, result.refused, result.outages))
        return report | {"filed": result.filed, "refused": result.refused, "outages": result.outages}


async def until(check: Callable[[], Awaitable[bool]], *, what: str, patience: float = 60.0) -> None:
    """Wait until `check()` holds; TimeoutError naming `what` after `patience` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + patience
    while True:
        if await check():
            return
        if loop.time() > deadline:
            raise TimeoutError(f"gave up waiting for {what} after {patience:.0f}s")
        await asyncio.sleep(0.2)


def summary(report: dict[str, Any], filed: int, refused: int, outages: int) -> Group:
    """The final tables of a simulation: the three measures, and where re-submissions came from."""
    measures = Table(title=f"once-only, {filed} dossiers filed ({refused} refused, {outages} holder outages)")
    for column in ("measure", "numerator", "denominator", "ratio", "target"):
        measures.add_column(column, justify="left" if column == "measure" else "right")
    m = report["measures"]
    for name in ("by_dossier", "by_applicant", "reuse"):
        value = m[name]
        ratio = value["ratio"]
        colour = "green" if ratio is not None and ratio >= value["target"] else "red"
        shown = f"[{colour}]{ratio:.1%}[/]" if ratio is not None else "-"
        measures.add_row(
            name, str(value["numerator"]), str(value["denominator"]), shown, f"{value['target']:.0%}"
        )
    points = m["reuse"]["points"]
    shown_points = "-" if points is None else f"{points:.3f}"
    measures.caption = f"Decision 766 reuse score: {shown_points} of {m['reuse']['max_points']}"
    documents = Table(title="documents by type")
    for column in ("document type", "reused", "first submissions", "re-submissions"):
        documents.add_column(column, justify="left" if column == "document type" else "right")
    for line in report["by_document_type"]:
        documents.add_row(
            line["document_type"],
            str(line["reused"]),
            str(line["first_submissions"]),
            str(line["resubmissions"]),
        )
    causes = Table(title="re-submissions by cause")
    causes.add_column("cause")
    causes.add_column("re-submissions", justify="right")
    for line in report["by_cause"]:
        causes.add_row(line["cause"], str(line["resubmissions"]))
    return Group(measures, documents, causes)
