"""A real Prometheus scrapes a hub served on a TCP port, with the shipped configuration and rules."""

import asyncio
import contextlib
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from lgsp.api.server import serving
from lgsp.app import create_app
from lgsp.bus.broker import free_port
from lgsp.settings import Settings
from tests.monitoring.tools import MONITORING, tool
from tests.support import ADMIN_TOKEN, Broker, connector_for, eventually, make_agency, make_system


def scraping(hub_port: int) -> dict[str, Any]:
    """The shipped prometheus.yml, pointed at one hub on `hub_port`, scraping and evaluating every second."""
    config: dict[str, Any] = yaml.safe_load((MONITORING / "prometheus.yml").read_text())
    config["global"] |= {"scrape_interval": "1s", "evaluation_interval": "1s"}
    # Rule paths are relative to the config file, which is written elsewhere: make them absolute.
    config["rule_files"] = [str((MONITORING / path).resolve()) for path in config["rule_files"]]
    (job,) = config["scrape_configs"]
    job["static_configs"] = [{"targets": [f"127.0.0.1:{hub_port}"]}]
    return config


@contextlib.asynccontextmanager
async def prometheus(config: dict[str, Any], workdir: Path) -> AsyncIterator[httpx.AsyncClient]:
    """A Prometheus server on a free loopback port with its own data directory, and a client for its API."""
    config_file = workdir / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    port = free_port()
    log = (workdir / "prometheus.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        tool("prometheus"),
        f"--config.file={config_file}",
        f"--storage.tsdb.path={workdir / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as client:

            async def ready() -> bool:
                assert process.returncode is None, (workdir / "prometheus.log").read_text()[-3000:]
                with contextlib.suppress(httpx.TransportError):
                    return (await client.get("/-/ready")).status_code == 200
                return False

            await eventually(ready, timeout=20, what="Prometheus ready")
            yield client
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), timeout=10)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()


async def instant(client: httpx.AsyncClient, query: str) -> list[dict[str, Any]]:
    """The result vector of an instant query."""
    response = await client.get("/api/v1/query", params={"query": query})
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["status"] == "success", body
    result: list[dict[str, Any]] = body["data"]["result"]
    return result


async def shows(client: httpx.AsyncClient, query: str, expected: str) -> bool:
    """Whether an instant query returns exactly one series, of value `expected`."""
    return [r["value"][1] for r in await instant(client, query)] == [expected]


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
async def test_prometheus_scrapes_the_hub_and_records_the_connectivity_ratio(
    settings: Settings, broker: Broker, tmp_path: Path
) -> None:
    port = free_port()
    async with (
        serving(create_app(settings, broker.bootstrap), "127.0.0.1", port),
        httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as api,
    ):
        await make_agency(api)
        system = await make_system(api, "HO-TICH")
        async with prometheus(scraping(port), tmp_path) as server:
            ratio = 'lgsp_connectivity_ratio{link="lgsp"}'
            recorded = 'link:lgsp_connectivity_ratio:max{link="lgsp"}'
            await eventually(lambda: shows(server, 'up{job="lgsp-hub"}', "1"), 15, what="the hub scraped")
            # Registered, not connected yet: 0, then 1 once its connector is up (a live value, not one
            # an earlier test's hub left in this process's registry).
            await eventually(lambda: shows(server, ratio, "0"), 10, what="ratio 0 scraped")
            async with connector_for(system, settings, broker.bootstrap):
                await eventually(lambda: shows(server, ratio, "1"), 20, what="ratio 1 scraped")
                # The recording rule folds the hub processes into one figure per link.
                await eventually(lambda: shows(server, recorded, "1"), 10, what="the recording rule at 1")
            assert [r["metric"] for r in await instant(server, recorded)] == [
                {"__name__": "link:lgsp_connectivity_ratio:max", "job": "lgsp-hub", "link": "lgsp"}
            ]

            async def rules_evaluate() -> bool:
                groups = (await server.get("/api/v1/rules")).json()["data"]["groups"]
                assert {g["name"] for g in groups} == {"lgsp.recording", "lgsp.alerts"}
                return all(r["health"] == "ok" for g in groups for r in g["rules"])

            await eventually(rules_evaluate, 10, what="every rule evaluated without error")
