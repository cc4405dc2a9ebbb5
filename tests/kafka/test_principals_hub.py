"""Per-system Kafka principals through the real hub (issue 15, "Tested on the real cluster"; make test-kafka).

The hub runs in-process with LGSP_KAFKA_PRINCIPALS on the module's SASL cluster (`sasl_cluster`,
tests/kafka/conftest.py), logged in as its own principal, which the super user granted only the hub's
ACLs (`Principals.grant_hub`, as docs/deployers/kafka-acls.md tells the operator). Systems are
registered, rotated and retired over its API, so their credentials and ACLs are the ones the registry
sets, and their connectors log in as their own principals. The broker itself must then refuse a system
reading or writing another's inbox, and the password of a rotated or retired key.
"""

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaConnectionError, TopicAuthorizationFailedError

from buscore.principals import kafka_password
from connectors.sdk import Connector
from lgsp.bus.principals import Principals
from sandbox.kafka import KafkaCluster
from schemas.topics import Topics
from tests.support import (
    Hub,
    connector_for,
    eventually,
    fast_settings,
    fresh_database,
    make_agency,
    make_system,
    running_hub,
    wait_connected,
)
from tests.support.sasl import admin_settings, log_in, producer_as, read_one, refused_login

pytestmark = pytest.mark.kafka

SERVICE = "birth-record.get"
CITIZEN = "079203001234"


@dataclass
class Scene:
    """A hub on the SASL cluster; A serves SERVICE to B (granted); `started` holds every connector the
    scene started, the first two A's and B's."""

    cluster: KafkaCluster
    hub: Hub
    a: dict[str, Any]
    b: dict[str, Any]
    started: list[Connector]

    @property
    def connector_b(self) -> Connector:
        """B's first connector (the one the scene connected)."""
        return self.started[1]

    @property
    def topics(self) -> Topics:
        """The installation's topics."""
        return Topics(self.hub.settings.topic_prefix)

    async def start(self, system: dict[str, Any]) -> Connector:
        """A started connector for `system` (as `make_system` or a key rotation answered it), logged in
        as the system's own Kafka principal; stopped with the scene."""
        connector = connector_for(system, self.hub.settings, self.cluster.bootstrap)

        @connector.service(SERVICE)
        async def birth_record(payload: dict[str, Any]) -> dict[str, Any]:
            return {"citizen_id": payload["citizen_id"], "registered": "2003-04-05"}

        self.started.append(connector)
        await connector.start()
        return connector

    async def call_a(self, client: Connector) -> None:
        """`client` calls A's service through the hub and gets A's answer."""
        answer = await client.request(self.a["code"], SERVICE, {"citizen_id": CITIZEN}, timeout=10)
        assert answer == {"citizen_id": CITIZEN, "registered": "2003-04-05"}

    async def disconnected(self, system: dict[str, Any]) -> bool:
        """Whether the hub no longer counts `system` connected to the LGSP."""
        status = (await self.hub.client.get(f"/api/v1/systems/{system['id']}/status")).json()
        return not status["lgsp_connected"]


async def hub_principal(cluster: KafkaCluster, prefix: str) -> tuple[str, str]:
    """A principal for the hub of installation `prefix`, granted the hub's ACLs (no super user), as the
    operator does once; its user name and password."""
    user, password = f"lgsp.hub-{secrets.token_hex(3)}", secrets.token_urlsafe(24)
    operator = Principals(admin_settings(cluster, prefix), cluster.bootstrap)
    try:
        await operator.grant_hub(user, password)
    finally:
        await operator.close()
    return user, password


