"""`lgsp cluster` end to end on the session's 3-node Apache Kafka cluster (make test-kafka): two hub
processes on one PostgreSQL database, the NGSP stub, Prometheus and the mock systems' connectors, all as
processes. Every in-scope system shows connected on both links through either hub, the hubs agree,
Prometheus scrapes both, and nothing the cluster started outlives it."""

import asyncio
import os
from pathlib import Path

import pytest
from pydantic import SecretStr
from rich.console import Console

from lgsp.bus.broker import free_port, port_in_use
from lgsp.settings import Settings
from sandbox.cluster import ClusterOptions, run_cluster
from sandbox.kafka import KafkaCluster
from tests.support import ADMIN_TOKEN, Broker, delete_topics

pytestmark = pytest.mark.kafka


def free_ports(count: int) -> int:
    """The first of `count` consecutive free loopback ports (the hubs' and Prometheus's)."""
    while True:
        base = free_port()
        if base + count < 65536 and not any(port_in_use("127.0.0.1", base + n) for n in range(count)):
            return base


async def test_the_cluster_runs_end_to_end_through_either_hub(broker: Broker, tmp_path: Path) -> None:
    # The session's cluster spares this test a start of its own (about 25 s here); it must have the 3
    # nodes that topics with 3 replicas and min.insync.replicas=2 need.
    if not isinstance(broker, KafkaCluster) or len(await asyncio.to_thread(broker.nodes)) < 3:
        pytest.fail("the cluster test needs 3 Apache Kafka nodes: run it with make test-kafka")
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
    # 5 systems: the provincial core's 4 in-scope systems and the exempt one, which must not count.
    options = ClusterOptions(
        systems=5, citizens=300, duration=3, base_port=free_ports(3), settle=90, refresh=1
    )
    console = Console(record=True, width=160)
    try:
        result = await run_cluster(base, options, tmp_path, console, kafka=broker)
    finally:
        await delete_topics(broker.bootstrap, base.topic_prefix)

    first, second = result["indicators"]
    assert first["connectivity"] == second["connectivity"], "the two hubs disagree"
    assert len(result["in_scope"]) == 4, result["in_scope"]
    for link in ("lgsp", "ngsp"):
        shown = first["connectivity"][link]
        assert shown["connected"] == shown["in_scope"] == 4, (link, shown)
    assert set(result["dashboards"].values()) == {200} and len(result["dashboards"]) == 2, result
    assert sorted(result["targets"].values()) == ["up", "up"], result["targets"]
    hubs = sorted(url.removeprefix("http://") for url in result["hubs"])
    assert result["series_instances"] == hubs, result  # lgsp_systems_connected from either hub
    assert result["rule_groups"], "Prometheus loaded none of the shipped rules"
    # Every process the cluster started was stopped (cleanly: SIGTERM sufficed) and reaped.
    assert len(result["pids"]) == len(result["exit_codes"]) == 2 + 1 + 1 + 5, result["exit_codes"]
    assert set(result["exit_codes"].values()) == {0}, result["exit_codes"]
    for pid in result["pids"]:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert "the hubs agree" in console.export_text()
