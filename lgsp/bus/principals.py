"""Kafka identities and ACLs on an Apache Kafka cluster with SASL/SCRAM and an authorizer
(LGSP_KAFKA_PRINCIPALS; docs/deployers/kafka-acls.md).

Each system is the principal `User:<code>`, with a SCRAM-SHA-512 password derived from its API key
(`buscore.principals.kafka_password`). It may write the topics systems send on and read only its own
inbox, in its own consumer group; the hub and the NGSP stub have principals of their own. `Principals`
sets the credentials and ACLs through librdkafka's admin client (confluent-kafka: aiokafka has no SCRAM
or ACL administration), whose futures are awaited without blocking the event loop.

ACLs are reconciled, not only added: granting a principal again makes its ACLs on this installation's
resources (names starting with `<prefix>.`) exactly the wanted ones, so a changed model or a stray
manual ACL does not linger, and ACLs of another installation on the same cluster are left alone.
"""

import asyncio
import contextlib
import logging
import re
from collections.abc import Iterable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, TypeVar

from confluent_kafka import KafkaError, KafkaException
from confluent_kafka.admin import (
    AclBinding,
    AclBindingFilter,
    AclOperation,
    AclPermissionType,
    AdminClient,
    ResourcePatternType,
    ResourceType,
    ScramCredentialInfo,
    ScramMechanism,
    UserScramCredentialAlteration,
    UserScramCredentialDeletion,
    UserScramCredentialUpsertion,
)

from buscore.principals import kafka_password, kafka_username
from lgsp.errors import BadRequest, Unavailable
from lgsp.settings import Settings
from schemas.topics import Topics

log = logging.getLogger(__name__)

T = TypeVar("T")

#: SCRAM iterations of the credentials set here: Kafka's minimum. The password is 256 random bits (a
#: digest of the API key), so no dictionary attack on a stolen credential can profit from more.
SCRAM_ITERATIONS = 4096
#: The cluster, as a resource of ACLs (ResourceType.BROKER, named so in Kafka's protocol).
CLUSTER = "kafka-cluster"
#: What a system code looks like (schemas.common.SystemCode): the principals of the hub and the NGSP
#: stub must not, so that registering a system can never take one over.
SYSTEM_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$")

TOPIC, GROUP, BROKER = ResourceType.TOPIC, ResourceType.GROUP, ResourceType.BROKER
LITERAL, PREFIXED = ResourcePatternType.LITERAL, ResourcePatternType.PREFIXED
READ, WRITE, DESCRIBE = AclOperation.READ, AclOperation.WRITE, AclOperation.DESCRIBE
CREATE, ALTER = AclOperation.CREATE, AclOperation.ALTER


@dataclass(frozen=True, slots=True, order=True)
class Rule:
    """One permission (always ALLOW, from any host) on one resource pattern."""

    resource: ResourceType
    name: str
    pattern: ResourcePatternType
    operation: AclOperation

    def binding(self, principal: str) -> AclBinding:
        """The ACL binding that grants this rule to `principal` (`User:<name>`)."""
        return AclBinding(
            self.resource, self.name, self.pattern, principal, "*", self.operation, AclPermissionType.ALLOW
        )


def _rules(
    resource: ResourceType, names: Iterable[str], pattern: ResourcePatternType, *ops: AclOperation
) -> set[Rule]:
    return {Rule(resource, name, pattern, op) for name in names for op in ops}


def _shared(topics: Topics) -> list[str]:
    """The topics every hub and NGSP process ensures at start (`lgsp.bus.client.shared_topics`, which
    this module does not import: the bus layer's other modules depend on it, not it on them)."""
    return [
        topics.connectivity,
        topics.requests,
        topics.responses,
        topics.dossiers,
        topics.ngsp_requests,
        topics.ngsp_events,
        topics.ngsp_probe_replies,
        topics.ngsp_results,
        topics.dead_letters,
    ]


