"""`lgsp connector --sources-from-hub` as an integrator runs it: a process of its own, reaching a hub
served on a real port, runs the stored source and reports it RUNNING under its own name."""

import asyncio
import signal
import sys
from pathlib import Path
from typing import Any

import httpx

from lgsp.api.server import serving
from lgsp.app import create_app
from lgsp.bus.broker import free_port
from lgsp.settings import Settings
from tests.sources.support import births_db, database_source
from tests.support import ADMIN_TOKEN, Broker, eventually

LGSP = str(Path(sys.executable).with_name("lgsp"))


async def lgsp(*args: str, env: dict[str, str]) -> asyncio.subprocess.Process:
    """The `lgsp` command started with `args` and only `env` (and a PATH) in its environment."""
    return await asyncio.create_subprocess_exec(
        LGSP,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env={"PATH": "/usr/bin:/bin", "HOME": str(Path.home()), **env},
    )


async def test_the_command_runs_the_stored_sources_of_its_system(
    broker: Broker, settings: Settings, tmp_path: Path
) -> None:
    port = free_port("127.0.0.1")
    url = f"http://127.0.0.1:{port}"
    async with (
        serving(create_app(settings, broker.bootstrap), "127.0.0.1", port),
        httpx.AsyncClient(base_url=url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as admin,
    ):
        await admin.post("/api/v1/agencies", json={"code": "SO-TP", "name": "Sở Tư pháp"})
        registered = await admin.post(
            "/api/v1/systems", json={"code": "HO-TICH", "name": "Civil status", "agency_code": "SO-TP"}
        )
        system: dict[str, Any] = registered.json()
        sources = f"/api/v1/systems/{system['id']}/sources"
        stored = await admin.post(sources, json=database_source(births_db(tmp_path / "civil.db")))
        assert stored.status_code == 201, stored.text
        env = settings.environment() | {"LGSP_KAFKA_BOOTSTRAP": broker.bootstrap}
        args = ("connector", "--system", "HO-TICH", "--api-key", system["api_key"], "--hub-url", url)
        process = await lgsp(*args, "--sources-from-hub", env=env)
        try:

            async def running() -> bool:
                status = (await admin.get(f"{sources}/civil-status/status")).json()
                return bool(status["state"] == "RUNNING" and status["connector"].endswith(f":{process.pid}"))

            await eventually(running, timeout=30, what="the command's source reported RUNNING")
        finally:
            process.send_signal(signal.SIGINT)
            try:
                await asyncio.wait_for(process.wait(), timeout=20)
            except TimeoutError:
                process.kill()
                await process.wait()


async def test_the_command_needs_the_hub_to_read_sources_from() -> None:
    process = await lgsp(
        "connector",
        "--system",
        "HO-TICH",
        "--api-key",
        "k",
        "--trust",
        "t",
        "--sources-from-hub",
        env={"LGSP_KAFKA_BOOTSTRAP": "127.0.0.1:9", "COLUMNS": "200"},
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 2
    assert "give --hub-url to read the sources from" in output.decode()
