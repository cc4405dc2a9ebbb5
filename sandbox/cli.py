"""The sandbox's commands of `lgsp`: the demo, the once-only simulation, the mock datasets, the NGSP stub
and a mock system's connector. Registered through the `lgsp.commands` entry point."""

import asyncio
from pathlib import Path
from typing import Annotated

import typer

from lgsp.cli import Verbose, console, run, setup_logging
from lgsp.settings import Settings

commands = typer.Typer()


def register(app: typer.Typer) -> None:
    """Add the sandbox's commands to the `lgsp` command."""
    app.registered_commands.extend(commands.registered_commands)


@commands.command()
def demo(
    systems: Annotated[int, typer.Option(min=1, max=500, help="Mock provincial systems")] = 20,
    citizens: Annotated[int, typer.Option(min=100, max=2_000_000, help="Simulated population")] = 1000,
    rate: Annotated[float, typer.Option(min=0.1, max=10_000, help="Exchanges per second to offer")] = 20.0,
    duration: Annotated[float | None, typer.Option(min=1, help="Stop after this many seconds")] = None,
    port: Annotated[int, typer.Option(min=1, max=65535, help="API and dashboard port")] = 8000,
    seed: Annotated[int, typer.Option(help="Seed of the fault schedule")] = 7,
    verbose: Verbose = False,
) -> None:
    """Start everything on embedded defaults, run a workload with faults, and show the indicators live."""
    from sandbox.demo import DemoOptions, run_demo

    setup_logging(verbose)
    options = DemoOptions(
        systems=systems, citizens=citizens, rate=rate, duration=duration, port=port, seed=seed
    )
    result = run(run_demo(Settings(), options, console))
    if result:
        lgsp, ngsp = result["connectivity"]["lgsp"], result["connectivity"]["ngsp"]
        console.print(
            f"final: LGSP {lgsp['connected']}/{lgsp['in_scope']}, NDXP {ngsp['connected']}/{ngsp['in_scope']}"
        )
        console.print(f"exchanges {result['exchanges']} at {result['exchanges_per_second']:.1f}/s")


@commands.command()
def simulate(
    applicants: Annotated[
        int, typer.Option(min=1, max=1_000_000, help="Citizens and businesses filing")
    ] = 200,
    dossiers: Annotated[int, typer.Option(min=1, max=10_000_000, help="Dossiers to file")] = 400,
    rate: Annotated[float, typer.Option(min=0.1, max=10_000, help="Dossiers started per second")] = 50.0,
    fault_rate: Annotated[
        float, typer.Option(min=0.0, max=1.0, help="Chance a holder system is down in each epoch")
    ] = 0.2,
    days: Annotated[int, typer.Option(min=1, max=36_500, help="Simulated days the dossiers span")] = 365,
    citizens: Annotated[int, typer.Option(min=100, max=2_000_000, help="Simulated population")] = 2000,
    port: Annotated[int, typer.Option(min=1, max=65535, help="API port while it runs")] = 8000,
    seed: Annotated[int, typer.Option(help="Same seed, same plan and faults")] = 7,
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Write the report JSON here")] = None,
    verbose: Verbose = False,
) -> None:
    """File dossiers through the one-stop shop while holders fail; print the once-only indicators."""
    import json

    from sandbox.demo import DemoOptions, run_simulation
    from sandbox.simulation import SimulationOptions

    setup_logging(verbose)
    # The provincial core only: the one-stop shop, the holders, and the exempt system.
    world = DemoOptions(systems=7, citizens=citizens, port=port, seed=seed)
    plan = SimulationOptions(
        applicants=applicants, dossiers=dossiers, rate=rate, fault_rate=fault_rate, days=days, seed=seed
    )
    report = run(run_simulation(Settings(), world, plan, console))
    if output is not None and report:
        output.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


DatasetsDir = Annotated[
    Path | None,
    typer.Option(
        "--datasets",
        exists=True,
        file_okay=False,
        help="Directory written by `lgsp datasets` to serve the data from",
    ),
]


