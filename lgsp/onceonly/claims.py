"""What an office claims in a dossier report, held against what the hub itself saw.

A one-stop shop reports its own dossiers, and two of their claims would bend the once-only measures if
taken on trust (docs/architecture/definitions.md):

- **Reuse.** A document claimed `reused` counts as reuse only when a successful `evidence.get` exchange
  is on record from that office, about that applicant (its keyed hash), to the holder of that document
  type in the catalogue, made from the day before the dossier was received (the office's calendar may run
  ahead of UTC) up to the moment the hub records the dossier. Each exchange backs one document, once:
  the ledger keeps which (`dossier_component.evidence`). A claim without one is an **unverified reuse**,
  counted neither as reuse nor as re-submission and shown in the once-only report. The exchange record
  does not keep the document type, only the holder: one lookup at a holder backs one document of any
  type that holder holds; nor does it keep the answer, so a lookup answered "not held" backs a claim too.
- **The day received.** `received_on` is kept within [the hub's day less `RECEIVED_WITHIN_DAYS`, the
  report's day plus a day], the report's day being when it was sent or, if earlier, when the hub
  recorded it (its sending time is the office's word, so it only ever lowers the bound). A day outside
  is moved to the nearest bound and the office's day kept beside it (`claimed_received_on`).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select, text
from sqlmodel import col

from lgsp.exchange.models import ExchangeRecord, Outcome
from lgsp.onceonly.models import EVIDENCE_ONLY, DossierComponentRecord
from lgsp.security import SubjectIndex
from schemas.messages import DossierReport

#: How far back from the hub's own day a dossier may have been received: procedures take weeks, and
#: the hub may catch up on days of reports after an outage; a quarter is generous for both.
RECEIVED_WITHIN_DAYS = 90
#: The office's calendar (Vietnam's, UTC+7) may be a day ahead of the hub's UTC one.
CALENDAR_SLACK = timedelta(days=1)

#: (office, holder, keyed hash of the subject): whose lookups back whose claims.
Claim = tuple[str, str, str]


def received_day(report: DossierReport, now: datetime) -> tuple[date, date | None]:
    """The day a dossier counts as received, bounded by the report's time (`now`: when the hub records
    it), and the office's own day when it had to be moved (else None)."""
    latest = (min(report.sent_at, now) + CALENDAR_SLACK).date()
    earliest = (now - timedelta(days=RECEIVED_WITHIN_DAYS)).date()
    day = max(min(report.received_on, latest), earliest)  # the hub's own bound wins over the office's
    return day, None if day == report.received_on else report.received_on


def lookups_from(day: date) -> datetime:
    """The earliest an evidence lookup backing a dossier received on `day` may have been made."""
    return datetime.combine(day, time(), UTC) - CALENDAR_SLACK


@dataclass(slots=True)
class Lookup:
    """A successful evidence lookup not yet backing any document."""

    exchange_id: str
    at: datetime


class Evidence:
    """The unused successful lookups behind a batch's claims, handed out one per claimed document."""

    def __init__(self, lookups: dict[Claim, list[Lookup]]) -> None:
        self._lookups = lookups

    @classmethod
    async def load(
        cls, conn: Any, claims: Iterable[Claim], since: datetime, until: datetime, index: SubjectIndex
    ) -> "Evidence":
        """The lookups that could back `claims`, made in [since, until] and backing nothing yet; `index`
        has the subjects' hashes under every key, claims their current ones."""
        wanted = set(claims)
        if not wanted:
            return cls({})
        record = ExchangeRecord
        rows = list(
            await conn.execute(
                select(
                    col(record.id),
                    col(record.client),
                    col(record.provider),
                    col(record.subject_hash),
                    col(record.request_in_at),
                )
                # Word for word the condition of the partial index on evidence lookups by subject.
                .where(text(EVIDENCE_ONLY))
                .where(
                    col(record.subject_hash).in_(index.stored()),
                    col(record.client).in_({office for office, _, _ in wanted}),
                    col(record.outcome) == Outcome.SUCCESS.value,
                    col(record.request_in_at) >= since,
                    col(record.request_in_at) <= until,
                )
                .order_by(col(record.request_in_at), col(record.id))
            )
        )
        used: set[str] = set()
        if rows:
            backing = col(DossierComponentRecord.evidence)
            used = set(
                (await conn.execute(select(backing).where(backing.in_([r[0] for r in rows])))).scalars()
            )
        lookups: dict[Claim, list[Lookup]] = {}
        for exchange_id, office, holder, stored, at in rows:
            subject = index.canonical(stored)
            if exchange_id not in used and (office, holder, subject) in wanted:
                lookups.setdefault((office, holder, subject), []).append(Lookup(exchange_id, at))
        return cls(lookups)

    def take(self, claim: Claim, since: datetime) -> str | None:
        """The id of the oldest unused lookup backing `claim` made since `since`, now used; or None."""
        for n, lookup in enumerate(found := self._lookups.get(claim, [])):
            if lookup.at >= since:
                return found.pop(n).exchange_id
        return None
