"""Per-system Kafka identities and ACLs, enforced by a real Apache Kafka broker (make test-kafka).

The module's own 1-node cluster with SASL/SCRAM-SHA-512, the StandardAuthorizer and no access without
an ACL (`sasl_cluster`, tests/kafka/conftest.py). Systems, the hub and the NGSP stub get their
principals through `lgsp.bus.principals.Principals`, as the hub's super user; each test then connects
as them with aiokafka and the passwords a connector derives from its API key, and the broker itself
must refuse what the model does not allow: a system reading or writing another's inbox, joining
another's group, writing what only the hub or the NGSP send, or logging in with a retired or rotated
key. tests/kafka/test_principals_hub.py checks the same through the hub and its connectors.
"""

import asyncio
import contextlib
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError

from buscore.principals import kafka_password
from lgsp.bus.client import shared_topics
from lgsp.bus.principals import Principals, hub_rules, system_rules
from sandbox.kafka import KafkaCluster
from schemas.topics import Topics
from tests.support.sasl import REAUTH_MS, admin_settings, log_in, producer_as, read_one, refused_login
from tests.support.waiting import eventually

pytestmark = pytest.mark.kafka


@dataclass
class World:
    """One test's installation on the cluster: its topics, the admin's `Principals`, two systems."""

    cluster: KafkaCluster
    topics: Topics
    principals: Principals
    a: str
    b: str

    def producer(self, user: str, password: str) -> contextlib.AbstractAsyncContextManager[AIOKafkaProducer]:
        """A started producer logged in as `user`, stopped afterwards."""
        return producer_as(self.cluster, user, password)

    async def read_one(self, user: str, password: str, topic: str, group: str) -> bytes | None:
        """The first record of `topic`, read as `user` in consumer group `group`."""
        return await read_one(self.cluster, user, password, topic, group)

    async def write_as_admin(self, topic: str, value: bytes) -> None:
        """One record in `topic`, written by the super user."""
        async with self.producer(self.cluster.admin, self.cluster.admin_password) as producer:
            await producer.send_and_wait(topic, value)


@pytest.fixture
async def world(sasl_cluster: KafkaCluster) -> AsyncIterator[World]:
    """A fresh topic prefix with the shared topics and two inboxes, and two system codes no other test
    uses (system codes are cluster-wide user names)."""
    tag = secrets.token_hex(3)
    topics = Topics(f"acl-{tag}")
    a, b = f"A-{tag}", f"B-{tag}"
    cluster = sasl_cluster
    admin = AIOKafkaAdminClient(bootstrap_servers=cluster.bootstrap, **cluster.client_options())
    await admin.start()
    try:
        names = [*shared_topics(topics, 1), topics.inbox(a), topics.inbox(b)]
        await admin.create_topics([NewTopic(name, 1, 1) for name in names])
    finally:
        await admin.close()
    principals = Principals(admin_settings(cluster, topics.prefix), cluster.bootstrap)
    try:
        yield World(cluster, topics, principals, a, b)
    finally:
        await principals.close()


# --- what a system may do -----------------------------------------------------------------------------


async def test_a_system_writes_what_systems_send_and_reads_its_own_inbox(world: World) -> None:
    key = "lgsp_a_" + secrets.token_urlsafe(16)
    await world.principals.grant_system(world.a, key)
    password = kafka_password(key)
    t = world.topics
    async with world.producer(world.a, password) as producer:
        for topic in (t.requests, t.responses, t.connectivity, t.dossiers, t.ngsp_probe_replies):
            await producer.send_and_wait(topic, b"from A")
    await world.write_as_admin(t.inbox(world.a), b"probe for A")
    group = f"{t.prefix}.connector.{world.a}"
    assert await world.read_one(world.a, password, t.inbox(world.a), group) == b"probe for A"