@commands.command()
def datasets(
    directory: Annotated[Path, typer.Argument(help="Where to write the SQLite stores")],
    citizens: Annotated[int, typer.Option(min=1, help="Size of the population")] = 10_000,
    seed: Annotated[int, typer.Option(help="Same seed, same data")] = 1,
    load_into: Annotated[
        str | None,
        typer.Option(
            help="Then copy them into this database (a SQLAlchemy async URL, e.g."
            " postgresql+asyncpg://USER@HOST/civil_status), replacing tables of the same names"
        ),
    ] = None,
    store: Annotated[
        list[str] | None,
        typer.Option(help="A dataset to load (civil_status, land, business...), again for more; all if none"),
    ] = None,
) -> None:
    """Generate the mock provincial and national databases (deterministic for a seed); with --load-into,
    load them (those generated in DIRECTORY before, if it holds some) into PostgreSQL, MariaDB or MySQL."""
    from connectors.datasets import STORES, Datasets
    from connectors.datasets.generate import MANIFEST
    from sandbox.demo import generate_datasets, load_datasets

    unknown = sorted(set(store or ()) - {s.DATASET for s in STORES})
    if unknown:
        raise typer.BadParameter(f"no dataset {', '.join(unknown)}", param_hint="--store")
    if load_into is not None and (directory / MANIFEST).exists():
        generated = Datasets.load(directory)
    else:
        generated = run(generate_datasets(directory, citizens, seed, console))
    console.print(f"{directory}: " + ", ".join(f"{n:,} {t}" for t, n in sorted(generated.counts.items())))
    if load_into is not None:
        chosen = [s for s in STORES if not store or s.DATASET in store]
        loaded = run(load_datasets(generated, load_into, chosen, console))
        console.print("loaded: " + ", ".join(f"{n:,} {t}" for t, n in sorted(loaded.items())))


@commands.command()
def ngsp(datasets: DatasetsDir = None, verbose: Verbose = False) -> None:
    """Run the national platform stub, NDXP (formerly NGSP), on the bus (LGSP_KAFKA_BOOTSTRAP must point at
    the hub's bus).

    With --datasets it serves the national population and business databases and the 33 other provinces.
    """
    from connectors.datasets import Datasets
    from sandbox.ngsp.service import running_gateway

    setup_logging(verbose)
    settings = Settings()
    if not settings.kafka_bootstrap:
        raise typer.BadParameter("set LGSP_KAFKA_BOOTSTRAP to the bus the hub uses")
    national = Datasets.load(datasets) if datasets else None

    async def main() -> None:
        async with running_gateway(settings, settings.kafka_bootstrap or "", national):
            console.print(f"NDXP (formerly NGSP) stub on bus {settings.kafka_bootstrap}")
            await asyncio.Event().wait()

    run(main())


async def fetch_trust(hub_url: str) -> str:
    """The hub's trust anchor, from GET /api/v1/bus/trust."""
    import httpx

    async with httpx.AsyncClient(base_url=hub_url, timeout=15) as api:
        response = await api.get("/api/v1/bus/trust")
        response.raise_for_status()
        anchor: str = response.json()["anchor"]
        return anchor


