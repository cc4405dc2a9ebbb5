"""`lgsp cluster` end to end on the session's Apache Kafka cluster (make test-kafka): two hubs on one
PostgreSQL database, the NGSP stub, Prometheus and the mock systems, as processes; the indicators
through either hub agree and show every system connected on both links."""

import os
from pathlib import Path

import httpx
import pytest
from pydantic import SecretStr
from rich.console import Console

from lgsp.settings import Settings
from sandbox.cluster import ClusterOptions, run_cluster
from sandbox.kafka import KafkaCluster
from tests.support import ADMIN_TOKEN, Broker

pytestmark = pytest.mark.kafka


async def test_the_cluster_runs_end_to_end_through_either_hub(broker: Broker, tmp_path: Path) -> None:
    assert isinstance(broker, KafkaCluster), (
        "the cluster test needs Apache Kafka: run it with make test-kafka"
    )
    base = Settings(
        admin_token=SecretStr(ADMIN_TOKEN),
        topic_prefix=f"cluster{tmp_path.name[-6:].replace('-', '')}",
        heartbeat_interval=0.5,
        heartbeat_ttl=3.0,
        probe_interval=1.0,
        probe_ttl=4.0,
        probe_timeout=1.5,
        consumer_session_timeout_ms=3000,
    )
    options = ClusterOptions(systems=5, citizens=300, duration=15)
    result = await run_cluster(base, options, tmp_path, Console(record=True), kafka=broker)

    first, second = result["indicators"]
    assert first["connectivity"] == second["connectivity"], "the two hubs disagree"
    lgsp, ngsp = first["connectivity"]["lgsp"], first["connectivity"]["ngsp"]
    assert lgsp["in_scope"] >= 4 and lgsp["connected"] == lgsp["in_scope"], lgsp
    assert ngsp["connected"] == ngsp["in_scope"], ngsp
    assert sorted(result["targets"].values()) == ["up", "up"], result["targets"]
    async with httpx.AsyncClient(timeout=10) as client:
        for hub in result["hubs"]:
            with pytest.raises(httpx.ConnectError):  # stopped with the cluster
                await client.get(f"{hub}/healthz")
    for pid in result["pids"]:  # every process the cluster started has been stopped and reaped
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
