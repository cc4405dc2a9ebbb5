"""The connector SDK: hello, heartbeats, answers to active probes, reconnection, clean stop."""

import asyncio
import contextlib
import logging
from types import TracebackType
from uuid import UUID, uuid4

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from schemas.messages import INBOX, DecodeError, Heartbeat, Hello, Message, Probe, ProbeReply, encode
from schemas.topics import Topics

log = logging.getLogger(__name__)
SDK_VERSION = "0.1.0"


class Connector:
    """A provincial system's presence on the axis.

    Start it with the system's code and API key (from registration); it says hello, heartbeats every
    `heartbeat_interval` seconds and answers the probes the hub and the NGSP send to its inbox. When the
    broker goes away it keeps trying, and says hello again once it can publish.
    """

    def __init__(
        self,
        system: str,
        api_key: str,
        bootstrap: str,
        *,
        topic_prefix: str = "lgsp",
        heartbeat_interval: float = 5.0,
        session_timeout_ms: int = 10_000,
    ) -> None:
        self.system = system
        self.bootstrap = bootstrap
        self.topics = Topics(topic_prefix)
        self.heartbeat_interval = heartbeat_interval
        self.session_timeout_ms = session_timeout_ms
        self._api_key = api_key
        self.session_id: UUID = uuid4()
        self._producer: AIOKafkaProducer | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._needs_hello = True
        self.probes_answered = 0

    @property
    def running(self) -> bool:
        """Whether the connector has been started and not stopped."""
        return bool(self._tasks)

    async def start(self) -> None:
        """Connect and begin heartbeating; returns at once, the work goes on in the background."""
        if self._tasks:
            return
        self.session_id = uuid4()
        self._needs_hello = True
        self._producer = AIOKafkaProducer(
            bootstrap_servers=self.bootstrap,
            client_id=f"connector-{self.system}",
            linger_ms=1,
            request_timeout_ms=5_000,
        )
        await self._producer.start()
        self._tasks = [
            asyncio.create_task(self._heartbeat_loop(), name=f"{self.system}-heartbeat"),
            asyncio.create_task(self._inbox_loop(), name=f"{self.system}-inbox"),
        ]

    async def stop(self) -> None:
        """Stop heartbeating and answering; the hub will see the system disconnect after the TTL."""
        tasks, self._tasks = self._tasks, []
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._producer is not None:
            with contextlib.suppress(Exception):
                await self._producer.stop()
            self._producer = None

    async def __aenter__(self) -> "Connector":
        await self.start()
        return self

    async def __aexit__(
        self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None
    ) -> None:
        await self.stop()

    async def _send(self, topic: str, message: Message) -> None:
        assert self._producer is not None
        await asyncio.wait_for(
            self._producer.send_and_wait(topic, encode(message), key=self.system.encode()),
            timeout=max(self.heartbeat_interval, 5.0),
        )

    async def say_hello(self) -> None:
        """Open (or reopen) the session with the hub."""
        hello = Hello(
            system=self.system, session_id=self.session_id, api_key=self._api_key, sdk_version=SDK_VERSION
        )
        await self._send(self.topics.connectivity, hello)
        self._needs_hello = False

    async def _heartbeat_loop(self) -> None:
        while True:
            try:
                if self._needs_hello:
                    await self.say_hello()
                await self._send(self.topics.connectivity, Heartbeat(system=self.system, session_id=self.session_id))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # Broker away: say hello again once it is back, in case the hub lost track of us.
                if not self._needs_hello:
                    log.warning("%s: cannot reach the bus (%s); will retry", self.system, exc)
                self._needs_hello = True
            await asyncio.sleep(self.heartbeat_interval)

    async def _inbox_loop(self) -> None:
        backoff = 0.5
        while True:
            consumer = AIOKafkaConsumer(
                self.topics.inbox(self.system),
                bootstrap_servers=self.bootstrap,
                group_id=f"{self.topics.prefix}.connector.{self.system}",
                client_id=f"connector-{self.system}",
                auto_offset_reset="latest",
                metadata_max_age_ms=3_000,
                session_timeout_ms=self.session_timeout_ms,
                heartbeat_interval_ms=max(100, self.session_timeout_ms // 4),
            )
            try:
                await consumer.start()
                backoff = 0.5
                async for record in consumer:
                    await self._handle(record.value)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("%s: inbox consumer failed (%s); reconnecting", self.system, exc)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 10.0)
            finally:
                with contextlib.suppress(Exception):
                    await consumer.stop()

    async def _handle(self, raw: bytes | None) -> None:
        try:
            message = INBOX.decode(raw)
        except DecodeError as exc:
            log.warning("%s: ignoring a bad inbox record: %s", self.system, exc)
            return
        if message.system != self.system:
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
        else:  # SessionReset: the hub does not know our session
            await self.say_hello()
