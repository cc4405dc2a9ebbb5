"""The one-stop shop (Bộ phận Một cửa): receives dossiers and applies the once-only principle.

For each document a procedure requires it first asks the document's holder, over the axis, whether it
holds a valid copy about the applicant (evidence lookup by type and subject). A held document is reused:
nothing is asked of the applicant. Otherwise the applicant's own copy is taken. When the dossier
completes, the documents it issues are registered with their holders, and the whole dossier is reported
to the hub's once-only ledger, which decides which submitted copies were re-submissions.
"""

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Literal
from uuid import UUID, uuid4

from connectors.sdk import Connector, ExchangeError
from schemas.messages import DossierComponent, DossierReport
from schemas.onceonly import (
    EVIDENCE_GET,
    EVIDENCE_REGISTER,
    Catalogue,
    Document,
    EvidenceAnswer,
    EvidenceQuery,
    EvidenceRegistration,
    content_hash,
)

log = logging.getLogger(__name__)


class MissingDocument(ValueError):
    """The axis does not hold a required document and the applicant did not bring it either."""


@dataclass(frozen=True, slots=True)
class Filing:
    """A dossier as the applicant hands it in: the procedure, who applies, and the copies brought."""

    procedure: str
    applicant: str
    received_on: date
    brought: dict[str, Document] = field(default_factory=dict)  # by document type
    #: Subjects of issued documents that are not about the applicant (e.g. a new business's tax code).
    issued_to: dict[str, str] = field(default_factory=dict)
    dossier_id: UUID = field(default_factory=uuid4)


@dataclass(frozen=True, slots=True)
class Lookup:
    """What the evidence lookup for one document found."""

    outcome: Literal["held", "not_held", "holder_unreachable"]
    reason: str
    document: Document | None = None


class OneStopShop:
    """Dossier intake on top of a connector (the one-stop shop system's own connection to the axis)."""

    def __init__(self, connector: Connector, catalogue: Catalogue, *, lookup_timeout: float = 2.0) -> None:
        self.connector = connector
        self.catalogue = catalogue
        self.lookup_timeout = lookup_timeout

    async def lookup(self, document_type: str, subject: str, on: date, purpose: str) -> Lookup:
        """Ask the holder of `document_type` whether it holds a valid one about `subject` on `on`, for
        `purpose` (the procedure being handled: the person sees why their data was read)."""
        holder = self.catalogue.document_type(document_type).holder
        query = EvidenceQuery(document_type=document_type, subject=subject, on=on)
        try:
            answer = await self.connector.request(
                holder,
                EVIDENCE_GET,
                query.model_dump(mode="json"),
                timeout=self.lookup_timeout,
                subject=subject,
                purpose=purpose,
            )
        except ExchangeError as exc:  # disconnected, timed out, failed or refused: no answer to rely on
            return Lookup("holder_unreachable", exc.code)
        evidence = EvidenceAnswer.model_validate(answer)
        if evidence.held and evidence.document is not None:
            return Lookup("held", "", evidence.document)
        return Lookup("not_held", evidence.reason or "not held")

    async def file(self, filing: Filing) -> DossierReport:
        """Process a dossier to completion and report it to the ledger; returns the report.

        Raises MissingDocument (and reports nothing) when a required document is neither held by the axis
        nor brought by the applicant: such a dossier cannot be received.
        """
        procedure = self.catalogue.procedure(filing.procedure)
        lookups = await asyncio.gather(
            *(
                self.lookup(t, filing.applicant, filing.received_on, filing.procedure)
                for t in procedure.requires
            )
        )
        components = [
            self._component(t, found, filing) for t, found in zip(procedure.requires, lookups, strict=True)
        ]
        outputs = [self._issue(t, filing) for t in procedure.produces]
        report = DossierReport(
            dossier_id=filing.dossier_id,
            office=self.connector.system,
            session_id=self.connector.session_id,
            procedure=filing.procedure,
            applicant=filing.applicant,
            received_on=filing.received_on,
            components=components,
            outputs=outputs,
        )
        await asyncio.gather(*(self._register(document, filing.procedure) for document in outputs))
        await self.connector.report_dossier(report)
        return report

    def _component(self, document_type: str, found: Lookup, filing: Filing) -> DossierComponent:
        holder = self.catalogue.document_type(document_type).holder
        document = found.document
        if document is None:
            document = filing.brought.get(document_type)
            if document is None:
                raise MissingDocument(
                    f"{filing.procedure}: {document_type} is {found.outcome} ({found.reason}), not brought"
                )
        return DossierComponent(
            document_type=document_type,
            source="reused" if found.document is not None else "submitted",
            lookup=found.outcome,
            reason=found.reason[:200],
            holder=holder,
            content_hash=document.content_hash,
            issued_on=document.issued_on,
            valid_until=document.valid_until,
        )

    def _issue(self, document_type: str, filing: Filing) -> Document:
        """The document a completed dossier issues: dated the day it completes (the day it was received)."""
        subject = filing.issued_to.get(document_type, filing.applicant)
        days = self.catalogue.document_type(document_type).validity_days
        content = {"dossier": str(filing.dossier_id), "procedure": filing.procedure}
        return Document(
            document_type=document_type,
            subject=subject,
            issued_on=filing.received_on,
            valid_until=filing.received_on + timedelta(days=days - 1) if days else None,
            content_hash=content_hash(document_type, subject, content),
        )

    async def _register(self, document: Document, purpose: str) -> None:
        # A holder that cannot take the document now simply will not find it later: the applicant will
        # be asked for it, and the ledger will count that as a re-submission. Nothing is lost here.
        holder = self.catalogue.document_type(document.document_type).holder
        payload = EvidenceRegistration(document=document).model_dump(mode="json")
        try:
            await self.connector.request(
                holder,
                EVIDENCE_REGISTER,
                payload,
                timeout=self.lookup_timeout,
                subject=document.subject,
                purpose=purpose,
            )
        except ExchangeError as exc:
            log.info("%s not registered with %s: %s", document.document_type, holder, exc.code)