async def test_a_system_has_exactly_the_acls_of_the_model(world: World) -> None:
    """Granting reconciles: a stray ACL on the installation's topics goes, another installation's stays."""
    principal = f"User:{world.a}"
    stray = system_rules(world.topics, world.b)  # B's inbox, among others
    elsewhere = system_rules(Topics(f"other-{world.topics.prefix}"), world.a)
    admin = world.principals.admin
    bindings = [rule.binding(principal) for rule in stray | elsewhere]
    for future in admin.create_acls(bindings).values():
        await asyncio.wrap_future(future)

    async def listed() -> bool:  # the broker lists what its controller committed a moment later
        return set(bindings) <= await world.principals.acls(principal)

    await eventually(listed, what="the stray ACLs to be listed")
    await world.principals.grant_system(world.a, "lgsp_a_" + secrets.token_urlsafe(16))

    ours = {rule.binding(principal) for rule in system_rules(world.topics, world.a)}
    others = {rule.binding(principal) for rule in elsewhere}
    assert await world.principals.acls(principal) == ours | others


async def test_a_system_cannot_read_another_systems_inbox(world: World) -> None:
    key_a = "lgsp_a_" + secrets.token_urlsafe(16)
    await world.principals.grant_system(world.a, key_a)
    await world.principals.grant_system(world.b, "lgsp_b_" + secrets.token_urlsafe(16))
    inbox_b = world.topics.inbox(world.b)
    await world.write_as_admin(inbox_b, b"a call for B")
    own_group = f"{world.topics.prefix}.connector.{world.a}"
    with pytest.raises(TopicAuthorizationFailedError):
        await world.read_one(world.a, kafka_password(key_a), inbox_b, own_group)


async def test_a_system_cannot_join_another_systems_group(world: World) -> None:
    """Joining B's group would take partitions of B's inbox from B's connector: refused."""
    key_a = "lgsp_a_" + secrets.token_urlsafe(16)
    await world.principals.grant_system(world.a, key_a)
    await world.principals.grant_system(world.b, "lgsp_b_" + secrets.token_urlsafe(16))
    inbox_a = world.topics.inbox(world.a)
    await world.write_as_admin(inbox_a, b"probe for A")
    b_group = f"{world.topics.prefix}.connector.{world.b}"
    with pytest.raises(GroupAuthorizationFailedError):
        await world.read_one(world.a, kafka_password(key_a), inbox_a, b_group)


@pytest.mark.parametrize("target", ["inbox of B", "ngsp.requests", "ngsp.events", "ngsp.results"])
async def test_a_system_cannot_write_what_is_not_its_to_send(world: World, target: str) -> None:
    """Another system's inbox (a call bypassing the hub), and what only the hub or the NGSP send (a
    forged NGSP request, result or acknowledgement)."""
    key_a = "lgsp_a_" + secrets.token_urlsafe(16)
    await world.principals.grant_system(world.a, key_a)
    t = world.topics
    topic = {
        "inbox of B": t.inbox(world.b),
        "ngsp.requests": t.ngsp_requests,
        "ngsp.events": t.ngsp_events,
        "ngsp.results": t.ngsp_results,
    }[target]
    async with world.producer(world.a, kafka_password(key_a)) as producer:
        # The same producer may write its own topics: the refusal is about the topic, not the client.
        await producer.send_and_wait(t.requests, b"allowed")
        await producer.send_and_wait(t.dead_letters, b"what its connector refused")
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(topic, b"forged")


# --- retirement and rotation --------------------------------------------------------------------------


async def test_a_retired_system_cannot_log_in_and_keeps_no_acl(world: World) -> None:
    key = "lgsp_a_" + secrets.token_urlsafe(16)
    await world.principals.grant_system(world.a, key)
    await log_in(world.cluster, world.a, kafka_password(key))  # it could, before

    async with world.producer(world.a, kafka_password(key)) as open_session:
        await open_session.send_and_wait(world.topics.requests, b"before")
        await world.principals.retire_system(world.a)
        # A session opened before loses its access at once: ACLs are checked on every request.
        with pytest.raises(TopicAuthorizationFailedError):
            await open_session.send_and_wait(world.topics.responses, b"after")

    await eventually(lambda: refused_login(world.cluster, world.a, kafka_password(key)), what="a refusal")
    assert await world.principals.acls(f"User:{world.a}") == set()
    await world.principals.retire_system(world.a)  # retiring twice is harmless


