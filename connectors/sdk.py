"""The connector SDK: hello, heartbeats, answers to active probes, reconnection, clean stop."""

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from types import TracebackType
from typing import Any
from uuid import UUID, uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord
from aiokafka.errors import KafkaError, MessageSizeTooLargeError

from buscore.deadletters import dead_letter, envelope_only
from buscore.lifecycle import cancelled_by_owner, close_consumer
from buscore.principals import sasl_options
from buscore.signing import ReplayGuard, Signer, Trust, check, freshness, sender_of, signed_statement
from connectors.faults import ServiceFault
from schemas.common import finite_json
from schemas.messages import (
    INBOX,
    DecodeError,
    DossierReport,
    Fault,
    Heartbeat,
    Hello,
    Message,
    Probe,
    ProbeReply,
    ServiceCall,
    ServiceRequest,
    ServiceResponse,
    ServiceResult,
)
from schemas.topics import Topics

log = logging.getLogger(__name__)
SDK_VERSION = "0.2.0"  # 0.2: signed messages, no API key on the bus
#: Bytes of a refused record a dead letter keeps (base64 makes them a third larger).
DEAD_LETTER_KEEP = 512 * 1024
ServiceHandler = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


class RecentIds:
    """The last `size` ids seen, with constant-time lookup (a deque alone is a linear scan per call)."""

    def __init__(self, size: int) -> None:
        self._order: deque[UUID] = deque()
        self._ids: set[UUID] = set()
        self.size = size

    def add(self, id_: UUID) -> bool:
        """Remember `id_`; False if it was already among the last `size`."""
        if id_ in self._ids:
            return False
        self._ids.add(id_)
        self._order.append(id_)
        if len(self._order) > self.size:
            self._ids.discard(self._order.popleft())
        return True


