"""The exchange router: requests -> provider inbox, responses -> client inbox, one record per exchange."""

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Row, bindparam, select, tuple_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from lgsp.background import Background, Component, Every
from lgsp.bus import Bus, Delivery, Rejection, Worker
from lgsp.db import Database
from lgsp.exchange.directory import Directory, load_directory
from lgsp.exchange.models import ExchangeRecord, Outcome, outcome_label
from lgsp.exchange.ratelimit import RateLimiter
from lgsp.security import subject_hash
from lgsp.settings import Settings
from monitoring.metrics import EXCHANGE_DURATION, EXCHANGES
from schemas.common import HUB, split_address, utcnow
from schemas.messages import (
    NGSP_RESULTS,
    REQUESTS,
    RESPONSES,
    Fault,
    NgspServiceCall,
    NgspServiceResult,
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


@dataclass(frozen=True, slots=True)
class ExchangeId:
    """Who an exchange is between, and where its result goes."""

    id: UUID
    client: str
    provider: str
    service: str
    reply_to: str | None


@dataclass(frozen=True, slots=True)
class Answer:
    """A provider's (or the NGSP's) answer to a forwarded request."""

    exchange_id: UUID
    provider: str
    delivery: Delivery[Any]
    payload: dict[str, Any] | None
    fault: Fault | None


#: How often overdue exchanges are answered server.timeout (seconds).
SWEEP_INTERVAL = 0.2


class ExchangeRouter(Component):
    """Authenticates, authorises, validates, forwards and records every exchange.

    Records are written before anything is forwarded, one insert per batch, and keyed by exchange id,
    so a redelivered request never makes a second record. A response settles its record only while the
    record is pending (an atomic conditional update), so a response and a timeout cannot both win.
    Each client system's requests are limited to a rate (`RateLimiter`, in memory: no database round trip).
    """

    def __init__(self, settings: Settings, database: Database, bus: Bus, key: bytes) -> None:
        self.settings = settings
        self.database = database
        self.bus = bus
        self.topics = bus.topics
        self.key = key
        self._directory: Directory | None = None
        self._loaded_at = 0.0
        self.limiter = RateLimiter(settings.exchange_rate_per_client, settings.exchange_burst_per_client)
        self._unsent_timeouts: Outgoing = []  # server.timeout results committed but not yet on the bus
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
            Every("exchange-timeouts", SWEEP_INTERVAL, self.sweep_timeouts),
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
        """The first reason a request may not go through, or None.

        Its size first (the bus could not carry it on), then the directory (session, grant, schema,
        provider connected), then its client's rate: every request of a client whose session holds counts
        against that client's rate, whatever its answer, and one over the rate goes no further.
        """
        request, authenticated = admission.request, admission.authenticated
        limit = self.bus.max_message_bytes
        if admission.size > limit:
            return Fault(
                code="client.bad_request",
                message=f"the request is {admission.size} bytes, over the hub's limit of {limit} bytes",
            )
        fault = (await self.directory()).check(request, authenticated=authenticated)
        if fault is not None:  # maybe the cache predates a grant or a hello: ask the database once
            fault = (await self.directory(max_age=0.2)).check(request, authenticated=authenticated)
        if fault is not None and fault.code == "client.unauthenticated":
            return fault  # a forged request must not spend the allowance of the client it names
        if not self.limiter.allow(request.client, time.monotonic()):
            limiter = self.limiter
            return Fault(
                code="client.rate_limited",
                message=f"{request.client} is over its rate of {limiter.rate:g} requests/s"
                f" (bursts of {limiter.burst}) at this hub; slow down",
            )
        return fault

    async def on_requests(self, deliveries: Sequence[Delivery[ServiceRequest]]) -> list[Rejection]:
        """Admit a batch of requests from the bus."""
        await self.admit([Admission(d.message, d.received_at, d.size) for d in deliveries])
        return []

    async def admit(self, admissions: Sequence[Admission]) -> None:
        """Record every request, then forward the authorised ones and answer the others.

        A request whose record exists already is a redelivery (a hub died before committing its offset)
        or a replay: it is forwarded again only while its record is pending, as the first forward may
        have died with the hub; a settled exchange was served already, and forwarding it again would make
        its provider serve it twice. Immediate answers (faults, metaservices) are simply sent again.
        """
        rows: list[dict[str, Any]] = []
        out: Outgoing = []
        forwards: dict[int, str] = {}  # position in `out` -> exchange id, for the forwarded requests
        batch: set[UUID] = set()
        for admission in admissions:
            request = admission.request
            if request.message_id in batch:
                continue  # the same request twice in one batch: once is enough
            batch.add(request.message_id)
            fault = await self._check(admission)
            now = utcnow()
            remote = split_address(request.provider)[0] is not None
            row: dict[str, Any] = {
                "id": str(request.message_id),
                "client": request.client,
                "provider": request.provider,
                "service": request.service,
                "subject_hash": subject_hash(self.key, request.subject) if request.subject else None,
                "request_in_at": admission.received_at,
                "request_size": admission.size,
                "deadline": admission.received_at + timedelta(milliseconds=request.timeout_ms),
                "reply_to": admission.reply_to,
                "outcome": Outcome.PENDING.value,
                "crossed_ngsp": remote,
            }
            if fault is not None:
                row |= {
                    "outcome": Outcome.FAULT.value,
                    "fault_code": fault.code,
                    "fault_message": fault.message,
                    "response_out_at": now,
                }
                out.append(self._result(request, admission.reply_to, fault=fault))
                EXCHANGES.labels(outcome_label(fault.code)).inc()
            elif request.provider == HUB:
                answer = (await self.directory()).metaservice(request)
                row |= {
                    "outcome": Outcome.SUCCESS.value,
                    "request_out_at": now,
                    "response_in_at": now,
                    "response_out_at": now,
                }
                out.append(self._result(request, admission.reply_to, payload=answer))
                EXCHANGES.labels(outcome_label(None)).inc()
            elif remote:
                national = NgspServiceCall(
                    exchange_id=request.message_id,
                    province=self.settings.province,
                    client=request.client,
                    provider=request.provider,
                    service=request.service,
                    payload=request.payload,
                    deadline=row["deadline"],
                )
                row["request_out_at"] = now
                forwards[len(out)] = row["id"]
                out.append((self.topics.ngsp_requests, encode(national), request.client))
            else:
                call = ServiceCall(
                    exchange_id=request.message_id,
                    system=request.provider,
                    client=request.client,
                    service=request.service,
                    payload=request.payload,
                    deadline=row["deadline"],
                )
                row["request_out_at"] = now
                forwards[len(out)] = row["id"]
                out.append((self.topics.inbox(request.provider), encode(call), request.client))
            rows.append(row)
        inserted = await self._insert(rows)
        known = {i for i in forwards.values() if i not in inserted}
        settled = await self._settled(known) if known else set()
        await self.bus.send_all(item for n, item in enumerate(out) if forwards.get(n) not in settled)

    def _result(
        self,
        request: ServiceRequest,
        reply_to: str | None,
        *,
        payload: dict[str, Any] | None = None,
        fault: Fault | None = None,
    ) -> tuple[str, bytes, str | None]:
        """An immediate answer to a request that goes no further than the hub."""
        return self._deliver(
            ExchangeId(request.message_id, request.client, request.provider, request.service, reply_to),
            payload=payload,
            fault=fault,
        )

    def _deliver(
        self,
        exchange: "ExchangeId",
        *,
        payload: dict[str, Any] | None = None,
        fault: Fault | None = None,
        crossed_ngsp: bool = False,
    ) -> tuple[str, bytes, str | None]:
        """The result of an exchange, addressed to where its client waits for it."""
        result = ServiceResult(
            exchange_id=exchange.id,
            system=exchange.client,
            provider=exchange.provider,
            service=exchange.service,
            payload=payload,
            fault=fault,
            crossed_ngsp=crossed_ngsp,
        )
        destination = exchange.reply_to or self.topics.inbox(exchange.client)
        return destination, encode(result), exchange.client

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
            return set((await conn.execute(statement, rows)).scalars())

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
        """Settle pending records with the providers' answers and pass the answers on to the clients."""
        directory = await self.directory()
        rejections: list[Rejection] = []
        answers: list[Answer] = []
        for delivery in deliveries:
            response = delivery.message
            if directory.session_of(response.provider) != response.session_id:
                directory = await self.directory(max_age=0.2)
                if directory.session_of(response.provider) != response.session_id:
                    rejections.append(Rejection(delivery, "unknown_session", "response outside a session"))
                    continue
            fault = response.fault
            if fault is not None:  # the provider's own code, kept in the message under one stable code
                fault = Fault(code="server.provider_error", message=f"{fault.code}: {fault.message}"[:1000])
            answers.append(Answer(response.exchange_id, response.provider, delivery, response.payload, fault))
        await self._settle(answers)
        return rejections

    async def on_ngsp_results(self, deliveries: Sequence[Delivery[NgspServiceResult]]) -> list[Rejection]:
        """Settle the exchanges that went through the NGSP with its answers."""
        await self._settle(
            [
                Answer(d.message.exchange_id, d.message.provider, d, d.message.payload, d.message.fault)
                for d in deliveries
            ]
        )
        return []

    async def _settle(self, answers: Sequence["Answer"]) -> None:
        # Only a pending record of this provider settles (an atomic conditional update), so a late answer
        # after a timeout, a redelivered one or one from another provider changes nothing. One UPDATE ...
        # RETURNING settles a whole group of answers (same arrival and outcome); answers repeating an
        # exchange id go to a later round, so as with one update per answer, the first that matches wins.
        # The results go out once the settlement has committed, so a client that hears back finds its
        # record settled. An answer redelivered because the send failed (or the hub died before it) finds
        # its record settled already: if the record agrees with it, its result is sent again (a client
        # may see a result twice, never none).
        out: Outgoing = []
        observed: list[tuple[str, timedelta]] = []
        answered: set[str] = set()
        async with self.database.engine.begin() as conn:
            for round_ in _rounds(answers):
                settled: dict[str, Any] = {}
                for (received_at, fault), group in _groups(round_).items():
                    for start in range(0, len(group), SETTLE_CHUNK):
                        chunk = group[start : start + SETTLE_CHUNK]
                        settled |= await self._settle_group(conn, chunk, received_at, fault)
                sizes = [
                    {"settled_id": key, "settled_size": answer.delivery.size}
                    for answer in round_
                    if (key := str(answer.exchange_id)) in settled
                ]
                if sizes:
                    await conn.execute(_SET_RESPONSE_SIZE, sizes)
                for answer in round_:
                    row = settled.get(str(answer.exchange_id))
                    if row is None:
                        continue
                    client, service, request_in_at, reply_to, crossed_ngsp, out_at = row
                    exchange = ExchangeId(answer.exchange_id, client, answer.provider, service, reply_to)
                    out.append(
                        self._deliver(
                            exchange, payload=answer.payload, fault=answer.fault, crossed_ngsp=crossed_ngsp
                        )
                    )
                    # An NGSP answer's fault code is the NGSP's: bounded to the stable codes and "other".
                    observed.append(
                        (outcome_label(answer.fault.code if answer.fault else None), out_at - request_in_at)
                    )
                answered |= settled.keys()
        for label, took in observed:
            EXCHANGES.labels(label).inc()
            EXCHANGE_DURATION.observe(took.total_seconds())
        again = [a for a in answers if str(a.exchange_id) not in answered]
        await self.bus.send_all(out + (await self._results_again(again) if again else []))

    async def _results_again(self, answers: Sequence["Answer"]) -> Outgoing:
        """The results of answers whose records were settled before, by these very answers (same
        provider and outcome): what a redelivered answer must send again. Anything else, such as a late
        answer after a timeout, sends nothing."""
        async with self.database.engine.connect() as conn:
            rows = await conn.execute(
                select(
                    col(ExchangeRecord.id),
                    col(ExchangeRecord.provider),
                    col(ExchangeRecord.client),
                    col(ExchangeRecord.service),
                    col(ExchangeRecord.reply_to),
                    col(ExchangeRecord.crossed_ngsp),
                    col(ExchangeRecord.outcome),
                    col(ExchangeRecord.fault_code),
                ).where(
                    col(ExchangeRecord.id).in_({str(a.exchange_id) for a in answers}),
                    col(ExchangeRecord.outcome) != Outcome.PENDING.value,
                )
            )
            records = {row.id: row for row in rows}
        out: Outgoing = []
        sent: set[str] = set()
        for answer in answers:
            key = str(answer.exchange_id)
            record = records.get(key)
            if record is None or key in sent or record.provider != answer.provider:
                continue
            outcome = (Outcome.FAULT if answer.fault else Outcome.SUCCESS).value
            if (record.outcome, record.fault_code) != (outcome, answer.fault.code if answer.fault else None):
                continue
            sent.add(key)
            exchange = ExchangeId(
                answer.exchange_id, record.client, record.provider, record.service, record.reply_to
            )
            out.append(
                self._deliver(
                    exchange, payload=answer.payload, fault=answer.fault, crossed_ngsp=record.crossed_ngsp
                )
            )
        return out

    async def _settle_group(
        self, conn: AsyncConnection, answers: Sequence["Answer"], received_at: datetime, fault: Fault | None
    ) -> dict[str, Any]:
        """Settle the pending records these answers (distinct exchange ids) are for; returns what each
        settled record needs for its result, by exchange id."""
        now = utcnow()
        settled = await conn.execute(
            update(ExchangeRecord)
            .where(
                tuple_(col(ExchangeRecord.id), col(ExchangeRecord.provider)).in_(
                    [(str(a.exchange_id), a.provider) for a in answers]
                ),
                col(ExchangeRecord.outcome) == Outcome.PENDING.value,
            )
            .values(
                response_in_at=received_at,
                response_out_at=now,
                outcome=(Outcome.FAULT if fault else Outcome.SUCCESS).value,
                fault_code=fault.code if fault else None,
                fault_message=fault.message if fault else None,
            )
            .returning(
                col(ExchangeRecord.id),
                col(ExchangeRecord.client),
                col(ExchangeRecord.service),
                col(ExchangeRecord.request_in_at),
                col(ExchangeRecord.reply_to),
                col(ExchangeRecord.crossed_ngsp),
            )
        )
        return {exchange_id: (*rest, now) for exchange_id, *rest in settled}

    async def sweep_timeouts(self) -> int:
        """Answer `server.timeout` for every pending exchange past its deadline; returns how many."""
        expired = await self._expire_overdue()
        if not expired and not self._unsent_timeouts:
            return 0
        fault = Fault(code="server.timeout", message="the provider did not answer in time")
        for exchange_id, client, provider, service, reply_to, crossed_ngsp in expired:
            exchange = ExchangeId(UUID(exchange_id), client, provider, service, reply_to)
            self._unsent_timeouts.append(self._deliver(exchange, fault=fault, crossed_ngsp=crossed_ngsp))
        EXCHANGES.labels(outcome_label(fault.code)).inc(len(expired))
        # Sent once committed, as in `_settle`; no answer will come to send them again, so results the bus
        # refused wait for the next sweep.
        await self.bus.send_all(self._unsent_timeouts)
        self._unsent_timeouts = []
        return len(expired)

    async def _expire_overdue(self) -> Sequence[Row[str, str, str, str, str | None, bool]]:
        """Settle every pending exchange past its deadline as `server.timeout`, committed; returns what
        each one's result needs."""
        now = utcnow()
        overdue = (
            col(ExchangeRecord.outcome) == Outcome.PENDING.value,
            col(ExchangeRecord.deadline) < now,
        )
        async with self.database.engine.connect() as conn:
            # A read first: most sweeps find nothing, and a write transaction would contend with the API.
            if (await conn.execute(select(col(ExchangeRecord.id)).where(*overdue).limit(1))).first() is None:
                return []
        async with self.database.engine.begin() as conn:
            return (
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
                        col(ExchangeRecord.crossed_ngsp),
                    )
                )
            ).all()


#: Answers settled by one statement at most (its parameters stay well below both databases' limits).
SETTLE_CHUNK = 1000
_SET_RESPONSE_SIZE = (
    update(ExchangeRecord)
    .where(col(ExchangeRecord.id) == bindparam("settled_id"))
    .values(response_size=bindparam("settled_size"))
)


def _rounds(answers: Sequence[Answer]) -> list[list[Answer]]:
    """The answers in arrival order, split so that no round holds an exchange id twice: the nth answer
    for an exchange goes to round n (almost always there is one round)."""
    rounds: list[list[Answer]] = []
    seen: Counter[UUID] = Counter()
    for answer in answers:
        n = seen[answer.exchange_id]
        seen[answer.exchange_id] += 1
        if n == len(rounds):
            rounds.append([])
        rounds[n].append(answer)
    return rounds


def _groups(answers: Sequence[Answer]) -> dict[tuple[datetime, Fault | None], list[Answer]]:
    """Answers that settle with the same values (arrival time and outcome), together."""
    groups: dict[tuple[datetime, Fault | None], list[Answer]] = {}
    for answer in answers:
        groups.setdefault((answer.delivery.received_at, answer.fault), []).append(answer)
    return groups