async def test_a_rotated_key_no_longer_logs_in(world: World) -> None:
    old, new = ("lgsp_a_" + secrets.token_urlsafe(16) for _ in range(2))
    await world.principals.grant_system(world.a, old)
    await log_in(world.cluster, world.a, kafka_password(old))

    await world.principals.grant_system(world.a, new)  # what a rotation does

    await eventually(lambda: refused_login(world.cluster, world.a, kafka_password(old)), what="a refusal")
    await log_in(world.cluster, world.a, kafka_password(new))
    async with world.producer(world.a, kafka_password(new)) as producer:
        await producer.send_and_wait(world.topics.requests, b"with the new key")


async def test_a_session_opened_with_a_rotated_key_ends_within_the_reauthentication_time(
    world: World,
) -> None:
    """The broker makes every session log in again after connections.max.reauth.ms: one opened with the
    old password then fails, while another system's session goes on."""
    old = "lgsp_a_" + secrets.token_urlsafe(16)
    key_b = "lgsp_b_" + secrets.token_urlsafe(16)
    await world.principals.grant_system(world.a, old)
    await world.principals.grant_system(world.b, key_b)
    async with (
        world.producer(world.a, kafka_password(old)) as session_a,
        world.producer(world.b, kafka_password(key_b)) as session_b,
    ):
        await session_a.send_and_wait(world.topics.requests, b"before")
        await world.principals.grant_system(world.a, "lgsp_a_" + secrets.token_urlsafe(16))

        async def a_is_cut_off() -> bool:
            try:
                async with asyncio.timeout(2.0):
                    await session_a.send_and_wait(world.topics.requests, b"old session")
            except TimeoutError:
                return True  # it retries logging in with the old password until the send times out
            return False

        await eventually(a_is_cut_off, timeout=4 * REAUTH_MS / 1000, what="the old session to end")
        await session_b.send_and_wait(world.topics.requests, b"B goes on")


# --- the hub's and the NGSP stub's principals ---------------------------------------------------------


async def test_the_ngsp_principal_sends_only_what_the_ngsp_sends(world: World) -> None:
    password = secrets.token_urlsafe(24)
    await world.principals.grant_ngsp("lgsp.ngsp-test", password)
    t = world.topics
    async with world.producer("lgsp.ngsp-test", password) as producer:
        for topic in (t.ngsp_events, t.ngsp_results, t.inbox(world.a), t.dead_letters):
            await producer.send_and_wait(topic, b"from the NGSP")
        for forged in (t.requests, t.connectivity, t.ngsp_probe_replies):
            with pytest.raises(TopicAuthorizationFailedError):
                await producer.send_and_wait(forged, b"forged by the NGSP")
    await world.write_as_admin(t.ngsp_requests, b"a registration")
    group = f"{t.prefix}.ngsp.requests"
    assert await world.read_one("lgsp.ngsp-test", password, t.ngsp_requests, group) == b"a registration"
    with pytest.raises(TopicAuthorizationFailedError):
        await world.read_one("lgsp.ngsp-test", password, t.inbox(world.a), group)


async def test_a_hub_that_is_no_super_user_manages_system_principals(world: World) -> None:
    """`hub_rules` are enough for the hub: its topics, its groups, creating topics, and setting the
    systems' credentials and ACLs; not another installation's topics."""
    password = secrets.token_urlsafe(24)
    await world.principals.grant_hub("lgsp.hub-test", password)
    assert await world.principals.acls("User:lgsp.hub-test") == {
        rule.binding("User:lgsp.hub-test") for rule in hub_rules(world.topics)
    }
    settings = admin_settings(world.cluster, world.topics.prefix, "lgsp.hub-test", password)
    hub = Principals(settings, world.cluster.bootstrap)
    try:
        key = "lgsp_a_" + secrets.token_urlsafe(16)
        await hub.grant_system(world.a, key)
        await log_in(world.cluster, world.a, kafka_password(key))
    finally:
        await hub.close()
    async with world.producer("lgsp.hub-test", password) as producer:
        await producer.send_and_wait(f"{world.topics.prefix}.facade.hub-test", b"a new topic")
        with pytest.raises(TopicAuthorizationFailedError):
            await producer.send_and_wait(f"other-{world.topics.prefix}.requests", b"not its installation")
