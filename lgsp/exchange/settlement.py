"""Settlement: the providers' and the NGSP's answers settle the pending exchange records they are for,
and overdue records are settled `server.timeout`; each settled record's result then goes to its client.

Only a pending record of the answering provider settles (an atomic conditional update), so a late answer
after a timeout, a redelivered one or one from another provider changes nothing, and a response and a
timeout cannot both win. RETURNING rows are read by column name.
"""

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Row, bindparam, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlmodel import col

from lgsp.bus import Bus, Delivery
from lgsp.db import Database
from lgsp.exchange.admission import ExchangeId, Outgoing, result_message
from lgsp.exchange.evidence import evidence_of
from lgsp.exchange.models import ExchangeRecord, Outcome, outcome_label
from monitoring.metrics import EXCHANGE_DURATION, EXCHANGES
from schemas.common import utcnow
from schemas.messages import Fault

#: What a settled record's result needs, as its UPDATE ... RETURNING gives it.
Settled = Row[str, str, str, datetime, str | None, bool]
#: What a timed-out record's result needs.
Expired = Row[str, str, str, str, str | None, bool]


@dataclass(frozen=True, slots=True)
class Answer:
    """A provider's (or the NGSP's) answer to a forwarded request."""

    exchange_id: UUID
    provider: str
    delivery: Delivery[Any]
    payload: dict[str, Any] | None
    fault: Fault | None


class Settlement:
    """Settles exchange records and sends their results, on the router's database and bus."""

    def __init__(self, database: Database, bus: Bus) -> None:
        self.database = database
        self.bus = bus
        self.topics = bus.topics
        self._unsent_timeouts: list[Outgoing] = []  # server.timeout results committed, not yet on the bus

    def _result(
        self, answer: Answer, client: str, service: str, reply_to: str | None, crossed_ngsp: bool
    ) -> Outgoing:
        """The result an answer makes for its client, addressed where the client waits."""
        exchange = ExchangeId(answer.exchange_id, client, answer.provider, service, reply_to)
        return result_message(
            exchange,
            self.topics,
            self.bus.signer,
            payload=answer.payload,
            fault=answer.fault,
            crossed_ngsp=crossed_ngsp,
        )

    async def settle(self, answers: Sequence[Answer], *, national: bool = False) -> None:
        """Settle the pending records these answers are for, then send their results.

        `national` answers (the NGSP's) settle only records that went through the NGSP, and provincial
        ones only records that did not: the NGSP cannot answer a provincial exchange, nor a provincial
        system one that crossed the NGSP."""
        # Only a pending record of this provider settles (an atomic conditional update), so a late answer
        # after a timeout, a redelivered one or one from another provider changes nothing. One UPDATE ...
        # RETURNING settles a whole group of answers (same arrival and outcome); answers repeating an
        # exchange id go to a later round, so as with one update per answer, the first that matches wins.
        # The results go out once the settlement has committed, so a client that hears back finds its
        # record settled. An answer redelivered because the send failed (or the hub died before it) finds
        # its record settled already: if the record agrees with it, its result is sent again (a client
        # may see a result twice, never none).
        out: list[Outgoing] = []
        observed: list[tuple[str, timedelta]] = []
        answered: set[str] = set()
        now = utcnow()
        async with self.database.engine.begin() as conn:
            for round_ in _rounds(answers):
                settled: dict[str, Settled] = {}
                for (received_at, fault), group in _groups(round_).items():
                    for start in range(0, len(group), SETTLE_CHUNK):
                        chunk = group[start : start + SETTLE_CHUNK]
                        settled |= await self._settle_group(conn, chunk, received_at, fault, now, national)
                responses = [
                    {
                        "settled_id": key,
                        "settled_size": answer.delivery.size,
                        "settled_evidence": evidence_of(answer.delivery),
                    }
                    for answer in round_
                    if (key := str(answer.exchange_id)) in settled
                ]
                if responses:
                    await conn.execute(_SET_RESPONSE, responses)
                for answer in round_:
                    row = settled.get(str(answer.exchange_id))
                    if row is None:
                        continue
                    out.append(self._result(answer, row.client, row.service, row.reply_to, row.crossed_ngsp))
                    # An NGSP answer's fault code is the NGSP's: bounded to the stable codes and "other".
                    observed.append(
                        (outcome_label(answer.fault.code if answer.fault else None), now - row.request_in_at)
                    )
                answered |= settled.keys()
        for label, took in observed:
            EXCHANGES.labels(label).inc()
            EXCHANGE_DURATION.observe(took.total_seconds())
        again = [a for a in answers if str(a.exchange_id) not in answered]
        await self.bus.send_all(out + (await self._results_again(again, national) if again else []))

    async def _results_again(self, answers: Sequence[Answer], national: bool) -> list[Outgoing]:
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
        out: list[Outgoing] = []
        sent: set[str] = set()
        for answer in answers:
            key = str(answer.exchange_id)
            record = records.get(key)
            if record is None or key in sent or record.provider != answer.provider:
                continue
            if record.crossed_ngsp != national:
                continue
            outcome = (Outcome.FAULT if answer.fault else Outcome.SUCCESS).value
            if (record.outcome, record.fault_code) != (outcome, answer.fault.code if answer.fault else None):
                continue
            sent.add(key)
            out.append(
                self._result(answer, record.client, record.service, record.reply_to, record.crossed_ngsp)
            )
        return out

    async def _settle_group(
        self,
        conn: AsyncConnection,
        answers: Sequence[Answer],
        received_at: datetime,
        fault: Fault | None,
        now: datetime,
        national: bool,
    ) -> dict[str, Settled]:
        """Settle the pending records these answers (distinct exchange ids) are for; returns what each
        settled record needs for its result, by exchange id."""
        settled = await conn.execute(
            update(ExchangeRecord)
            .where(
                tuple_(col(ExchangeRecord.id), col(ExchangeRecord.provider)).in_(
                    [(str(a.exchange_id), a.provider) for a in answers]
                ),
                col(ExchangeRecord.outcome) == Outcome.PENDING.value,
                col(ExchangeRecord.crossed_ngsp) == national,
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
        return {row.id: row for row in settled}

    async def sweep_timeouts(self) -> int:
        """Answer `server.timeout` for every pending exchange past its deadline; returns how many."""
        expired = await self._expire_overdue()
        if not expired and not self._unsent_timeouts:
            return 0
        fault = Fault(code="server.timeout", message="the provider did not answer in time")
        for row in expired:
            exchange = ExchangeId(UUID(row.id), row.client, row.provider, row.service, row.reply_to)
            self._unsent_timeouts.append(
                result_message(
                    exchange, self.topics, self.bus.signer, fault=fault, crossed_ngsp=row.crossed_ngsp
                )
            )
        EXCHANGES.labels(outcome_label(fault.code)).inc(len(expired))
        # Sent once committed, as in `_settle`; no answer will come to send them again, so results the bus
        # refused wait for the next sweep.
        await self.bus.send_all(self._unsent_timeouts)
        self._unsent_timeouts = []
        return len(expired)

    async def _expire_overdue(self) -> Sequence[Expired]:
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
_SET_RESPONSE = (
    update(ExchangeRecord)
    .where(col(ExchangeRecord.id) == bindparam("settled_id"))
    .values(response_size=bindparam("settled_size"), response_evidence=bindparam("settled_evidence"))
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