def system_rules(topics: Topics, code: str) -> set[Rule]:
    """A system's ACLs: write what systems send (requests, responses, hellos and heartbeats, dossiers,
    replies to the NGSP's probes, and the dead letters of the inbox records its connector refused), read
    its own inbox in its own consumer group (the SDK's), nothing else. DESCRIBE is implied by READ and
    WRITE; it is granted explicitly so listings say it."""
    sends = [
        topics.requests,
        topics.responses,
        topics.connectivity,
        topics.dossiers,
        topics.ngsp_probe_replies,
        # A connector tells the operators what it refused (a forged call, say); no one acts on a dead
        # letter, so one a system makes up misleads at most, and it is signed by that system.
        topics.dead_letters,
    ]
    return (
        _rules(TOPIC, sends, LITERAL, WRITE, DESCRIBE)
        | _rules(TOPIC, [topics.inbox(code)], LITERAL, READ, DESCRIBE)
        | _rules(GROUP, [f"{topics.prefix}.connector.{code}"], LITERAL, READ)
    )


def hub_rules(topics: Topics, manage_principals: bool = True) -> set[Rule]:
    """The hub's ACLs: read, write and create every topic of the installation (shared topics, every
    inbox, its own façade topics), in any of its consumer groups; with `manage_principals`, ALTER and
    DESCRIBE on the cluster, which setting SCRAM credentials and ACLs needs (and which amounts to
    being able to grant itself anything: give it to the hub only if it manages system principals)."""
    prefix = [f"{topics.prefix}."]
    rules = _rules(TOPIC, prefix, PREFIXED, READ, WRITE, CREATE, DESCRIBE) | _rules(
        GROUP, prefix, PREFIXED, READ, DESCRIBE
    )
    if manage_principals:
        rules |= _rules(BROKER, [CLUSTER], LITERAL, ALTER, DESCRIBE)
    return rules


def ngsp_rules(topics: Topics) -> set[Rule]:
    """The NGSP stub's ACLs: read the hub's requests and the systems' probe replies (in its own groups,
    `<prefix>.ngsp.*`), write its events and results, the inboxes (its probes) and dead letters.
    It ensures the shared topics at start, as the hub does, so it may describe and create them."""
    reads = [topics.ngsp_requests, topics.ngsp_probe_replies]
    writes = [topics.ngsp_events, topics.ngsp_results, topics.dead_letters]
    return (
        _rules(TOPIC, reads, LITERAL, READ)
        | _rules(TOPIC, writes, LITERAL, WRITE)
        | _rules(TOPIC, [f"{topics.prefix}.inbox."], PREFIXED, WRITE, DESCRIBE)
        | _rules(TOPIC, _shared(topics), LITERAL, DESCRIBE, CREATE)
        | _rules(GROUP, [f"{topics.prefix}.ngsp."], PREFIXED, READ)
    )


def admin_config(settings: Settings, bootstrap: str) -> dict[str, str | int | float | bool]:
    """librdkafka's configuration for the hub's own identity, from the same settings as its aiokafka
    clients (`Settings.kafka_options`)."""
    protocol = settings.kafka_security_protocol
    config: dict[str, str | int | float | bool] = {
        "bootstrap.servers": bootstrap,
        "client.id": "lgsp-principals",
        "security.protocol": protocol,
    }
    if protocol.startswith("SASL_"):
        assert settings.kafka_sasl_plain_password is not None  # Settings checks the pair is set
        config |= {
            "sasl.mechanisms": settings.kafka_sasl_mechanism,
            "sasl.username": settings.kafka_sasl_plain_username or "",
            "sasl.password": settings.kafka_sasl_plain_password.get_secret_value(),
        }
    if protocol.endswith("SSL"):
        # Without a CA file, the system's CAs, as aiokafka's default SSL context does.
        config["ssl.ca.location"] = str(settings.kafka_ssl_cafile) if settings.kafka_ssl_cafile else "probe"
        if settings.kafka_ssl_certfile is not None:
            config["ssl.certificate.location"] = str(settings.kafka_ssl_certfile)
        if settings.kafka_ssl_keyfile is not None:
            config["ssl.key.location"] = str(settings.kafka_ssl_keyfile)
        if settings.kafka_ssl_key_password is not None:
            config["ssl.key.password"] = settings.kafka_ssl_key_password.get_secret_value()
    return config


