"""Faults of the Apache Kafka cluster itself, under exchange and dossier load (make test-kafka): one
broker SIGKILLed, the active KRaft controller SIGKILLed, and a rolling restart of all three nodes.
Topics have 3 replicas and min.insync.replicas=2 and producers use acks=all, so each fault must lose
nothing, duplicate nothing and leave no client unanswered (`fault_under_load` checks and prints it)."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from sandbox.kafka import KafkaCluster, KafkaClusterError
from tests.faults.support import HubProcess, fault_under_load
from tests.support import Broker

pytestmark = pytest.mark.faults

DOWN = 5.0  # seconds a killed node stays down while traffic goes on


@pytest.fixture
async def cluster(broker: Broker) -> AsyncIterator[KafkaCluster]:
    """The session's Apache Kafka cluster (these tests mean nothing on the embedded broker), with every
    node started again afterwards, so a failed test leaves none down for the next."""
    assert isinstance(broker, KafkaCluster) and broker.size == 3, (
        "the cluster fault tests need a 3-node Apache Kafka cluster: run them with make test-kafka"
    )
    yield broker
    for node in broker.nodes():
        try:
            await broker.restart(node.id)
        except KafkaClusterError as exc:
            if "still running" not in str(exc):
                raise


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_broker_killed_under_load_loses_nothing(
    database_url: str, cluster: KafkaCluster, tmp_path: Path
) -> None:
    controller = await cluster.controller()
    victim = next(node.id for node in cluster.nodes() if node.id != controller)

    async def kill_a_broker(_: HubProcess) -> dict[str, Any]:
        await cluster.kill(victim)
        await asyncio.sleep(DOWN)
        await cluster.restart(victim)
        return {"killed_node": victim}

    await fault_under_load(
        "Kafka broker SIGKILLed", database_url, cluster.bootstrap, tmp_path, kill_a_broker, bus_fault=True
    )


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_the_active_controller_killed_under_load_loses_nothing(
    database_url: str, cluster: KafkaCluster, tmp_path: Path
) -> None:

    async def kill_the_controller(_: HubProcess) -> dict[str, Any]:
        controller = await cluster.controller()
        await cluster.kill(controller)
        await asyncio.sleep(DOWN)
        elected = await cluster.controller()
        await cluster.restart(controller)
        return {"killed_controller": controller, "new_controller": elected}

    summary = await fault_under_load(
        "Kafka controller SIGKILLed",
        database_url,
        cluster.bootstrap,
        tmp_path,
        kill_the_controller,
        bus_fault=True,
    )
    assert summary["new_controller"] != summary["killed_controller"], "no new controller was elected"


@pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)
async def test_a_rolling_restart_under_load_loses_nothing(
    database_url: str, cluster: KafkaCluster, tmp_path: Path
) -> None:

    async def rolling_restart(_: HubProcess) -> dict[str, Any]:
        loop = asyncio.get_running_loop()
        took = []
        for node in cluster.nodes():
            started = loop.time()
            await cluster.stop_node(node.id)
            await cluster.restart(node.id)
            took.append(round(loop.time() - started, 1))
        return {"node_restart_s": took}

    await fault_under_load(
        "Kafka rolling restart",
        database_url,
        cluster.bootstrap,
        tmp_path,
        rolling_restart,
        after=8.0,
        bus_fault=True,
    )
