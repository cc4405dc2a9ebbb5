"""A client no one here wrote: examples/librdkafka/connector.py speaks only the published contract,
on librdkafka (confluent-kafka), to a hub and the NGSP stub on the Apache Kafka cluster. It must end
connected on both links, having served a call and had its own call answered through the hub."""

import asyncio
import json
import os
import sys
from pathlib import Path

import httpx
import pytest

from lgsp.api.server import serving
from lgsp.app import create_app
from lgsp.bus.broker import free_port
from lgsp.settings import Settings
from sandbox.kafka import KafkaCluster
from sandbox.ngsp.service import running_gateway
from tests.support import ADMIN_TOKEN, Broker, make_agency

pytestmark = pytest.mark.kafka
PROGRAM = Path(__file__).resolve().parents[2] / "examples" / "librdkafka" / "connector.py"


async def test_a_librdkafka_connector_is_connected_on_both_links_and_exchanges(
    broker: Broker, settings: Settings
) -> None:
    assert isinstance(broker, KafkaCluster), "librdkafka needs Apache Kafka: run this with make test-kafka"
    port = free_port("127.0.0.1")
    hub_url = f"http://127.0.0.1:{port}"
    async with (
        serving(create_app(settings, broker.bootstrap), "127.0.0.1", port),
        running_gateway(settings, broker.bootstrap),
    ):
        async with httpx.AsyncClient(
            base_url=hub_url, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}
        ) as client:
            await make_agency(client, "SO-TP")
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            str(PROGRAM),
            "--hub",
            hub_url,
            "--bootstrap",
            broker.bootstrap,
            "--prefix",
            settings.topic_prefix,
            "--system",
            "RDK-DEMO",
            "--agency",
            "SO-TP",
            "--serve",
            "echo.get",
            "--call",
            "RDK-DEMO/echo.get",
            "--duration",
            "20",
            env=os.environ | {"LGSP_ADMIN_TOKEN": ADMIN_TOKEN},
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        async with asyncio.timeout(90):
            out, err = await process.communicate()
        assert process.returncode == 0, err.decode()[-3000:]
        report = json.loads(out.decode().strip().splitlines()[-1])
    seen, status = report["seen"], report["status"]
    assert status["lgsp_connected"] and status["ngsp_connected"], report
    assert seen["probes_lgsp"] > 0 and seen["probes_ngsp"] > 0, seen
    assert seen["calls_served"] >= 1, seen
    assert seen["refused"] == 0, seen  # every inbox record carried the hub's (or the NGSP's) signature
    assert {"payload": {"echo": {"from": "librdkafka"}}, "fault": None} in seen["results"], seen
