"""The exchange router: requests -> provider inbox, responses -> client inbox, one record per exchange."""

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from lgsp.bus.kafka import Bus, Delivery, Rejection, Worker
from lgsp.db import Database
from lgsp.exchange.directory import HUB, Directory, load_directory
from lgsp.exchange.models import ExchangeRecord, Outcome
from lgsp.security import keyed_hash
from lgsp.settings import Settings
from monitoring.metrics import EXCHANGE_DURATION, EXCHANGES
from schemas.common import utcnow
from schemas.messages import (
    REQUESTS,
    RESPONSES,
    Fault,
    ServiceCall,
    ServiceRequest,
    ServiceResponse,
    ServiceResult,
    encode,
)

log = logging.getLogger(__name__)
Outgoing = list[tuple[str, bytes, str | None]]


@dataclass(frozen=True, slots=True)
class Admission:
    """A request on its way in, from the bus or from the REST façade."""

    request: ServiceRequest
    received_at: datetime
    size: int
    reply_to: str | None = None  # where the result goes; None: the client's inbox
    authenticated: bool = False  # the REST façade already checked the caller's API key


class ExchangeRouter:
    """Authenticates, authorises, validates, forwards and records every exchange.

    Records are written before anything is forwarded, one insert per batch, and keyed by exchange id,
    so a redelivered request never makes a second record. A response settles its record only while the
    record is pending (an atomic conditional update), so a response and a timeout cannot both win.
    """

    def __init__(self, settings: Settings, database: Database, bus: Bus, key: bytes) -> None:
        self.settings = settings
        self.database = database
        self.bus = bus
        self.topics = bus.topics
        self.key = key
        self._directory: Directory | None = None
        self._loaded_at = 0.0
        group = f"{self.topics.prefix}.hub"
        self.requests: Worker[ServiceRequest] = Worker(
            bus, "requests", self.topics.requests, REQUESTS, self.on_requests, group=f"{group}.requests"
        )
        self.responses: Worker[ServiceResponse] = Worker(
            bus, "responses", self.topics.responses, RESPONSES, self.on_responses, group=f"{group}.responses"
        )

    def tasks(self) -> list[asyncio.Task[None]]:
        """Start the router's workers and its timeout sweeper."""
        return [
            asyncio.create_task(self.requests.run(), name="exchange-requests"),
            asyncio.create_task(self.responses.run(), name="exchange-responses"),
            asyncio.create_task(self._sweep_forever(), name="exchange-timeouts"),
        ]

    async def directory(self, *, max_age: float = 1.0) -> Directory:
        """The cached directory, reloaded when older than `max_age` seconds."""
        now = asyncio.get_running_loop().time()
        if self._directory is None or now - self._loaded_at > max_age:
            async with self.database.sessions() as session:
                self._directory = await load_directory(session)
            self._loaded_at = now
        return self._directory

    async def _check(self, admission: Admission) -> Fault | None:
        request, authenticated = admission.request, admission.authenticated
        fault = (await self.directory()).check(request, authenticated=authenticated)
        if fault is not None:  # maybe the cache predates a grant or a hello: ask the database once
            fault = (await self.directory(max_age=0.2)).check(request, authenticated=authenticated)
        return fault

    async def on_requests(self, deliveries: Sequence[Delivery[ServiceRequest]]) -> list[Rejection]:
        """Admit a batch of requests from the bus."""
        await self.admit([Admission(d.message, d.received_at, d.size) for d in deliveries])
        return []

    async def admit(self, admissions: Sequence[Admission]) -> None:
        """Record every request, then forward the authorised ones and answer the others."""
        rows: list[dict[str, Any]] = []
        out: Outgoing = []
        for admission in admissions:
            request = admission.request
            fault = await self._check(admission)
            now = utcnow()
            row: dict[str, Any] = {
                "id": str(request.message_id),
                "client": request.client,
                "provider": request.provider,
                "service": request.service,
                "subject_hash": keyed_hash(self.key, f"subject:{request.subject}")
                if request.subject
                else None,
                "request_in_at": admission.received_at,
                "request_size": admission.size,
                "deadline": admission.received_at + timedelta(milliseconds=request.timeout_ms),
                "reply_to": admission.reply_to,
                "outcome": Outcome.PENDING.value,
                "crossed_ngsp": False,
            }
            if fault is None and request.provider == HUB:
                answer = (await self.directory()).metaservice(request)
                row |= {
                    "outcome": Outcome.SUCCESS.value,
                    "request_out_at": now,
                    "response_in_at": now,
                    "response_out_at": now,
                }
                result = ServiceResult(
                    exchange_id=request.message_id,
                    system=request.client,
                    provider=HUB,
                    service=request.service,
                    payload=answer,
                )
                out.append(
                    (admission.reply_to or self.topics.inbox(request.client), encode(result), request.client)
                )
                EXCHANGES.labels("success").inc()
            elif fault is None:
                call = ServiceCall(
                    exchange_id=request.message_id,
                    system=request.provider,
                    client=request.client,
                    service=request.service,
                    payload=request.payload,
                    deadline=row["deadline"],
                )
                row["request_out_at"] = now
                out.append((self.topics.inbox(request.provider), encode(call), request.client))
            else:
                row |= {
                    "outcome": Outcome.FAULT.value,
                    "fault_code": fault.code,
                    "fault_message": fault.message,
                    "response_out_at": now,
                }
                result = ServiceResult(
                    exchange_id=request.message_id,
                    system=request.client,
                    provider=request.provider,
                    service=request.service,
                    fault=fault,
                )
                out.append(
                    (admission.reply_to or self.topics.inbox(request.client), encode(result), request.client)
                )
                EXCHANGES.labels(fault.code).inc()
            rows.append(row)
        await self._insert(rows)
        await self.bus.send_all(out)

    async def _insert(self, rows: list[dict[str, Any]]) -> None:
        # Insert-or-ignore keyed by exchange id: a redelivered batch adds nothing.
        insert = postgresql.insert if self.database.dialect == "postgresql" else sqlite.insert
        columns = sorted({c for row in rows for c in row})
        normalised = [{c: row.get(c) for c in columns} for row in rows]
        statement = insert(ExchangeRecord).on_conflict_do_nothing(index_elements=["id"])
        async with self.database.engine.begin() as conn:
            await conn.execute(statement, normalised)

    async def on_responses(self, deliveries: Sequence[Delivery[ServiceResponse]]) -> list[Rejection]:
        """Settle pending records with the providers' answers and pass the answers on to the clients."""
        directory = await self.directory()
        rejections: list[Rejection] = []
        out: Outgoing = []
        async with self.database.engine.begin() as conn:
            for delivery in deliveries:
                response = delivery.message
                if directory.session_of(response.provider) != response.session_id:
                    directory = await self.directory(max_age=0.2)
                    if directory.session_of(response.provider) != response.session_id:
                        rejections.append(
                            Rejection(delivery, "unknown_session", "response outside a session")
                        )
                        continue
                now = utcnow()
                fault = response.fault
                if fault is not None:
                    fault = Fault(
                        code="server.provider_error", message=f"{fault.code}: {fault.message}"[:1000]
                    )
                settled = (
                    await conn.execute(
                        update(ExchangeRecord)
                        .where(
                            col(ExchangeRecord.id) == str(response.exchange_id),
                            col(ExchangeRecord.provider) == response.provider,
                            col(ExchangeRecord.outcome) == Outcome.PENDING.value,
                        )
                        .values(
                            response_in_at=delivery.received_at,
                            response_out_at=now,
                            response_size=delivery.size,
                            outcome=(Outcome.FAULT if fault else Outcome.SUCCESS).value,
                            fault_code=fault.code if fault else None,
                            fault_message=fault.message if fault else None,
                        )
                        .returning(
                            col(ExchangeRecord.client),
                            col(ExchangeRecord.service),
                            col(ExchangeRecord.request_in_at),
                            col(ExchangeRecord.reply_to),
                        )
                    )
                ).first()
                if settled is None:
                    continue  # late (already timed out), redelivered, or not this provider's: nothing to do
                client, service, request_in_at, reply_to = settled
                result = ServiceResult(
                    exchange_id=response.exchange_id,
                    system=client,
                    provider=response.provider,
                    service=service,
                    payload=response.payload,
                    fault=fault,
                )
                out.append((reply_to or self.topics.inbox(client), encode(result), client))
                EXCHANGES.labels(fault.code if fault else "success").inc()
                EXCHANGE_DURATION.observe((now - request_in_at).total_seconds())
        await self.bus.send_all(out)
        return rejections

    async def sweep_timeouts(self) -> int:
        """Answer `server.timeout` for every pending exchange past its deadline; returns how many."""
        now = utcnow()
        overdue = (
            col(ExchangeRecord.outcome) == Outcome.PENDING.value,
            col(ExchangeRecord.deadline) < now,
        )
        async with self.database.engine.connect() as conn:
            # A read first: most sweeps find nothing, and a write transaction would contend with the API.
            if (await conn.execute(select(col(ExchangeRecord.id)).where(*overdue).limit(1))).first() is None:
                return 0
        async with self.database.engine.begin() as conn:
            expired = (
                await conn.execute(
                    update(ExchangeRecord)
                    .where(*overdue)
                    .values(
                        outcome=Outcome.FAULT.value,
                        fault_code="server.timeout",
                        fault_message="the provider did not answer in time",
                        response_out_at=now,
                    )
                    .returning(
                        col(ExchangeRecord.id),
                        col(ExchangeRecord.client),
                        col(ExchangeRecord.provider),
                        col(ExchangeRecord.service),
                        col(ExchangeRecord.reply_to),
                    )
                )
            ).all()
        out: Outgoing = []
        for exchange_id, client, provider, service, reply_to in expired:
            fault = Fault(code="server.timeout", message="the provider did not answer in time")
            result = ServiceResult(
                exchange_id=exchange_id, system=client, provider=provider, service=service, fault=fault
            )
            out.append((reply_to or self.topics.inbox(client), encode(result), client))
            EXCHANGES.labels("server.timeout").inc()
        await self.bus.send_all(out)
        return len(expired)

    async def _sweep_forever(self) -> None:
        while True:
            try:
                await self.sweep_timeouts()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("timeout sweep failed: %s", exc)
            await asyncio.sleep(0.2)