class ExchangeError(Exception):
    """An exchange that failed: `code` is the hub's stable fault code (e.g. client.access_denied)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


async def _waits_past_end(consumer: AIOKafkaConsumer) -> bool:
    """Whether `consumer` has no partition or waits at an offset beyond the end of its log."""
    assigned = list(consumer.assignment())
    if not assigned:
        return True
    ends = await consumer.end_offsets(assigned)
    for tp, end in ends.items():
        if await consumer.position(tp) > end:
            return True
    return False


class Connector:
    """A provincial system's presence on the axis.

    Start it with the system's code, API key and trust anchor (both from registration: `api_key` and
    `bus_trust`, or `GET /api/v1/bus/trust`). The API key never leaves the process: every message is
    signed with a key pair derived from it, and every message from the hub or the NGSP must carry their
    signature (`trust`), or it is refused, dead-lettered with the reason and counted in `refused`.
    It says hello, heartbeats every
    `heartbeat_interval` seconds and answers the probes the hub and the NGSP send to its inbox. When the
    broker goes away it keeps trying, and says hello again once it can publish. If its inbox stays silent
    for `inbox_watchdog` seconds (set it to a few probe intervals) and waits past the end of its log, it
    reconnects the inbox consumer.

    `fetch_max_wait_ms` bounds how long an answer may wait in the inbox (the broker answers a waiting
    fetch only when it expires). `kafka_options` are aiokafka's security keyword arguments
    (`security_protocol`, `sasl_mechanism`, `sasl_plain_username`, `sasl_plain_password`, `ssl_context`),
    given to every client it makes; a connector started by the hub's own tools gets the hub's
    (`lgsp.settings.Settings.kafka_options`). `idempotence` turns on the idempotent producer, for an
    Apache Kafka cluster (the embedded broker does not support it). `kafka_principal` logs in to the
    cluster as the system's own SCRAM principal (docs/deployers/kafka-acls.md): user name the system's
    code, password derived from its API key; `kafka_options` then gives the security protocol.
    """

    def __init__(
        self,
        system: str,
        api_key: str,
        bootstrap: str,
        *,
        trust: Trust | str,
        topic_prefix: str = "lgsp",
        heartbeat_interval: float = 5.0,
        session_timeout_ms: int = 10_000,
        inbox_watchdog: float = 60.0,
        fetch_max_wait_ms: int = 10,
        kafka_options: Mapping[str, Any] | None = None,
        idempotence: bool = False,
        kafka_principal: bool = False,
    ) -> None:
        self.system = system
        self.bootstrap = bootstrap
        self.kafka_options: dict[str, Any] = dict(kafka_options or {})
        if kafka_principal:  # the system's own SCRAM user, its password derived from the API key
            self.kafka_options |= sasl_options(system, api_key)
        self.idempotence = idempotence
        self.topics = Topics(topic_prefix)
        self.heartbeat_interval = heartbeat_interval
        self.session_timeout_ms = session_timeout_ms
        self.inbox_watchdog = inbox_watchdog
        self.fetch_max_wait_ms = fetch_max_wait_ms  # each answer may wait this long in the inbox
        self.signer = Signer.for_system(system, api_key)
        self.trust = trust if isinstance(trust, Trust) else Trust.parse(trust)
        self.replay_window = 120.0  # seconds; as the hub's LGSP_BUS_REPLAY_WINDOW
        self.clock_skew = 30.0
        self._replays = ReplayGuard(self.replay_window)
        self.refused: dict[str, int] = {}  # inbox records refused, by reason
        self.session_id: UUID = uuid4()
        self._producer: AIOKafkaProducer | None = None
        self._heartbeats: asyncio.Task[None] | None = None
        self._inbox: asyncio.Task[None] | None = None
        self._needs_hello = True
        self._outage = False
        self._handlers: dict[str, ServiceHandler] = {}
        self._pending: dict[UUID, asyncio.Future[ServiceResult]] = {}
        self._served = RecentIds(10_000)  # redelivered calls are not served twice
        self._serving: set[asyncio.Task[None]] = set()
        self._inbox_ready = asyncio.Event()
        self.probes_answered = 0

    @property
    def running(self) -> bool:
        """Whether the connector has been started and not stopped."""
        return self._heartbeats is not None

    async def start(self) -> None:
        """Connect and begin heartbeating; returns at once, the work goes on in the background."""
        if self.running:
            return
        self.session_id = uuid4()
        self._needs_hello, self._outage = True, False
        self._inbox_ready.clear()
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=f"connector-{self.system}",
            # Acknowledged by every in-sync replica: on a replicated cluster a write survives a broker.
            acks="all",
            enable_idempotence=self.idempotence,
            linger_ms=1,
            request_timeout_ms=5_000,
            metadata_max_age_ms=5_000,  # notice repartitioned topics soon (e.g. after a broker restart)
            **self.kafka_options,
        )
        await self._producer.start()
        # aiokafka's metadata refresh covers only topics it was told about; one known only from the first
        # full fetch is dropped by the next refresh and its records then wait for a leader until they
        # time out. Name every topic this connector publishes to.
        for topic in (
            self.topics.connectivity,
            self.topics.requests,
            self.topics.responses,
            self.topics.ngsp_probe_replies,
            self.topics.dossiers,
        ):
            self._producer.client.add_topic(topic)
        self._heartbeats = asyncio.create_task(self._heartbeat_loop(), name=f"{self.system}-heartbeat")
        await self._restart_inbox()

    async def stop(self) -> None:
        """Stop heartbeating and answering; the hub will see the system disconnect after the TTL."""
        tasks = [t for t in (self._heartbeats, self._inbox, *self._serving) if t is not None]
        self._heartbeats = self._inbox = None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
            self._producer = None

    def service(self, code: str) -> Callable[[ServiceHandler], ServiceHandler]:
        """Decorator: serve `code` with an async handler taking the payload and returning the answer."""

        def register(handler: ServiceHandler) -> ServiceHandler:
            self._handlers[code] = handler
            return handler

        return register

    async def request(
        self,
        provider: str,
        service: str,
        payload: dict[str, Any] | None = None,
        *,
        timeout: float = 5.0,  # noqa: ASYNC109  (the hub enforces it; the issue fixes this signature)
        subject: str | None = None,
        purpose: str | None = None,
    ) -> dict[str, Any]:
        """Call `provider`'s `service` through the hub and return its answer, or raise ExchangeError.

        A request about a `subject` (a citizen id, a tax code) must say why: `purpose` is a code of
        `schemas.purposes` (GET /api/v1/purposes), usually the procedure being handled; without one the
        hub answers `client.bad_request`.

        The hub answers `server.timeout` once `timeout` passes; many requests may be in flight at once.
        Two codes come from the SDK itself: `client.bus_unreachable` (the request could not be put on
        the bus) and `client.no_answer` (no answer came, not even the hub's timeout).
        """
        await self._inbox_ready.wait()  # the answer comes to the inbox: be listening first
        request = ServiceRequest(
            client=self.system,
            session_id=self.session_id,
            provider=provider,
            service=service,
            payload=payload or {},
            timeout_ms=int(timeout * 1000),
            subject=subject,
            purpose=purpose,
        )
        answer: asyncio.Future[ServiceResult] = asyncio.get_running_loop().create_future()
        self._pending[request.message_id] = answer
        try:
            try:
                await self._send(self.topics.requests, request)
            except MessageSizeTooLargeError as exc:  # never goes through: the request's own fault
                raise ExchangeError(
                    "client.bad_request", f"the request is too large for the bus ({exc})"
                ) from exc
            except (KafkaError, TimeoutError) as exc:  # the broker is away: say so in the SDK's terms
                raise ExchangeError("client.bus_unreachable", f"the request was not sent ({exc!r})") from exc
            async with asyncio.timeout(timeout + 10):  # the hub's own timeout answer comes first
                result = await answer
        except TimeoutError:
            raise ExchangeError("client.no_answer", "the hub did not answer") from None
        finally:
            self._pending.pop(request.message_id, None)
        if result.fault is not None:
            raise ExchangeError(result.fault.code, result.fault.message)
        return result.payload or {}

    async def __aenter__(self) -> "Connector":
        await self.start()
        return self

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _send(self, topic: str, message: Message, key: str | None = None) -> None:
        assert self._producer is not None
        async with asyncio.timeout(max(self.heartbeat_interval, 5.0)):
            await self._producer.send_and_wait(
                topic, self.signer.seal(message), key=(key or self.system).encode()
            )

    async def report_dossier(self, report: DossierReport) -> None:
        """Publish a completed dossier to the hub's once-only ledger (keyed by applicant, so one
        applicant's dossiers stay in order). `report.session_id` must be this connector's session."""
        await self._send(self.topics.dossiers, report, key=report.applicant)

    async def say_hello(self) -> None:
        """Open (or reopen) the session with the hub."""
        hello = Hello(system=self.system, session_id=self.session_id, sdk_version=SDK_VERSION)
        await self._send(self.topics.connectivity, hello)
        self._needs_hello = False

    async def _heartbeat_loop(self) -> None:
        while True:
            try:
                if self._needs_hello:
                    await self.say_hello()
                await self._send(
                    self.topics.connectivity, Heartbeat(system=self.system, session_id=self.session_id)
                )
                if self._outage:
                    # The broker is back (perhaps restarted, with groups and offsets gone): a fresh inbox
                    # consumer rejoins at once where the old one can stay stuck.
                    self._outage = False
                    await self._restart_inbox()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Broker away: say hello again once it is back, in case the hub lost track of us.
                if not self._outage:
                    log.warning("%s: cannot reach the bus (%s); will retry", self.system, exc)
                self._needs_hello = self._outage = True
            await asyncio.sleep(self.heartbeat_interval)

    async def _restart_inbox(self) -> None:
        old = self._inbox
        if old is not None:
            old.cancel()
            await asyncio.gather(old, return_exceptions=True)
        self._inbox = asyncio.create_task(self._inbox_loop(), name=f"{self.system}-inbox")

    async def _inbox_loop(self) -> None:
        backoff = 0.5
        while True:
            consumer = AIOKafkaConsumer(
                self.topics.inbox(self.system),
                bootstrap_servers=self.bootstrap,
                group_id=f"{self.topics.prefix}.connector.{self.system}",
                client_id=f"connector-{self.system}",
                # The first consumer of a session starts at the end: older calls are not its own. A later
                # one (a rejoin after an outage) reads a log without committed offsets, i.e. one the broker
                # recreated after a restart, from its start, so answers that arrived meanwhile still count.
                auto_offset_reset="earliest" if self._inbox_ready.is_set() else "latest",
                metadata_max_age_ms=3_000,
                session_timeout_ms=self.session_timeout_ms,
                heartbeat_interval_ms=max(100, self.session_timeout_ms // 4),
                fetch_max_wait_ms=self.fetch_max_wait_ms,
                **self.kafka_options,
            )
            try:
                await consumer.start()
                backoff = 0.5
                quiet_since = asyncio.get_running_loop().time()
                while True:
                    batches = await consumer.getmany(timeout_ms=500)
                    if consumer.assignment():
                        self._inbox_ready.set()
                    now = asyncio.get_running_loop().time()
                    for records in batches.values():
                        quiet_since = now
                        for record in records:
                            await self._handle(record)
                    if now - quiet_since > self.inbox_watchdog:
                        # The hub probes every few seconds, so a silent inbox may be a stuck consumer (a
                        # restarted memory-only broker left it waiting at an offset its new log lacks).
                        # A slow hub is not a reason to rejoin the group: only a real stall is.
                        if await _waits_past_end(consumer):
                            raise TimeoutError(f"inbox silent for {self.inbox_watchdog:.0f}s, past its end")
                        quiet_since = now
            except (Exception, asyncio.CancelledError) as exc:
                # A cancellation not meant for this task is one aiokafka let out of its own tasks after a
                # broker restart: a failure to recover from, not a stop.
                if isinstance(exc, asyncio.CancelledError) and cancelled_by_owner():
                    raise
                log.warning("%s: inbox consumer failed (%r); reconnecting", self.system, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                await close_consumer(consumer)

    async def _handle(self, record: ConsumerRecord[bytes, bytes]) -> None:
        raw = record.value
        try:
            message = INBOX.decode(raw)
        except DecodeError as exc:
            await self._refuse(record, exc.reason, exc.detail)
            return
        if message.system != self.system:
            await self._refuse(record, "misaddressed", f"addressed to {message.system}")
            return
        signature = message.signature
        statement = signed_statement(raw, signature) if raw is not None and signature is not None else None
        key = self.trust.key(signature.signer) if signature is not None else None
        now = time.time()
        reason = check(message, statement, key, sender_of(message)) or freshness(
            message, now, self.replay_window, self.clock_skew
        )
        position = (record.topic, record.partition, record.offset)
        if reason is None and not self._replays.first(message.message_id, position, now):
            reason = "replayed"
        if reason is not None:
            await self._refuse(record, reason, f"a {message.type} not signed by {sender_of(message)}")
            return
        if isinstance(message, Probe):
            reply = ProbeReply(
                system=self.system,
                probe_id=message.probe_id,
                token=message.token,
                probe_sent_at=message.sent_at,
                via=message.via,
            )
            await self._send(message.reply_to, reply)
            self.probes_answered += 1
        elif isinstance(message, ServiceCall):
            if self._served.add(message.exchange_id):
                task = asyncio.create_task(self._serve(message))
                self._serving.add(task)
                task.add_done_callback(self._serving.discard)
        elif isinstance(message, ServiceResult):
            answer = self._pending.get(message.exchange_id)
            if answer is not None and not answer.done():
                answer.set_result(message)
        else:  # SessionReset: the hub does not know our session
            await self.say_hello()

    async def _refuse(self, record: ConsumerRecord[bytes, bytes], reason: str, detail: str) -> None:
        """Count a refused inbox record and dead-letter its envelope (the hub's operators see it there;
        personal data stays out, as in the hub's letters: buscore.deadletters)."""
        self.refused[reason] = self.refused.get(reason, 0) + 1
        log.warning("%s: refusing an inbox record (%s): %s", self.system, reason, detail)
        kept = envelope_only(record.value or b"", self.signer)
        letter = dead_letter(
            self.signer, record.topic, record.partition, record.offset, reason, detail, kept, DEAD_LETTER_KEEP
        )
        try:
            await self._send(self.topics.dead_letters, letter)
        except Exception as exc:  # the refusal stands even if the letter cannot be sent
            log.warning("%s: could not dead-letter a refused record: %s", self.system, exc)

    async def _serve(self, call: ServiceCall) -> None:
        handler = self._handlers.get(call.service)
        payload: dict[str, Any] | None = None
        fault: Fault | None = None
        if handler is None:
            fault = Fault(
                code="server.unknown_service", message=f"{self.system} does not serve {call.service}"
            )
        else:
            try:
                # JSON has no NaN or infinity: such an answer is refused as a fault, not sent on as null.
                payload = finite_json(await handler(call.payload))
            except ServiceFault as exc:  # a stable code of the handler's choosing
                fault = Fault(code=exc.code[:64], message=exc.message[:500])
            except Exception as exc:  # the provider's failure is the client's answer, not our crash
                fault = Fault(code=type(exc).__name__, message=str(exc)[:500])
        response = ServiceResponse(
            exchange_id=call.exchange_id,
            provider=self.system,
            session_id=self.session_id,
            client=call.client,
            payload=payload,
            fault=fault,
        )
        try:
            assert self._producer is not None
            await self._producer.send_and_wait(
                self.topics.responses, self.signer.seal(response), key=call.client.encode()
            )
        except Exception as exc:
            log.warning("%s: could not answer exchange %s: %s", self.system, call.exchange_id, exc)