@pytest.fixture
async def scene(sasl_cluster: KafkaCluster, tmp_path: Path) -> AsyncIterator[Scene]:
    """The hub as its own principal on this test's topics and SQLite database; systems A and B (codes no
    other test of the module uses: they are cluster-wide user names) registered over its API, A serving
    B, both connected."""
    tag = secrets.token_hex(3).upper()
    prefix = f"hub-{tag.lower()}"
    user, password = await hub_principal(sasl_cluster, prefix)
    async with fresh_database("sqlite", tmp_path) as url:
        settings = fast_settings(
            url,
            tmp_path,
            topic_prefix=prefix,
            kafka_bootstrap=sasl_cluster.bootstrap,
            kafka_security_protocol="SASL_PLAINTEXT",
            kafka_sasl_mechanism="SCRAM-SHA-512",
            kafka_sasl_plain_username=user,
            kafka_sasl_plain_password=password,
            kafka_principals=True,
        )
        async with running_hub(settings, sasl_cluster.bootstrap) as hub:
            await make_agency(hub.client, "SO-TP")
            a = await make_system(hub.client, f"A-{tag}")
            b = await make_system(hub.client, f"B-{tag}")
            declared = await hub.client.post(f"/api/v1/systems/{a['id']}/services", json={"code": SERVICE})
            assert declared.status_code == 201, declared.text
            granted = await hub.client.post(
                f"/api/v1/systems/{a['id']}/grants", json={"service": SERVICE, "client_system": b["code"]}
            )
            assert granted.status_code == 201, granted.text
            scene = Scene(sasl_cluster, hub, a, b, [])
            try:
                for system in (a, b):
                    await scene.start(system)
                for system in (a, b):
                    await wait_connected(hub.client, system)
                yield scene
            finally:
                for connector in scene.started:
                    await connector.stop()


async def test_systems_connect_as_their_own_principals_and_exchange_through_the_hub(scene: Scene) -> None:
    """Both connectors log in with the passwords derived from their keys (never the hub's), the hub
    counts them connected, and B's call reaches A through the hub and comes back."""
    for connector, system in zip(scene.started, (scene.a, scene.b), strict=True):
        assert connector.kafka_options["sasl_plain_username"] == system["code"]
        assert connector.kafka_options["sasl_plain_password"] == kafka_password(system["api_key"])
    await scene.call_a(scene.connector_b)


async def test_a_system_can_neither_read_nor_write_another_systems_inbox(scene: Scene) -> None:
    """A, logged in as itself with its own key, in its own consumer group, is refused B's inbox by the
    broker; the same producer may write what systems send."""
    a_code, b_code = scene.a["code"], scene.b["code"]
    password = kafka_password(scene.a["api_key"])
    inbox_b = scene.topics.inbox(b_code)
    admin = AIOKafkaAdminClient(**scene.cluster.client_options(), bootstrap_servers=scene.cluster.bootstrap)
    await admin.start()
    try:  # B's inbox is there (the hub made it): what A gets is a refusal, not an unknown topic
        assert inbox_b in await admin.list_topics()
    finally:
        await admin.close()
    own_group = f"{scene.topics.prefix}.connector.{a_code}"
    with pytest.raises(TopicAuthorizationFailedError):
        await read_one(scene.cluster, a_code, password, inbox_b, own_group)
    async with producer_as(scene.cluster, a_code, password) as producer:
        await producer.send_and_wait(scene.topics.requests, b"A may write requests")
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(inbox_b, b"a call for B that bypasses the hub")
    await scene.call_a(scene.connector_b)  # and B's inbox still serves B


async def test_after_a_rotation_the_old_password_is_refused_and_the_new_key_works(scene: Scene) -> None:
    """Rotating B's key over the API replaces its Kafka credential: the old key's password no longer logs
    in, so a connector with the old key cannot reconnect, and a connector with the new key (and the trust
    anchor of the answer) connects and calls A."""
    b = scene.b
    rotated = await scene.hub.client.post(f"/api/v1/systems/{b['id']}/key")
    assert rotated.status_code == 201, rotated.text
    await scene.connector_b.stop()

    old_password = kafka_password(b["api_key"])
    await eventually(
        lambda: refused_login(scene.cluster, b["code"], old_password), what="the old password's refusal"
    )
    with pytest.raises(KafkaConnectionError):  # a connector with the old key cannot reconnect
        await scene.start(b)

    await eventually(lambda: scene.disconnected(b), what="B's old session to end")
    renewed = b | rotated.json()
    assert renewed["api_key"] != b["api_key"]
    new = await scene.start(renewed)
    await wait_connected(scene.hub.client, renewed)
    await scene.call_a(new)


async def test_a_retired_system_can_no_longer_log_in(scene: Scene) -> None:
    """Retiring A over the API deletes its Kafka credential: its password no longer logs in."""
    a = scene.a
    password = kafka_password(a["api_key"])
    await log_in(scene.cluster, a["code"], password)  # it could, before
    retired = await scene.hub.client.delete(f"/api/v1/systems/{a['id']}")
    assert retired.status_code == 204, retired.text
    await eventually(lambda: refused_login(scene.cluster, a["code"], password), what="A's refusal")