class Principals:
    """Sets the SCRAM credentials and ACLs of systems, the hub and the NGSP stub on the cluster at
    `bootstrap`, as the hub's principal (a super user, or one granted `hub_rules` with
    `manage_principals`).

    Every call is idempotent, so a retried registration or two hub processes doing the same thing
    agree. A failure raises `Unavailable` (503, `server.unavailable`): call these before committing
    the registry's change, so a key is never issued, rotated or retired in the database alone.
    """

    def __init__(
        self,
        settings: Settings,
        bootstrap: str,
        *,
        topics: Topics | None = None,
        reserved: Iterable[str] = (),
        timeout: float = 15.0,
    ) -> None:
        self.topics = topics or Topics(settings.topic_prefix)
        self.timeout = timeout
        self._config = admin_config(settings, bootstrap)
        # User names no system may take: the hub's own, and whatever the caller names.
        self._reserved = {name for name in (settings.kafka_sasl_plain_username, *reserved) if name}
        self._admin: AdminClient | None = None

    @property
    def admin(self) -> AdminClient:
        """The admin client, made on first use (it starts librdkafka's threads)."""
        if self._admin is None:
            self._admin = AdminClient(self._config, logger=log)
        return self._admin

    async def grant_system(self, code: str, api_key: str) -> None:
        """Give system `code` its ACLs (`system_rules`), then set its SCRAM credential to the password
        derived from `api_key`, replacing any earlier one: on registration and on every key rotation, so
        the old key's password no longer logs in."""
        user = self._system_user(code)
        await self._reconcile(f"User:{user}", system_rules(self.topics, code))
        await self._set_password(user, kafka_password(api_key))
        log.info("kafka principal User:%s granted", user)

    async def revoke_credential(self, code: str) -> None:
        """Delete system `code`'s SCRAM credential, keeping its ACLs: no client logs in as it until a
        new key is granted (`grant_system`). For a key revoked without a new one."""
        await self._delete_password(self._system_user(code))

    async def retire_system(self, code: str) -> None:
        """Delete system `code`'s ACLs on this installation (its open sessions lose access at once) and
        its SCRAM credential (it cannot log in again)."""
        user = self._system_user(code)
        await self._reconcile(f"User:{user}", set(), remove=system_rules(self.topics, code))
        await self._delete_password(user)
        log.info("kafka principal User:%s retired", user)

    async def grant_hub(
        self, principal: str, password: str | None = None, *, manage_principals: bool = True
    ) -> None:
        """Give the hub's principal its ACLs (`hub_rules`); with `password`, set its SCRAM credential."""
        await self._grant_platform(principal, hub_rules(self.topics, manage_principals), password)

    async def grant_ngsp(self, principal: str, password: str | None = None) -> None:
        """Give the NGSP stub's principal its ACLs (`ngsp_rules`); with `password`, set its credential."""
        await self._grant_platform(principal, ngsp_rules(self.topics), password)

    async def acls(self, principal: str) -> set[AclBinding]:
        """Every ACL binding of `principal` (`User:<name>`) on the cluster."""
        # None matches any resource name and host (the stubs say str, the documentation None).
        any_: Any = None
        filter_ = AclBindingFilter(
            ResourceType.ANY,
            any_,
            ResourcePatternType.ANY,
            principal,
            any_,
            AclOperation.ANY,
            AclPermissionType.ANY,
        )
        found: list[AclBinding] = await self._result(self.admin.describe_acls(filter_, **self._timeout()))
        return set(found)

    async def close(self) -> None:
        """Release the admin client. Destroying a librdkafka handle joins its threads, so that happens
        in a worker thread, not on the event loop."""
        holder, self._admin = [self._admin], None
        await asyncio.to_thread(holder.clear)  # the last reference goes in the worker thread

    # --- helpers ----------------------------------------------------------------------------------------

    def _system_user(self, code: str) -> str:
        user = kafka_username(code)
        if not SYSTEM_CODE.fullmatch(code) or user in self._reserved:
            raise BadRequest(f"{code!r} cannot be a system's Kafka principal")
        return user

    async def _grant_platform(self, principal: str, rules: set[Rule], password: str | None) -> None:
        if SYSTEM_CODE.fullmatch(principal):
            # A name a system code could have would be taken over by registering a system of that code.
            raise ValueError(f"{principal!r} could be a system's code: name the principal with a '.'")
        self._reserved.add(principal)
        await self._reconcile(f"User:{principal}", rules)
        if password is not None:
            await self._set_password(principal, password)

    def _ours(self, binding: AclBinding) -> bool:
        """Whether an ACL binding is on this installation's resources (or the cluster)."""
        if binding.restype == BROKER:
            return True
        return binding.restype in (TOPIC, GROUP) and binding.name.startswith(f"{self.topics.prefix}.")

    async def _reconcile(self, principal: str, rules: set[Rule], remove: set[Rule] | None = None) -> None:
        """Make `principal`'s ACLs on this installation exactly `rules`, and return once the broker
        applies them.

        The wanted bindings are always created (creating one that exists is a no-op) and `remove` always
        deleted, by exact filters, because what a broker describes lags what its controller committed by
        a moment: trusting a listing, a grant right after a retirement could skip ACLs about to vanish.
        The listing only finds what else to delete (stray or outdated bindings).
        """
        wanted = {rule.binding(principal) for rule in rules}
        if wanted:
            await self._all(self.admin.create_acls(sorted(wanted), **self._timeout()))
        present = {binding for binding in await self.acls(principal) if self._ours(binding)}
        doomed = {rule.binding(principal) for rule in remove or ()}
        extra = sorted((present | doomed) - wanted)
        if extra:
            filters = [
                AclBindingFilter(
                    b.restype,
                    b.name,
                    b.resource_pattern_type,
                    b.principal,
                    b.host,
                    b.operation,
                    b.permission_type,
                )
                for b in extra
            ]
            await self._all(self.admin.delete_acls(filters, **self._timeout()))
        await self._applied(principal, wanted, set(extra))

    async def _applied(self, principal: str, present: set[AclBinding], absent: set[AclBinding]) -> None:
        """Wait until the broker lists `present` and none of `absent` for `principal`, so that a system
        granted may connect at once (a 3-node cluster's other brokers follow within milliseconds)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.timeout
        while True:
            listed = await self.acls(principal)
            if present <= listed and not absent & listed:
                return
            if loop.time() > deadline:
                raise Unavailable("the Kafka cluster did not apply a principal's ACLs in time")
            await asyncio.sleep(0.05)

    async def _set_password(self, user: str, password: str) -> None:
        info = ScramCredentialInfo(ScramMechanism.SCRAM_SHA_512, SCRAM_ITERATIONS)
        await self._alter(UserScramCredentialUpsertion(user, info, password.encode()))

    async def _delete_password(self, user: str) -> None:
        # Nothing to delete is fine: retiring twice, or a system registered before principals were on.
        with contextlib.suppress(_NotFound):
            await self._alter(UserScramCredentialDeletion(user, ScramMechanism.SCRAM_SHA_512))

    async def _alter(self, alteration: UserScramCredentialAlteration) -> None:
        await self._all(self.admin.alter_user_scram_credentials([alteration], **self._timeout()))

    async def _all(self, futures: Mapping[Any, "Future[Any]"]) -> None:
        await asyncio.gather(*(self._result(future) for future in futures.values()))

    def _timeout(self) -> dict[str, Any]:
        return {"request_timeout": self.timeout}

    async def _result(self, future: "Future[T]") -> T:
        """The result of a librdkafka future, awaited on the event loop; Kafka's errors as Unavailable."""
        try:
            # librdkafka times the request out itself; the margin only guards against a lost callback.
            async with asyncio.timeout(self.timeout + 5.0):
                return await asyncio.wrap_future(future)
        except KafkaException as exc:
            error = exc.args[0] if exc.args and isinstance(exc.args[0], KafkaError) else None
            if error is not None and error.code() == KafkaError.RESOURCE_NOT_FOUND:
                raise _NotFound(str(error)) from exc
            raise Unavailable(f"the Kafka cluster did not accept a principal change: {exc}") from exc
        except TimeoutError as exc:
            raise Unavailable("the Kafka cluster did not answer a principal change in time") from exc
        finally:
            if self._admin is not None:  # not `self.admin`, which would make a new client after close()
                self._admin.poll(0)  # hand librdkafka's queued log lines to `log`


class _NotFound(Exception):
    """The credential to delete does not exist."""
