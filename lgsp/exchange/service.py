"""The exchange router: requests -> provider inbox, responses -> client inbox, one record per exchange.

It holds the router component: its bus workers and timeout sweeper, the cached directory, and the acting
on a batch of admission decisions (one insert, one send). The decisions themselves are in
`lgsp.exchange.admission`; settling answers and timeouts, in `lgsp.exchange.settlement`.
"""

import asyncio
import logging
import time
from collections.abc import Sequence
from functools import partial
from typing import Any
from uuid import UUID

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from lgsp.background import Background, Component, Every
from lgsp.bus import Bus, Delivery, Rejection, Worker
from lgsp.db import Database
from lgsp.exchange.admission import (
    Admission,
    Decision,
    Forward,
    Limits,
    Outgoing,
    Refuse,
    admission_message,
    decide_batch,
    exchange_record,
)
from lgsp.exchange.directory import Directory, load_directory
from lgsp.exchange.evidence import evidence_of
from lgsp.exchange.models import ExchangeRecord, Outcome, outcome_label
from lgsp.exchange.ratelimit import RateLimiter
from lgsp.exchange.settlement import Answer, Settlement
from lgsp.security import PlatformKeys
from lgsp.settings import Settings
from monitoring.metrics import EXCHANGES
from schemas.common import utcnow
from schemas.messages import (
    NGSP_RESULTS,
    REQUESTS,
    RESPONSES,
    Fault,
    NgspServiceResult,
    ServiceRequest,
    ServiceResponse,
)

log = logging.getLogger(__name__)


#: How often overdue exchanges are answered server.timeout (seconds).
SWEEP_INTERVAL = 0.2
#: The cached directory may predate a hello, a grant or a service: what it refuses (a request, a
#: response's session) is checked once more on a directory at most this old (seconds).
RECHECK_AGE = 0.2


#: The stable codes a provider may answer with as they are: what is behind it (its database, the API it
#: fronts) is unreachable, that upstream refused the request, or it holds no such record. Any other code
#: would let a provider speak for the hub (`server.timeout`, `client.access_denied`), so it becomes
#: server.provider_error.
PROVIDER_FAULT_CODES = frozenset({"server.provider_unreachable", "client.bad_request", "client.not_found"})


