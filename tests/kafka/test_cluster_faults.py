"""Faults of the Apache Kafka cluster itself, under exchange and dossier load (make test-kafka): one
broker SIGKILLed, the active KRaft controller SIGKILLed, and a rolling restart of all three nodes.
Topics have 3 replicas and min.insync.replicas=2 and producers use acks=all, so each fault must lose
nothing, duplicate nothing and leave no client unanswered (`fault_under_load` checks and prints it)."""

import asyncio
from pathlib import Path
from typing import Any

import pytest

from sandbox.kafka import KafkaCluster
from tests.faults.support import HubProcess, fault_under_load
from tests.support import Broker

pytestmark = pytest.mark.faults

DOWN = 5.0  # seconds a killed node stays down while traffic goes on


def cluster_of(broker: Broker) -> KafkaCluster:
    """The session's Apache Kafka cluster (these tests mean nothing on the embedded broker)."""
    assert isinstance(broker, KafkaCluster) and broker.size == 3, (
        "the cluster fault tests need a 3-node Apache Kafka cluster: run them with make test-kafka"
    )
    return broker


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_broker_killed_under_load_loses_nothing(
    database_url: str, broker: Broker, tmp_path: Path
) -> None:
    cluster = cluster_of(broker)
    controller = await cluster.controller()
    victim = next(node.id for node in cluster.nodes() if node.id != controller)

    async def kill_a_broker(_: HubProcess) -> dict[str, Any]:
        await cluster.kill(victim)
        await asyncio.sleep(DOWN)
        await cluster.restart(victim)
        return {"killed_node": victim}

    try:
        await fault_under_load(
            "Kafka broker SIGKILLed", database_url, cluster.bootstrap, tmp_path, kill_a_broker
        )
    finally:
        await _all_up(cluster)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_the_active_controller_killed_under_load_loses_nothing(
    database_url: str, broker: Broker, tmp_path: Path
) -> None:
    cluster = cluster_of(broker)

    async def kill_the_controller(_: HubProcess) -> dict[str, Any]:
        controller = await cluster.controller()
        await cluster.kill(controller)
        await asyncio.sleep(DOWN)
        elected = await cluster.controller()
        await cluster.restart(controller)
        return {"killed_controller": controller, "new_controller": elected}

    try:
        summary = await fault_under_load(
            "Kafka controller SIGKILLed", database_url, cluster.bootstrap, tmp_path, kill_the_controller
        )
        assert summary["new_controller"] != summary["killed_controller"], "no new controller was elected"
    finally:
        await _all_up(cluster)


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_rolling_restart_under_load_loses_nothing(
    database_url: str, broker: Broker, tmp_path: Path
) -> None:
    cluster = cluster_of(broker)

    async def rolling_restart(_: HubProcess) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        took = []
        for node in cluster.nodes():
            started = loop.time()
            await cluster.stop_node(node.id)
            await cluster.restart(node.id)
            took.append(round(loop.time() - started, 1))
        return {"node_restart_s": took}

    try:
        await fault_under_load(
            "Kafka rolling restart", database_url, cluster.bootstrap, tmp_path, rolling_restart, after=8.0
        )
    finally:
        await _all_up(cluster)


async def _all_up(cluster: KafkaCluster) -> None:
    """Start again any node a failed test left down, so the session's cluster serves the next test."""
    for node in cluster.nodes():
        try:
            await cluster.restart(node.id)
        except Exception as exc:  # "still running": nothing to do
            if "still running" not in str(exc):
                raise
