"""Fault 1 of issue 7: the hub process SIGKILLed in the middle of a stream of exchanges and dossiers."""

import asyncio
from pathlib import Path
from typing import Any

import pytest

from tests.faults.support import HubProcess, fault_under_load
from tests.support import Broker

pytestmark = pytest.mark.faults

DOWN = 1.0  # seconds between the kill and the restart (traffic goes on: the broker keeps it)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_hub_killed_mid_stream_loses_and_duplicates_nothing(
    database_url: str, broker: Broker, tmp_path: Path
) -> None:
    """A hub killed with SIGKILL while exchanges and dossiers stream through it, then started again:
    nothing lost, nothing duplicated, every client answered (`fault_under_load` checks it all).

    The hub runs as its own OS process (`lgsp hub`) on the session broker and a fresh PostgreSQL
    database; the connectors run here, so they live through the crash as real integrators' would.
    """

    async def kill_and_restart(hub: HubProcess) -> dict[str, Any]:
        await hub.kill()
        await asyncio.sleep(DOWN)
        return {"hub_restart_s": round(await hub.start(), 1)}

    await fault_under_load("hub SIGKILLed", database_url, broker.bootstrap, tmp_path, kill_and_restart)
