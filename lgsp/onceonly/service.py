"""The once-only ledger: classify each dossier's documents, store the dossier, accept its documents.

A one-stop shop reports every completed dossier on the dossiers topic. For each document the applicant
had to submit, the ledger asks whether it already accepted the same document (type, subject, content
hash) in an earlier dossier, still valid on the day this one was received: then it is a re-submission,
and its cause is what the evidence lookup said (the holder was unreachable, or did not find it).
Everything a completed dossier took in or issued becomes an accepted document. What the office claims
is checked first (`lgsp.onceonly.claims`): a reuse needs an evidence lookup on record, and the day the
dossier was received is bounded by the report's time.

A batch is classified in memory against one query of the ledger, in delivery order (the topic is keyed
by applicant, so one applicant's dossiers arrive in order), and written in one transaction keyed by
dossier id: a redelivered report adds nothing.
"""

import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import and_, case, func, select, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col

from lgsp.background import Background, Component, Every
from lgsp.bus import Bus, Delivery, Rejection, Worker
from lgsp.db import Database
from lgsp.exchange.directory import Directory
from lgsp.onceonly.claims import Claim, Evidence, lookups_from, received_day
from lgsp.onceonly.models import AcceptedDocument, ComponentOutcome, Dossier, DossierComponentRecord
from lgsp.security import PlatformKeys, SubjectIndex
from lgsp.settings import Settings
from monitoring.metrics import DOSSIER_COMPONENTS, DOSSIERS, ONCE_ONLY_RATIO
from schemas.common import utcnow
from schemas.messages import DOSSIERS as DOSSIER_CODEC
from schemas.messages import DossierReport
from schemas.onceonly import Catalogue, load_catalogue

log = logging.getLogger(__name__)
GAUGE_INTERVAL = 5.0  # seconds; the aggregate is one indexed query

#: (document type, subject hash, content hash)
DocumentKey = tuple[str, str, str]


@dataclass(frozen=True, slots=True)
class Validity:
    """When an accepted document counts as held."""

    accepted_on: date
    valid_until: date | None

    def covers(self, day: date) -> bool:
        """Accepted by `day` and still valid on it."""
        return self.accepted_on <= day and (self.valid_until is None or day <= self.valid_until)


@dataclass(frozen=True, slots=True)
class OnceOnlyCounts:
    """Numerators and denominators of the three once-only measures over a period."""

    dossiers: int
    dossiers_without_resubmission: int
    dossiers_with_reuse: int
    applicants: int
    applicants_with_resubmission: int


async def once_only_counts(conn: Any, start: date | None = None, end: date | None = None) -> OnceOnlyCounts:
    """The counts behind the measures for dossiers received in [start, end), in one aggregate query."""
    period = and_(
        true(),
        *([col(Dossier.received_on) >= start] if start else []),
        *([col(Dossier.received_on) < end] if end else []),
    )
    row = (
        await conn.execute(
            select(
                func.count(),
                func.count(case((col(Dossier.resubmissions) == 0, 1))),
                func.count(case((col(Dossier.reused) > 0, 1))),
                func.count(func.distinct(col(Dossier.applicant_hash))),
                func.count(
                    func.distinct(case((col(Dossier.resubmissions) > 0, col(Dossier.applicant_hash))))
                ),
            ).where(period)
        )
    ).one()
    return OnceOnlyCounts(*(int(v or 0) for v in row))


