"""A connector running the sources stored on the hub (`lgsp connector --sources-from-hub`, in-process),
on the real broker and real SQLite and PostgreSQL hubs: it reports RUNNING, answers through the hub,
follows pause, resume, restart and delete, and reports a lost database file as FAILED until it is back."""

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.declarative import SourceError
from connectors.declarative.hub import hub_sources, worker_name
from connectors.sdk import Connector, ExchangeError
from lgsp.settings import Settings
from tests.sources.support import BIRTH, births_db, civil_status, database_source
from tests.support import Broker, Hub, connector_for, eventually, wait_connected

ASK = {"citizen_id": BIRTH["citizen_id"]}


def system_api(hub: Hub, system: dict[str, Any]) -> httpx.AsyncClient:
    """The hub's API as the system's own key calls it."""
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=hub.app),
        base_url="http://hub",
        headers=hub.as_key(system["api_key"]),
    )


async def reaches(hub: Hub, system: dict[str, Any], state: str, timeout: float = 10.0) -> dict[str, Any]:
    """Wait until the source's reported state is `state`; its status then."""
    url = f"/api/v1/systems/{system['id']}/sources/civil-status/status"
    seen: dict[str, Any] = {}

    async def reported() -> bool:
        seen.update((await hub.client.get(url)).json())
        return seen["state"] == state

    await eventually(reported, timeout=timeout, what=f"civil-status reported {state}")
    return seen


async def refused(asking: Connector) -> ExchangeError:
    with pytest.raises(ExchangeError) as caught:
        await asking.request("HO-TICH", "birth-record.get", ASK)
    return caught.value


async def test_a_stored_source_runs_and_follows_what_is_asked_of_it(
    hub: Hub, broker: Broker, settings: Settings, tmp_path: Path
) -> None:
    db = births_db(tmp_path / "civil.db")
    provider, client = await civil_status(hub)
    url = f"/api/v1/systems/{provider['id']}/sources"
    assert (await hub.client.post(url, json=database_source(db))).status_code == 201
    await hub.client.post(
        f"/api/v1/systems/{provider['id']}/grants",
        json={"service": "birth-record.get", "client_system": "MOT-CUA"},
    )
    async with (
        connector_for(provider, settings, broker.bootstrap) as serving,
        connector_for(client, settings, broker.bootstrap) as asking,
        system_api(hub, provider) as api,
        hub_sources(api, serving, tmp_path, every=0.2) as running,
    ):
        status = await reaches(hub, provider, "RUNNING")
        assert (status["error"], status["connector"]) == (None, worker_name())
        await wait_connected(hub.client, provider)
        assert await asking.request("HO-TICH", "birth-record.get", ASK) == {"found": True, "record": BIRTH}

        assert (await hub.client.put(f"{url}/civil-status/pause")).status_code == 202
        await reaches(hub, provider, "PAUSED")
        paused = await refused(asking)
        assert (paused.code, paused.message) == (
            "server.provider_unreachable",
            "source civil-status is paused",
        )
        assert (await hub.client.put(f"{url}/civil-status/resume")).status_code == 202
        await reaches(hub, provider, "RUNNING")
        assert (await asking.request("HO-TICH", "birth-record.get", ASK))["found"] is True

        # The database file goes away: the next call cannot reach it, the source is FAILED, and the
        # first call after it is back makes it RUNNING with no restart.
        shutil.move(db, tmp_path / "away.db")
        assert (await refused(asking)).code == "server.provider_unreachable"
        failed = await reaches(hub, provider, "FAILED")
        assert failed["error"] == "cannot reach the database (OperationalError)"
        shutil.move(tmp_path / "away.db", db)
        assert (await asking.request("HO-TICH", "birth-record.get", ASK))["found"] is True
        await reaches(hub, provider, "RUNNING")

        before = running.running["civil-status"].backend
        assert (await hub.client.post(f"{url}/civil-status/restart")).status_code == 202

        async def restarted() -> bool:
            now = running.running["civil-status"]
            return now.restarts == 1 and now.backend is not None and now.backend is not before

        await eventually(restarted, what="civil-status restarted")
        assert (await asking.request("HO-TICH", "birth-record.get", ASK))["found"] is True

        assert (await hub.client.delete(f"{url}/civil-status")).status_code == 204

        async def stopped() -> bool:
            return "civil-status" not in running.running

        await eventually(stopped, what="civil-status stopped")


async def test_a_source_that_cannot_start_is_failed_and_starts_when_it_can(
    hub: Hub, broker: Broker, settings: Settings, tmp_path: Path
) -> None:
    provider, _ = await civil_status(hub)
    url = f"/api/v1/systems/{provider['id']}/sources"
    missing = tmp_path / "later.db"
    assert (await hub.client.post(url, json=database_source(missing))).status_code == 201
    # Never started: the connector is not on the bus, but serves (and reports) its sources all the same.
    serving = connector_for(provider, settings, broker.bootstrap)
    async with system_api(hub, provider) as api, hub_sources(api, serving, tmp_path, every=0.2) as running:
        failed = await reaches(hub, provider, "FAILED")
        assert failed["error"] == "cannot reach the database (OperationalError)"
        assert not missing.exists()  # never an empty database made in its place
        births_db(missing)
        await reaches(hub, provider, "RUNNING")
        assert running.running["civil-status"].backend is not None


async def test_a_connector_that_cannot_read_the_hub_says_why(
    hub: Hub, broker: Broker, settings: Settings
) -> None:
    provider, _ = await civil_status(hub)
    serving = connector_for(provider, settings, broker.bootstrap)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=hub.app), base_url="http://hub", headers=hub.as_key("lgsp_unknown")
    ) as api:
        with pytest.raises(SourceError, match=r"cannot read the sources from the hub \(401: "):
            async with hub_sources(api, serving, Path(".")):
                pass
