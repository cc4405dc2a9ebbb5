"""The `lgsp` command."""

import asyncio
import gc
import logging
import signal
import sys
from collections.abc import Coroutine
from datetime import datetime
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Any

import typer
import uvloop
from rich.console import Console

from lgsp.cli_keys import keys_app, platform_keys_or_exit
from lgsp.settings import Settings

app = typer.Typer(
    help="LGSP/NGSP data-sharing axis: hub, broker, reports and audit (and the sandbox's demo and stubs).",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)
console = Console()


def run(main: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine on uvloop; SIGTERM cancels it like Ctrl-C does, so every `finally` (broker
    stop) runs."""

    async def guarded() -> Any:
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await main

    try:
        # The hub and the connectors spend much of their CPU in the event loop's own machinery (callbacks,
        # sockets, timers of the bus clients): libuv's loop does that work for less (docs/performance.md).
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(guarded())
    except (KeyboardInterrupt, asyncio.CancelledError):
        console.print("stopped")
        return None


def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not verbose:  # aiokafka is loud about every reconnection attempt
        logging.getLogger("aiokafka").setLevel(logging.CRITICAL)


Verbose = Annotated[bool, typer.Option("--verbose", "-v", help="Log at INFO level")]


@app.command()
def hub(verbose: Verbose = False) -> None:
    """Run the hub: REST API and bus workers (embedded broker if LGSP_KAFKA_BOOTSTRAP is unset)."""
    from lgsp.api.server import serving
    from lgsp.app import create_app
    from lgsp.bus.broker import bootstrap_servers

    setup_logging(verbose)
    settings = Settings()
    platform_keys_or_exit(settings)  # said now, not as a traceback once the broker and the API start

    async def main() -> None:
        async with (
            bootstrap_servers(settings) as bootstrap,
            serving(create_app(settings, bootstrap), settings.host, settings.port),
        ):
            console.print(f"LGSP hub on http://{settings.host}:{settings.port}, bus {bootstrap}")
            # Started: what exists now (modules, models, compiled schemas) lives as long as the process.
            # Moved out of the collector's reach, it no longer makes every full collection walk a few
            # hundred thousand objects, which held the event loop 100-400 ms every few seconds. A larger
            # young generation lets the short-lived objects of a batch die before a collection instead
            # of being promoted, so full collections (tens of ms with 10,000 systems) become rare.
            gc.collect()
            gc.freeze()
            gc.set_threshold(10_000, 10, 10)
            await asyncio.Event().wait()

    run(main())


@app.command()
def broker(
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on (loopback)")] = 9092,
) -> None:
    """Run the embedded Kafka-compatible broker alone (memory only), until Ctrl-C."""
    from lgsp.bus.broker import EmbeddedBroker

    async def main() -> None:
        async with EmbeddedBroker(port=port) as running:
            console.print(
                f"embedded broker on {running.bootstrap}; export LGSP_KAFKA_BOOTSTRAP={running.bootstrap}"
            )
            await asyncio.Event().wait()

    run(main())


@app.command("db-upgrade")
def db_upgrade() -> None:
    """Apply the database migrations (the hub also does this when it starts)."""
    from lgsp.db import Database

    async def main() -> None:
        database = Database(Settings().database_url)
        await database.migrate()
        await database.dispose()

    run(main())
    console.print("database is at the newest revision")


app.add_typer(keys_app, name="secret-key")

audit_app = typer.Typer(no_args_is_help=True, help="The audit trail: a hash chain over records and changes.")
app.add_typer(audit_app, name="audit")


AnchorsOption = Annotated[
    Path | None,
    typer.Option(
        "--anchors",
        dir_okay=False,
        help="Anchor file (JSON Lines of signed anchors) to check the chain against; default:"
        " LGSP_AUDIT_ANCHOR_FILE",
    ),
]
HubKeyOption = Annotated[
    str | None,
    typer.Option(
        "--hub-key",
        help="The hub's public key the anchors are signed with: the `anchor` of GET /api/v1/bus/trust, or"
        " the base64 key; default: derived from the settings, as the hub does",
    ),
]


@audit_app.command("verify")
def audit_verify(anchors: AnchorsOption = None, hub_key: HubKeyOption = None) -> None:
    """Walk the hash chain in LGSP_DATABASE_URL and check it against the hub's signed anchors; exit 1 at
    the first broken link, saying what broke."""
    from lgsp.audit.anchors import derived_hub_trust, hub_trust, read_anchor_file
    from lgsp.audit.service import verify
    from lgsp.db import Database
    from lgsp.security import MissingSecretKey

    settings = Settings()
    if anchors is not None and not anchors.is_file():
        raise typer.BadParameter(f"no file {anchors}", param_hint="--anchors")
    try:
        trust = hub_trust(hub_key) if hub_key is not None else None
    except ValueError as exc:
        raise typer.BadParameter(str(exc), param_hint="--hub-key") from None
    path = anchors or settings.audit_anchor_file
    if trust is None and path is not None:
        try:
            trust = derived_hub_trust(settings)
        except MissingSecretKey:
            raise typer.BadParameter(
                "give the hub's public key, or run with the hub's LGSP_SECRET_KEY", param_hint="--hub-key"
            ) from None

    async def main() -> Any:
        database = Database(settings.database_url)
        try:
            with console.status("verifying the audit chain..."):
                found = read_anchor_file(path, trust) if path is not None and trust is not None else None
                return await verify(database, found)
        finally:
            await database.dispose()

    result = run(main())
    if result is None:
        raise typer.Exit(130)
    if result.anchors_refused:
        console.print(
            f"[yellow]{path}: {result.anchors_refused:,} line(s) ignored, not signed by the hub's key[/]"
        )
    anchor = (
        f"the anchor of link {result.anchor_links:,} signed {result.anchor_at:%Y-%m-%d %H:%M:%S} UTC"
        if result.anchor_links is not None
        else None
    )
    if result.ok:
        console.print(
            f"[green]audit chain intact[/]: {result.links:,} links, last hash {result.last_hash}; "
            + (f"it holds {anchor}" if anchor else "no anchor checked: links cut off its end would not show")
        )
        return
    where = f" ({result.kind} {result.ref})" if result.ref else (f" ({anchor})" if anchor else "")
    console.print(
        f"[red]audit chain broken at link {result.broken_at}[/]{where}: "
        f"{result.problem}; {result.links:,} links verified before it"
    )
    raise typer.Exit(1)


report_app = typer.Typer(
    no_args_is_help=True, help="Auditors' reports for a period, computed straight from LGSP_DATABASE_URL."
)
app.add_typer(report_app, name="report")

ReportFrom = Annotated[
    datetime | None, typer.Option("--from", formats=["%Y-%m-%d"], help="First day counted (UTC, inclusive)")
]
ReportTo = Annotated[
    datetime | None, typer.Option("--to", formats=["%Y-%m-%d"], help="Day after the last one counted")
]
ReportFormatOption = Annotated[str, typer.Option("--format", "-f", help="json, csv or html")]
ReportOutput = Annotated[
    Path | None, typer.Option("--output", "-o", dir_okay=False, help="Write the report here, not to stdout")
]


def _report(
    kind: str,
    start: datetime | None,
    end: datetime | None,
    fmt: str,
    output: Path | None,
    outages: bool = False,
) -> None:
    """Compute a report against the database of the settings and write it to `output` or stdout."""
    from lgsp.api.params import DAY_RANGE, day_in_range

    first, last = (start.date() if start else None), (end.date() if end else None)
    for day, option in ((first, "--from"), (last, "--to")):
        if day is not None and not day_in_range(day):  # as the API refuses it: no OverflowError later
            raise typer.BadParameter(f"expected {DAY_RANGE}, not {day}", param_hint=option)
    if first is not None and last is not None and last <= first:
        raise typer.BadParameter(f"the period ends ({last}) before it starts ({first})", param_hint="--to")
    from lgsp.reports.models import ReportFormat
    from lgsp.reports.offline import ReportKind, render_report

    try:
        output_format = ReportFormat(fmt)
    except ValueError:
        raise typer.BadParameter(f"{fmt!r} is not json, csv or html", param_hint="--format") from None
    progress = Console(stderr=True)  # stdout may carry the report itself

    async def main() -> str:
        with progress.status(f"computing the {kind} report..."):
            return await render_report(
                Settings(), ReportKind(kind), first, last, output_format, outages=outages
            )

    text = run(main())
    if text is None:
        raise typer.Exit(130)
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
        progress.print(f"{kind} report written to {output}")


@report_app.command("connectivity")
def report_connectivity(
    start: ReportFrom = None,
    end: ReportTo = None,
    fmt: ReportFormatOption = "json",
    output: ReportOutput = None,
    outages: Annotated[
        bool, typer.Option("--outages", help="List every outage too (html always does)")
    ] = False,
) -> None:
    """Connected share of time per system and link, outages, exchanges, and the province's ratios.

    Days are UTC. Without --to: up to now; without --from: from the start of the quarter it ends in."""
    _report("connectivity", start, end, fmt, output, outages)


@report_app.command("once-only")
def report_once_only(
    start: ReportFrom = None,
    end: ReportTo = None,
    fmt: ReportFormatOption = "json",
    output: ReportOutput = None,
) -> None:
    """The once-only measures by procedure, document type and cause (no period: every dossier)."""
    _report("once-only", start, end, fmt, output)


def main() -> None:
    """The `lgsp` command, with the commands other installed packages contribute (entry point group
    `lgsp.commands`: a function taking this Typer app), so the hub's CLI never imports the simulated
    world that extends it."""
    for plugin in entry_points(group="lgsp.commands"):
        plugin.load()(app)
    app()