@commands.command()
def connector(
    api_key: Annotated[str, typer.Option(envvar="LGSP_CONNECTOR_API_KEY", help="The system's API key")],
    system: Annotated[
        str | None, typer.Option(help="The system's code (with --config: the config's)")
    ] = None,
    trust: Annotated[
        str | None,
        typer.Option(
            envvar="LGSP_CONNECTOR_TRUST",
            help="The trust anchor (@hub:<key>,@ngsp:<key>) from the registration; unset: fetched from"
            " --hub-url (GET /api/v1/bus/trust), which must then be reached over TLS or a trusted network",
        ),
    ] = None,
    hub_url: Annotated[
        str | None, typer.Option(envvar="LGSP_HUB_URL", help="The hub's API address, to fetch the anchor")
    ] = None,
    datasets: DatasetsDir = None,
    config: Annotated[
        Path | None,
        typer.Option(
            exists=True,
            dir_okay=False,
            help="A declarative connector's YAML: its system, sources and services",
        ),
    ] = None,
    sources_from_hub: Annotated[
        bool,
        typer.Option(
            "--sources-from-hub",
            help="Run the sources stored on the hub (--hub-url) for this system, and follow their changes",
        ),
    ] = False,
    verbose: Verbose = False,
) -> None:
    """Connect one registered system to the axis: hello, heartbeats and probe answers, until Ctrl-C.

    With --datasets a mock system (HO-TICH, DAT-DAI, DKKD, BHXH, QLVB) also serves its services from them
    (its shipped config in connectors/configs/ on the SQLite files); with
    --config the services its file declares; with --sources-from-hub the sources stored on the hub
    (docs/integrators/declarative-connectors.md).
    """
    import contextlib

    import httpx

    from connectors.datasets import Datasets
    from connectors.declarative import ConfigError, SourceError, load_config, started_sources
    from connectors.declarative.hub import hub_sources
    from connectors.services import served_datasets
    from sandbox.demo import tuned_connector

    setup_logging(verbose)
    try:  # a bad file is refused before anything connects
        declared = load_config(config) if config is not None else None
    except ConfigError as exc:
        raise typer.BadParameter(str(exc), param_hint="--config") from None
    code = system or (declared.system if declared else None)
    if code is None or (declared is not None and declared.system != code):
        raise typer.BadParameter("give --system, or --config of that system", param_hint="--system")
    settings = Settings()
    if not settings.kafka_bootstrap:
        raise typer.BadParameter("set LGSP_KAFKA_BOOTSTRAP to the bus the hub uses")

    if trust is None and hub_url is None:
        raise typer.BadParameter("give --trust (the registration's bus_trust) or --hub-url to fetch it")
    if sources_from_hub and hub_url is None:
        raise typer.BadParameter("give --hub-url to read the sources from", param_hint="--sources-from-hub")

    async def main() -> None:
        bootstrap = settings.kafka_bootstrap or ""
        anchor = trust if trust is not None else await fetch_trust(hub_url or "")
        async with contextlib.AsyncExitStack() as stack:
            try:  # the sources are checked before the connector goes on the bus
                sources = (
                    await stack.enter_async_context(started_sources(declared, config.parent))
                    if declared is not None and config is not None
                    else None
                )
            except SourceError as exc:
                console.print(f"[red]{config}: {exc}[/]")
                raise typer.Exit(1) from None
            running = await stack.enter_async_context(
                tuned_connector(settings, code, api_key, bootstrap, anchor)
            )
            if sources is not None:
                sources.attach(running)
            if sources_from_hub:  # a source that cannot start is FAILED on the hub, not the end of this
                api = httpx.AsyncClient(
                    base_url=hub_url or "", headers={"Authorization": f"Bearer {api_key}"}, timeout=15
                )
                try:
                    await stack.enter_async_context(
                        hub_sources(await stack.enter_async_context(api), running, Path.cwd())
                    )
                except SourceError as exc:
                    console.print(f"[red]{hub_url}: {exc}[/]")
                    raise typer.Exit(1) from None
            if datasets:  # the system's shipped config, on the dataset's SQLite file
                await stack.enter_async_context(served_datasets(running, Datasets.load(datasets)))
            console.print(f"{code} connected to {settings.kafka_bootstrap}")
            await asyncio.Event().wait()

    run(main())


@commands.command()
def fleet(
    hub: Annotated[
        str, typer.Option(envvar="LGSP_HUB_URL", help="The hub's API address")
    ] = "http://127.0.0.1:8000",
    systems: Annotated[int, typer.Option(min=1, max=500, help="Mock provincial systems")] = 6,
    datasets: DatasetsDir = None,
    citizens: Annotated[int, typer.Option(min=100, help="Population when no --datasets is given")] = 1000,
    seed: Annotated[int, typer.Option(help="Same seed, same systems and data")] = 7,
    verbose: Verbose = False,
) -> None:
    """Register the demo's mock systems with a running hub (LGSP_ADMIN_TOKEN) and connect them on its bus
    (LGSP_KAFKA_BOOTSTRAP), serving their data, until Ctrl-C. Once per fresh hub database: the systems'
    API keys are shown only at registration."""
    import tempfile

    import httpx

    from connectors.datasets import Datasets
    from sandbox.demo import DemoOptions, generate_datasets, running_fleet

    setup_logging(verbose)
    settings = Settings()
    if not settings.kafka_bootstrap or settings.admin_token is None:
        raise typer.BadParameter("set LGSP_KAFKA_BOOTSTRAP and LGSP_ADMIN_TOKEN to the hub's")
    token = settings.admin_token.get_secret_value()
    options = DemoOptions(systems=systems, citizens=citizens, seed=seed)

    async def main() -> None:
        with tempfile.TemporaryDirectory(prefix="lgsp-fleet-") as tmp:
            data = (
                Datasets.load(datasets)
                if datasets
                else await generate_datasets(Path(tmp), citizens, seed, console)
            )
            async with (
                httpx.AsyncClient(
                    base_url=hub, headers={"Authorization": f"Bearer {token}"}, timeout=15
                ) as client,
                running_fleet(client, settings, settings.kafka_bootstrap or "", options, data, console) as (
                    ships,
                    _,
                ),
            ):
                console.print(f"{len(ships.connectors)} mock systems connected to {hub}")
                await asyncio.Event().wait()

    run(main())


