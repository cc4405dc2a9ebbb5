"""A holder's once-only services, `evidence.get` and `evidence.register`, from its config's `evidence`
section (docs/integrators/declarative-connectors.md#evidence).

Each document type is one SELECT of the records about a subject on a database source of the config.
The engine turns each record into a document exactly as `connectors.evidence` does for the mock
stores, with the same rules (`candidate`, `answer_from`), so the content hash of a record is the same
whoever reads it: issued on the `issued_on` column, valid until the `valid_until` column or for the
catalogue's validity after the issue, withdrawn when the `revoked_when` columns say so. Registered
documents are kept in the connector's memory (`Registrations`), as the mock holders keep them: the
source database stays read-only.
"""

from datetime import date, datetime
from typing import Any

from connectors.declarative.config import ConnectorConfig, EvidenceDocument
from connectors.declarative.database import DatabaseBackend
from connectors.declarative.secrets import SourceError
from connectors.evidence import Candidate, answer_from, candidate
from connectors.faults import ServiceFault
from connectors.holding import Registrations, parse_payload
from connectors.sdk import ServiceHandler
from schemas.onceonly import (
    EVIDENCE_GET,
    EVIDENCE_REGISTER,
    Catalogue,
    EvidenceAnswer,
    EvidenceQuery,
    EvidenceRegistration,
)

Record = dict[str, Any]


def evidence_declarations() -> list[dict[str, Any]]:
    """The bodies of POST /api/v1/systems/{id}/services declaring a holder's evidence services.

    Request schemas are the contract's own JSON Schemas (Draft 2020-12, local `$defs` references), so
    the hub refuses a malformed payload before it reaches the holder.
    """
    return [
        {
            "code": EVIDENCE_GET,
            "description": "Tra cứu giấy tờ đã có (evidence lookup by document type, subject and day)",
            "request_schema": EvidenceQuery.model_json_schema(),
            "response_schema": EvidenceAnswer.model_json_schema(),
        },
        {
            "code": EVIDENCE_REGISTER,
            "description": "Ghi nhận giấy tờ mới cấp (register a document a completed dossier issued)",
            "request_schema": EvidenceRegistration.model_json_schema(),
        },
    ]


class _Reading:
    """One document type: how it is read, the query run for it, and the catalogue's validity."""

    def __init__(
        self, config: ConnectorConfig, document: EvidenceDocument, validity_days: int | None
    ) -> None:
        self.document = document
        self.service, self.field = config.evidence_reading(document)
        self.validity_days = validity_days

    def records(self, found: dict[str, Any]) -> list[Record]:
        """The records of a service's answer, `{found, record}` or `{found, records}`."""
        if "records" in found:
            return list(found["records"])
        return [found["record"]] if found["record"] is not None else []

    def candidate(self, subject: str, record: Record) -> Candidate:
        document = self.document
        until = _day(record, document.valid_until, document) if document.valid_until else None
        revoked = bool(document.revoked_when) and all(
            record.get(column) == value for column, value in document.revoked_when.items()
        )
        return candidate(
            document.document_type,
            subject,
            record,
            issued_on=_day(record, document.issued_on, document),
            valid_until=until,
            validity_days=self.validity_days,
            revoked=revoked,
        )


class DeclaredHolder:
    """The evidence services of the config's system, read from `backend` as its `evidence` says."""

    def __init__(self, config: ConnectorConfig, backend: DatabaseBackend, catalogue: Catalogue) -> None:
        assert config.evidence is not None, "a holder needs the config's evidence section"
        system = self.system = config.system
        self.backend = backend
        self._readings: dict[str, _Reading] = {}
        for document in config.evidence.documents:
            known = catalogue.document_types.get(document.document_type)
            if known is None or known.holder != system:
                # The hub routes a type's lookups to its holder in the catalogue, and to no one else.
                raise SourceError(
                    f"evidence: the catalogue does not name {system} the holder of {document.document_type}"
                )
            self._readings[document.document_type] = _Reading(config, document, known.validity_days)
        self._registered = Registrations()

    def handlers(self) -> dict[str, ServiceHandler]:
        """The service handlers by code, as a connector serves them (ValueError on a bad payload)."""
        return {EVIDENCE_GET: self.serve_get, EVIDENCE_REGISTER: self.serve_register}

    async def get(self, query: EvidenceQuery) -> EvidenceAnswer:
        """Whether a document of the asked type about the subject is held and valid on `query.on`."""
        reading = self._reading(query.document_type)
        found = await self.backend.answer(reading.service, {reading.field: query.subject})
        candidates = [reading.candidate(query.subject, record) for record in reading.records(found)]
        registered = self._registered.get(query.document_type, query.subject)
        return answer_from(registered, candidates, query.on)

    async def serve_get(self, payload: dict[str, Any]) -> dict[str, Any]:
        """`evidence.get`: an EvidenceQuery in, an EvidenceAnswer out, both as JSON."""
        answer = await self.get(parse_payload(EvidenceQuery, payload, EVIDENCE_GET))
        return answer.model_dump(mode="json")

    async def serve_register(self, payload: dict[str, Any]) -> dict[str, Any]:
        """`evidence.register`: an EvidenceRegistration in, `{"registered": bool}` out; False if a
        document of its type and subject issued later is registered already."""
        document = parse_payload(EvidenceRegistration, payload, EVIDENCE_REGISTER).document
        self._reading(document.document_type)
        return {"registered": self._registered.register(document)}

    def _reading(self, document_type: str) -> _Reading:
        try:
            return self._readings[document_type]
        except KeyError:
            held = ", ".join(sorted(self._readings)) or "nothing"
            raise ValueError(
                f"{self.system} does not hold document type {document_type!r}; it holds {held}"
            ) from None


def _day(record: Record, column: str, document: EvidenceDocument) -> date:
    """A date column of a record (ISO text, or a date or timestamp the engine gave as ISO text)."""
    value = record.get(column)
    try:
        return datetime.fromisoformat(str(value)).date()
    except ValueError:
        # The config names a column its query does not give, or one that holds no date: its fault.
        raise ServiceFault(
            "server.provider_error",
            f"evidence.get: {document.document_type}: column {column} holds no date",
        ) from None
