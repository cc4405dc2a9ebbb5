"""The REST façade: synchronous exchanges for clients that are not on the bus.

A REST request goes through the same admission as a bus request (same checks, same record). Its result
is routed to this hub process's own results topic, which one consumer reads to wake the waiting call,
so the answer reaches the right process even when another hub consumed the provider's response.
"""

import asyncio
import logging
from uuid import UUID, uuid4

from aiokafka import TopicPartition

from buscore.lifecycle import cancelled_by_owner, close_consumer
from lgsp.background import Background, Component
from lgsp.exchange.admission import Admission
from lgsp.exchange.service import ExchangeRouter
from schemas.common import utcnow
from schemas.messages import INBOX, DecodeError, ServiceRequest, ServiceResult

log = logging.getLogger(__name__)


class ExchangeFacade(Component):
    """Admits REST requests and waits for their results."""

    def __init__(self, router: ExchangeRouter) -> None:
        self.router = router
        self.name = "exchange-facade"
        self.topic = f"{router.topics.prefix}.facade.{uuid4().hex[:12]}"
        self._waiting: dict[UUID, asyncio.Future[ServiceResult]] = {}
        self._listening = asyncio.Event()

    def background(self) -> list[Background]:
        """Listening for results."""
        return [self]

    async def call(self, request: ServiceRequest, size: int) -> ServiceResult:
        """Admit an authenticated request and wait for its result (the hub answers timeouts itself)."""
        await self._listening.wait()
        answer: asyncio.Future[ServiceResult] = asyncio.get_running_loop().create_future()
        self._waiting[request.message_id] = answer
        try:
            await self.router.admit([Admission(request, utcnow(), size, self.topic)])
            # The sweeper answers server.timeout shortly after the deadline; this bound is a safety net.
            async with asyncio.timeout(request.timeout_ms / 1000 + 10):
                return await answer
        finally:
            self._waiting.pop(request.message_id, None)

    async def run(self) -> None:
        """Listen for the results of the façade's requests on its own topic, until cancelled."""
        await self.router.bus.connect({self.topic: 1})
        while True:
            consumer = self.router.bus.new_consumer(
                enable_auto_commit=False, fetch_max_wait_ms=self.router.bus.fetch_max_wait_ms
            )
            try:
                await consumer.start()
                partition = TopicPartition(self.topic, 0)
                consumer.assign([partition])
                await consumer.seek_to_end(partition)
                self._listening.set()
                while True:
                    batches = await consumer.getmany(timeout_ms=500)
                    for records in batches.values():
                        for record in records:
                            self._deliver(record.value)
            except (Exception, asyncio.CancelledError) as exc:
                if isinstance(exc, asyncio.CancelledError) and cancelled_by_owner():
                    raise
                log.warning("façade listener failed (%r); reconnecting", exc)
                await asyncio.sleep(1)
            finally:
                await close_consumer(consumer)

    def _deliver(self, raw: bytes | None) -> None:
        try:
            message = INBOX.decode(raw)
        except DecodeError:
            return
        if isinstance(message, ServiceResult):
            answer = self._waiting.get(message.exchange_id)
            if answer is not None and not answer.done():
                answer.set_result(message)