class ExchangeRouter(Component):
    """Authenticates, authorises, validates, forwards and records every exchange.

    Records are written before anything is forwarded, one insert per batch, and keyed by exchange id,
    so a redelivered request never makes a second record. A response settles its record only while the
    record is pending (an atomic conditional update), so a response and a timeout cannot both win.
    Each client system's requests are limited to a rate (`RateLimiter`, in memory: no database round trip).
    """

    def __init__(self, settings: Settings, database: Database, bus: Bus, keys: PlatformKeys) -> None:
        self.settings = settings
        self.database = database
        self.bus = bus
        self.topics = bus.topics
        self.keys = keys
        self._directory: Directory | None = None
        self._loaded_at = 0.0
        self.limiter = RateLimiter(settings.exchange_rate_per_client, settings.exchange_burst_per_client)
        self.settlement = Settlement(database, bus)
        group = f"{self.topics.prefix}.hub"
        self.requests: Worker[ServiceRequest] = Worker(
            bus,
            "requests",
            self.topics.requests,
            REQUESTS,
            self.on_requests,
            group=f"{group}.requests",
            # Requests over the size limit: admission answers them client.bad_request, with a record.
            oversized=self.on_requests,
        )
        self.responses: Worker[ServiceResponse] = Worker(
            bus, "responses", self.topics.responses, RESPONSES, self.on_responses, group=f"{group}.responses"
        )
        self.ngsp_results: Worker[NgspServiceResult] = Worker(
            bus,
            "ngsp-results",
            self.topics.ngsp_results,
            NGSP_RESULTS,
            self.on_ngsp_results,
            group=f"{group}.ngsp-results",
        )

    def background(self) -> list[Background]:
        """The router's workers and its timeout sweeper."""
        return [
            self.requests,
            self.responses,
            self.ngsp_results,
            Every("exchange-timeouts", SWEEP_INTERVAL, self.settlement.sweep_timeouts),
        ]

    async def directory(self, *, max_age: float = 1.0) -> Directory:
        """The cached directory, reloaded when older than `max_age` seconds."""
        now = asyncio.get_running_loop().time()
        if self._directory is None or now - self._loaded_at > max_age:
            async with self.database.sessions() as session:
                self._directory = await load_directory(session)
            self._loaded_at = now
        return self._directory

    async def on_requests(self, deliveries: Sequence[Delivery[ServiceRequest]]) -> list[Rejection]:
        """Admit a batch of requests from the bus."""
        await self.admit(
            [Admission(d.message, d.received_at, d.size, evidence=evidence_of(d)) for d in deliveries]
        )
        return []

    async def admit(self, admissions: Sequence[Admission]) -> None:
        """Decide on every request, record them all, then forward the forwarded ones and answer the others.

        A request whose record exists already is a redelivery (a hub died before committing its offset)
        or a replay: it is forwarded again only while its record is pending, as the first forward may
        have died with the hub; a settled exchange was served already, and forwarding it again would make
        its provider serve it twice. Immediate answers (faults, metaservices) are simply sent again.
        """
        first: dict[UUID, Admission] = {}
        for admission in admissions:  # the same request twice in one batch: once is enough
            first.setdefault(admission.request.message_id, admission)
        batch = list(first.values())
        decisions = await decide_batch(
            batch,
            await self.directory(),
            partial(self.directory, max_age=RECHECK_AGE),
            Limits(self.bus.max_message_bytes, self.limiter),
            time.monotonic,
        )
        await self._act(batch, decisions)

    async def _act(self, admissions: Sequence[Admission], decisions: Sequence[Decision]) -> None:
        """Record a batch of decisions in one insert, then send what they make in one batch."""
        rows: list[dict[str, Any]] = []
        out: list[Outgoing] = []
        forwards: dict[int, str] = {}  # position in `out` -> exchange id, for the forwarded requests
        for admission, decision in zip(admissions, decisions, strict=True):
            request = admission.request
            subject = self.keys.subject_hash(request.subject) if request.subject else None
            rows.append(exchange_record(admission, decision, utcnow(), subject))
            if isinstance(decision, Forward):
                forwards[len(out)] = str(request.message_id)
            else:
                EXCHANGES.labels(
                    outcome_label(decision.fault.code if isinstance(decision, Refuse) else None)
                ).inc()
            out.append(
                admission_message(admission, decision, self.topics, self.settings.province, self.bus.signer)
            )
        inserted = await self._insert(rows)
        known = {i for i in forwards.values() if i not in inserted}
        settled = await self._settled(known) if known else set()
        await self.bus.send_all(item for n, item in enumerate(out) if forwards.get(n) not in settled)

    async def _insert(self, rows: list[dict[str, Any]]) -> set[str]:
        """Insert-or-ignore keyed by exchange id (a redelivered batch adds nothing); returns the ids of
        the records this call inserted."""
        insert = postgresql.insert if self.database.dialect == "postgresql" else sqlite.insert
        if not rows:
            return set()
        first = rows[0].keys()
        if any(row.keys() != first for row in rows):  # a fault or a metaservice answer sets more columns
            columns = sorted({c for row in rows for c in row})
            rows = [{c: row.get(c) for c in columns} for row in rows]
        statement = (
            insert(ExchangeRecord)
            .on_conflict_do_nothing(index_elements=["id"])
            .returning(col(ExchangeRecord.id))
        )
        async with self.database.engine.begin() as conn:
            return {row.id for row in await conn.execute(statement, rows)}

    async def _settled(self, ids: set[str]) -> set[str]:
        """Which of these exchanges are no longer pending."""
        async with self.database.engine.connect() as conn:
            rows = await conn.execute(
                select(col(ExchangeRecord.id)).where(
                    col(ExchangeRecord.id).in_(ids), col(ExchangeRecord.outcome) != Outcome.PENDING.value
                )
            )
            return set(rows.scalars())

    async def on_responses(self, deliveries: Sequence[Delivery[ServiceResponse]]) -> list[Rejection]:
        """Settle pending records with the providers' answers and pass the answers on to the clients.

        Each answer is signed by its provider (checked by the worker), so any session of the provider may
        answer: one restarted meanwhile still settles what it was asked before."""
        answers: list[Answer] = []
        for delivery in deliveries:
            response = delivery.message
            fault = response.fault
            if fault is not None and fault.code not in PROVIDER_FAULT_CODES:
                # Any other code of the provider's own is kept in the message under one stable code.
                fault = Fault(code="server.provider_error", message=f"{fault.code}: {fault.message}"[:1000])
            answers.append(Answer(response.exchange_id, response.provider, delivery, response.payload, fault))
        await self.settlement.settle(answers)
        return []

    async def on_ngsp_results(self, deliveries: Sequence[Delivery[NgspServiceResult]]) -> list[Rejection]:
        """Settle the exchanges that went through the NGSP with its (signed) answers."""
        await self.settlement.settle(
            [
                Answer(d.message.exchange_id, d.message.provider, d, d.message.payload, d.message.fault)
                for d in deliveries
            ],
            national=True,
        )
        return []