@commands.command()
def cluster(
    systems: Annotated[int, typer.Option(min=1, max=100, help="Mock provincial systems")] = 6,
    citizens: Annotated[int, typer.Option(min=100, max=100_000, help="Simulated population")] = 1000,
    duration: Annotated[
        float | None, typer.Option(min=1, help="Stop this many seconds after start-up (default: Ctrl-C)")
    ] = None,
    base_port: Annotated[
        int,
        typer.Option(min=1024, max=65000, help="The first hub's port; +1: the second hub, +2: Prometheus"),
    ] = 8001,
    seed: Annotated[int, typer.Option(help="Same seed, same systems and data")] = 7,
    verbose: Verbose = False,
) -> None:
    """Run the production topology as processes here: 3 Apache Kafka nodes, PostgreSQL, 2 hubs, the NGSP
    stub, Prometheus scraping both hubs and the mock systems' connectors; the indicators through each hub,
    live. PostgreSQL must run already (make cluster starts it); its database lgsp_cluster is recreated."""
    import tempfile

    from sandbox.cluster import ClusterError, ClusterOptions, link_line, run_cluster
    from sandbox.kafka import KafkaClusterError

    setup_logging(verbose)
    run_dir = Path(tempfile.mkdtemp(prefix="lgsp-cluster-"))
    console.print(f"run directory (every process's log): {run_dir}")
    options = ClusterOptions(
        systems=systems,
        citizens=citizens,
        duration=duration,
        base_port=base_port,
        seed=seed,
        verbose=verbose,
    )
    try:
        result = run(run_cluster(Settings(), options, run_dir, console))
    except (ClusterError, KafkaClusterError) as exc:  # what went wrong is in the message and the logs
        console.print(f"[red]{exc}[/]\nlogs in {run_dir}")
        raise typer.Exit(1) from exc
    if result:
        for hub, indicators in zip(result["hubs"], result["indicators"], strict=True):
            console.print(f"through {hub}: {link_line(indicators)}")
        console.print(f"logs in {run_dir}")


@commands.command("citizen-token")
def citizen_token(
    personal_id: Annotated[
        str, typer.Argument(help="The citizen's personal identification number (12 digits)")
    ],
    hub: Annotated[
        str, typer.Option(help="The hub's URL, for the link to its /me page")
    ] = "http://127.0.0.1:8000",
    lifetime: Annotated[int, typer.Option(min=60, max=86_400, help="Seconds the token is good for")] = 3600,
) -> None:
    """Sign a citizen in with the sandbox's stand-in for VNeID: print a token for GET /api/v1/me/accesses,
    a link to the hub's /me page, and the LGSP_CITIZEN_ISSUER_KEY a hub must have to believe it. The
    provider's key is derived from LGSP_SECRET_KEY: use the hub's (the demo prints a link of its own)."""
    import re

    from sandbox.identity import stub_provider

    if not re.fullmatch(r"[0-9]{12}", personal_id):
        raise typer.BadParameter("a personal identification number is 12 digits")
    settings = Settings()
    try:
        provider = stub_provider(settings)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    token = provider.mint(personal_id, settings.citizen_audience, lifetime=lifetime)
    typer.echo(token)
    typer.echo(f"{hub.rstrip('/')}/me#token={token}")
    typer.echo(f"LGSP_CITIZEN_ISSUER_KEY={provider.public_key}")