class Ledger(Component):
    """Consumes dossier reports and keeps the ledger of accepted documents."""

    def __init__(
        self,
        settings: Settings,
        database: Database,
        bus: Bus,
        keys: PlatformKeys,
        directory: Callable[..., Awaitable[Directory]],
        catalogue: Catalogue | None = None,
    ) -> None:
        self.database = database
        self.keys = keys
        self.catalogue = catalogue or load_catalogue()
        self._directory = directory
        self.worker: Worker[DossierReport] = Worker(
            bus,
            "dossiers",
            bus.topics.dossiers,
            DOSSIER_CODEC,
            self.on_reports,
            group=f"{bus.topics.prefix}.hub.dossiers",
        )

    def background(self) -> list[Background]:
        """The ledger's consumer and the refresh of the once-only gauges."""
        return [self.worker, Every("once-only-gauges", GAUGE_INTERVAL, self.refresh_gauges)]

    async def refresh_gauges(self) -> OnceOnlyCounts:
        """Set `lgsp_once_only_ratio{measure}` from every recorded dossier (NaN while there is none)."""
        async with self.database.engine.connect() as conn:
            counts = await once_only_counts(conn)
        clean = counts.applicants - counts.applicants_with_resubmission
        for measure, numerator, denominator in (
            ("by_dossier", counts.dossiers_without_resubmission, counts.dossiers),
            ("by_applicant", clean, counts.applicants),
            ("reuse", counts.dossiers_with_reuse, counts.dossiers),
        ):
            ONCE_ONLY_RATIO.labels(measure).set(numerator / denominator if denominator else math.nan)
        return counts

    def problem(self, report: DossierReport) -> str | None:
        """Why a report contradicts the catalogue, or None."""
        try:
            procedure = self.catalogue.procedure(report.procedure)
        except KeyError as exc:
            return str(exc.args[0])
        given = [c.document_type for c in report.components]
        if sorted(given) != sorted(procedure.requires):
            return f"{report.procedure} requires {sorted(procedure.requires)}, the report has {sorted(given)}"
        issued = {o.document_type for o in report.outputs}
        if not issued <= set(procedure.produces):
            return f"{report.procedure} does not issue {sorted(issued - set(procedure.produces))}"
        return None

    async def on_reports(self, deliveries: Sequence[Delivery[DossierReport]]) -> list[Rejection]:
        """Classify, store and accept a batch of dossiers."""
        directory = await self._directory()
        rejections: list[Rejection] = []
        accepted: list[Delivery[DossierReport]] = []
        for delivery in deliveries:
            report = delivery.message
            # Signed by its office (checked by the worker); the office must still be a live system.
            if report.office not in directory.members:
                directory = await self._directory(max_age=0.2)
                if report.office not in directory.members:
                    rejections.append(
                        Rejection(delivery, "unknown_system", f"no live system {report.office}")
                    )
                    continue
            problem = self.problem(report)
            if problem is not None:
                rejections.append(Rejection(delivery, "invalid", problem[:1000]))
                continue
            accepted.append(delivery)
        if accepted:
            await self._record([d.message for d in accepted])
        return rejections

    async def _record(self, reports: Sequence[DossierReport]) -> None:
        async with self.database.engine.begin() as conn:
            ids = [str(r.dossier_id) for r in reports]
            known = set(
                (await conn.execute(select(col(Dossier.id)).where(col(Dossier.id).in_(ids)))).scalars()
            )
            fresh: list[DossierReport] = []
            for report in reports:  # a dossier reported twice in one batch counts once
                if str(report.dossier_id) not in known:
                    known.add(str(report.dossier_id))
                    fresh.append(report)
            if not fresh:
                return
            # Every hash the batch's people may be stored under, so a rotated secret loses no match.
            index = self.keys.index(
                [r.applicant for r in fresh] + [o.subject for r in fresh for o in r.outputs]
            )
            ledger = await self._ledger(conn, index)
            now = utcnow()
            days = {r.dossier_id: received_day(r, now) for r in fresh}
            claims = [(r, c) for r in fresh for c in r.components if c.source == "reused"]
            evidence = await Evidence.load(
                conn,
                (self._claim(r, c.document_type, index) for r, c in claims),
                min((lookups_from(days[r.dossier_id][0]) for r, _ in claims), default=now),
                now,
                index,
            )
            dossiers, components, documents = self._classify(fresh, ledger, days, evidence, now, index)
            await conn.execute(Dossier.__table__.insert(), dossiers)  # type: ignore[attr-defined]
            await conn.execute(DossierComponentRecord.__table__.insert(), components)  # type: ignore[attr-defined]
            insert = postgresql.insert if self.database.dialect == "postgresql" else sqlite.insert
            statement = insert(AcceptedDocument).on_conflict_do_nothing(
                index_elements=["document_type", "subject_hash", "content_hash"]
            )
            await conn.execute(statement, documents)
        for row in dossiers:
            DOSSIERS.labels("resubmission" if row["resubmissions"] else "clean").inc()
        for row in components:
            DOSSIER_COMPONENTS.labels(row["outcome"]).inc()

    async def _ledger(self, conn: Any, index: SubjectIndex) -> dict[DocumentKey, Validity]:
        """The batch's people's accepted documents, keyed by their current hashes (the oldest
        acceptance first where a document was accepted again under a newer key)."""
        rows = await conn.execute(
            select(
                col(AcceptedDocument.document_type),
                col(AcceptedDocument.subject_hash),
                col(AcceptedDocument.content_hash),
                col(AcceptedDocument.accepted_on),
                col(AcceptedDocument.valid_until),
            )
            .where(col(AcceptedDocument.subject_hash).in_(index.stored()))
            .order_by(col(AcceptedDocument.accepted_on))
        )
        ledger: dict[DocumentKey, Validity] = {}
        for t, s, h, on, until in rows:
            ledger.setdefault((t, index.canonical(s), h), Validity(on, until))
        return ledger

    def _claim(self, report: DossierReport, document_type: str, index: SubjectIndex) -> Claim:
        """Whose lookup backs a document claimed reused: the office's, at the type's holder in the
        catalogue (not the holder the office names), about the applicant."""
        holder = self.catalogue.document_type(document_type).holder
        return report.office, holder, index.of(report.applicant)

    def _classify(
        self,
        reports: Sequence[DossierReport],
        ledger: dict[DocumentKey, Validity],
        days: dict[Any, tuple[date, date | None]],
        evidence: Evidence,
        now: datetime,
        index: SubjectIndex,
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[dict[str, Any]]]:
        dossiers: list[dict[str, Any]] = []
        components: list[dict[str, Any]] = []
        documents: list[dict[str, Any]] = []
        for report in reports:
            applicant = index.of(report.applicant)
            day, claimed = days[report.dossier_id]
            outcomes: list[ComponentOutcome] = []
            mine: list[dict[str, Any]] = []
            for component in report.components:
                key = (component.document_type, applicant, component.content_hash)
                held = ledger.get(key)
                backing = None
                if component.source == "reused":
                    claim = self._claim(report, component.document_type, index)
                    backing = evidence.take(claim, lookups_from(day))
                    outcome = ComponentOutcome.REUSED if backing else ComponentOutcome.UNVERIFIED
                elif held is not None and held.covers(day):
                    outcome = ComponentOutcome.RESUBMISSION
                else:
                    outcome = ComponentOutcome.FIRST_SUBMISSION
                outcomes.append(outcome)
                resubmitted = outcome is ComponentOutcome.RESUBMISSION
                components.append(
                    {
                        "dossier_id": str(report.dossier_id),
                        "document_type": component.document_type,
                        "holder": component.holder,
                        "outcome": outcome.value,
                        "lookup": component.lookup,
                        "reason": component.reason,
                        "cause": component.lookup if resubmitted else None,
                        "evidence": backing,
                    }
                )
                mine.append(
                    self._accept(
                        report, day, key, component.holder, component.issued_on, component.valid_until
                    )
                )
            for output in report.outputs:
                key = (output.document_type, index.of(output.subject), output.content_hash)
                holder = self.catalogue.document_type(output.document_type).holder
                mine.append(self._accept(report, day, key, holder, output.issued_on, output.valid_until))
            for document in mine:  # later dossiers of this batch see this one's documents
                key = (document["document_type"], document["subject_hash"], document["content_hash"])
                ledger.setdefault(key, Validity(document["accepted_on"], document["valid_until"]))
            documents.extend(mine)
            dossiers.append(
                {
                    "id": str(report.dossier_id),
                    "office": report.office,
                    "procedure": report.procedure,
                    "applicant_hash": applicant,
                    "received_on": day,
                    "claimed_received_on": claimed,
                    "components": len(outcomes),
                    "reused": outcomes.count(ComponentOutcome.REUSED),
                    "first_submissions": outcomes.count(ComponentOutcome.FIRST_SUBMISSION),
                    "resubmissions": outcomes.count(ComponentOutcome.RESUBMISSION),
                    "unverified": outcomes.count(ComponentOutcome.UNVERIFIED),
                    "recorded_at": now,
                }
            )
        return dossiers, components, documents

    @staticmethod
    def _accept(
        report: DossierReport,
        day: date,
        key: DocumentKey,
        holder: str,
        issued_on: date,
        valid_until: date | None,
    ) -> dict[str, Any]:
        document_type, subject, content = key
        return {
            "document_type": document_type,
            "subject_hash": subject,
            "content_hash": content,
            "holder": holder,
            "issued_on": issued_on,
            "valid_until": valid_until,
            "accepted_on": day,
            "dossier_id": str(report.dossier_id),
        }
