"""`lgsp demo`: the whole axis on one machine, with faults, and the indicators live in the terminal."""

import asyncio
import contextlib
import random
import secrets
import tempfile
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr
from rich.console import Console, Group
from rich.live import Live
from rich.panel import Panel
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from connectors.mock import MockSystem, mock_systems
from connectors.registration import register_system
from connectors.sdk import Connector
from lgsp.api.app import create_app
from lgsp.api.server import serving
from lgsp.bus.broker import bootstrap_servers
from lgsp.ngsp.service import running_gateway
from lgsp.settings import Settings
from schemas.common import utcnow


@dataclass
class DemoOptions:
    systems: int = 20
    duration: float | None = None
    port: int = 8000
    seed: int = 7
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
    }
    fields = base.model_fields_set
    if "database_url" not in fields:
        changes["database_url"] = f"sqlite+aiosqlite:///{workdir / 'lgsp.db'}"
    if "ngsp_database_url" not in fields:
        changes["ngsp_database_url"] = f"sqlite+aiosqlite:///{workdir / 'ngsp.db'}"
    return base.model_copy(update=changes)


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
        candidates = [c for c in self.connectors if c not in self.down_until]
        if candidates:
            code = self.rng.choice(candidates)
            await self.connectors[code].stop()
            self.down_until[code] = now + self.rng.uniform(*outage)
            self._log(f"[red]{code} taken down[/]")

    def _log(self, text: str) -> None:
        self.events.append(f"{datetime.now():%H:%M:%S} {text}")
        del self.events[:-6]


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


def render(indicators: dict[str, Any], links: list[dict[str, Any]], fleet: Fleet, url: str) -> Group:
    """The live view: both ratios against target, the systems table, recent faults."""
    conn = indicators["connectivity"]
    ratios = Panel(
        Group(
            _ratio_bar("LGSP", conn["lgsp"]["connected"], conn["lgsp"]["in_scope"], conn["lgsp"]["target"]),
            _ratio_bar("NGSP", conn["ngsp"]["connected"], conn["ngsp"]["in_scope"], conn["ngsp"]["target"]),
        ),
        title="100% of in-scope systems connected through the LGSP and to the NGSP",
    )
    table = Table(expand=True, title=f"Systems  ({url})")
    for column in ("system", "agency", "level", "scope", "LGSP", "NGSP", "for", "why"):
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
    return Group(ratios, table, faults)


async def run_demo(base: Settings, options: DemoOptions, console: Console) -> dict[str, Any]:
    """Run everything until `duration` passes (or forever); return the last indicators."""
    with tempfile.TemporaryDirectory(prefix="lgsp-demo-") as tmp:
        settings = demo_settings(base, options.port, Path(tmp))
        token = settings.admin_token.get_secret_value() if settings.admin_token else ""
        async with contextlib.AsyncExitStack() as stack:
            with console.status("starting the embedded broker, hub and NGSP stub..."):
                bootstrap = await stack.enter_async_context(bootstrap_servers(settings))
                await stack.enter_async_context(running_gateway(settings, bootstrap))
                await stack.enter_async_context(
                    serving(create_app(settings, bootstrap), settings.host, settings.port)
                )
            url = f"http://{settings.host}:{settings.port}"
            console.print(f"[bold]LGSP hub[/] on {url}  (API docs {url}/docs)  bus {bootstrap}")
            console.print(f"admin token: [bold]{token}[/]")
            client = await stack.enter_async_context(
                httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=10)
            )
            fleet = await _register_fleet(client, settings, bootstrap, options, console)
            for connector in fleet.connectors.values():
                stack.push_async_callback(connector.stop)
            return await _watch(client, fleet, options, console, url)
    raise AssertionError("unreachable")


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
    connector = Connector(
        registered.code,
        registered.api_key,
        bootstrap,
        topic_prefix=settings.topic_prefix,
        heartbeat_interval=settings.heartbeat_interval,
        session_timeout_ms=settings.consumer_session_timeout_ms,
        inbox_watchdog=3 * settings.probe_interval,
    )
    await connector.start()
    return connector


async def _watch(
    client: httpx.AsyncClient, fleet: Fleet, options: DemoOptions, console: Console, url: str
) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    started = loop.time()
    next_fault = started + options.fault_every * 2  # let everyone connect first
    indicators: dict[str, Any] = {}
    with Live(console=console, refresh_per_second=2, transient=False) as live:
        while options.duration is None or loop.time() - started < options.duration:
            now = loop.time()
            if now >= next_fault:
                await fleet.fault_step(now, options.outage)
                next_fault = now + options.fault_every
            indicators = (await client.get("/api/v1/indicators")).json()
            links = (await client.get("/api/v1/connectivity/systems", params={"limit": 1000})).json()["items"]
            live.update(render(indicators, links, fleet, url))
            await asyncio.sleep(1)
    return indicators
