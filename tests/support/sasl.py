"""Clients of a SASL cluster for the tests of per-system Kafka principals (tests/kafka): the super user's
settings, aiokafka clients logged in as a given user, and whether the broker accepts a password.

The cluster itself is the `sasl_cluster` fixture of tests/kafka/conftest.py (one per test module)."""

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.conn import create_conn
from aiokafka.errors import SaslAuthenticationFailed

from lgsp.settings import Settings
from sandbox.kafka import KafkaCluster

#: connections.max.reauth.ms of the tests' SASL clusters: a session opened with a password that has since
#: changed ends within this time (short here, so a test can see it; a minute by default).
REAUTH_MS = 3000
#: How long one client operation may take before a test calls it refused or hung.
PATIENCE = 10.0


def admin_settings(cluster: KafkaCluster, prefix: str, user: str = "", password: str = "") -> Settings:
    """Settings of a hub managing system principals on `cluster` for the installation `prefix`, logged in
    as `user` (the super user by default): what `Principals` needs."""
    return Settings(
        kafka_bootstrap=cluster.bootstrap,
        kafka_security_protocol="SASL_PLAINTEXT",
        kafka_sasl_mechanism="SCRAM-SHA-512",
        kafka_sasl_plain_username=user or cluster.admin,
        kafka_sasl_plain_password=password or cluster.admin_password,
        topic_prefix=prefix,
        kafka_principals=True,
    )


def client_options(cluster: KafkaCluster, user: str, password: str) -> dict[str, Any]:
    """aiokafka's keyword arguments for a client of `cluster` logged in as `user`."""
    return {"bootstrap_servers": cluster.bootstrap, **cluster.client_options(user, password)}


@contextlib.asynccontextmanager
async def producer_as(cluster: KafkaCluster, user: str, password: str) -> AsyncIterator[AIOKafkaProducer]:
    """A started producer logged in as `user`, stopped afterwards."""
    producer = AIOKafkaProducer(
        **client_options(cluster, user, password), acks="all", request_timeout_ms=5000
    )
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


async def read_one(cluster: KafkaCluster, user: str, password: str, topic: str, group: str) -> bytes | None:
    """The first record of `topic`, read as `user` in consumer group `group`; raises what the broker
    refuses (`TopicAuthorizationFailedError`, `GroupAuthorizationFailedError`)."""
    consumer = AIOKafkaConsumer(
        topic,
        **client_options(cluster, user, password),
        group_id=group,
        auto_offset_reset="earliest",
        session_timeout_ms=6000,
        heartbeat_interval_ms=1000,
    )
    try:  # start too: a refused join leaves the client's tasks running until it is stopped
        await consumer.start()
        async with asyncio.timeout(PATIENCE):
            record = await consumer.getone()
        value: bytes | None = record.value
        return value
    finally:
        await consumer.stop()


async def log_in(cluster: KafkaCluster, user: str, password: str) -> None:
    """Open one connection to the broker and authenticate as `user`; raises what the broker answers."""
    host, port = cluster.bootstrap.split(",")[0].rsplit(":", 1)
    conn = await create_conn(host, int(port), **cluster.client_options(user, password))
    conn.close()


async def refused_login(cluster: KafkaCluster, user: str, password: str) -> bool:
    """Whether the broker refuses `user`'s password (and says so: not a network failure)."""
    try:
        await log_in(cluster, user, password)
    except SaslAuthenticationFailed:
        return True
    return False
