"""The declarative connector's configuration: one system, its sources, and the services each serves.

The model holds no secret: a password or a token is a reference (`{env: NAME}` or `{file: PATH}`, and
`${NAME}` inside a URL), resolved only when a source starts. So `model_dump()` is safe to store or to
show, and the JSON Schema shipped in `schemas/connector-config.schema.json` is this model's. The models
of one source are in `schemas.sources`, shared with the hub, which stores sources sent to its API.
"""

from typing import Any

from pydantic import Field, model_validator

from schemas.common import SystemCode
from schemas.sources import (
    ENV_REFERENCE,
    DatabaseSource,
    FieldName,
    FromEnv,
    FromFile,
    QueryService,
    RestService,
    RestSource,
    Secret,
    Source,
    SourceName,
    Strict,
)

__all__ = [
    "ENV_REFERENCE",
    "ConnectorConfig",
    "DatabaseSource",
    "Evidence",
    "EvidenceDocument",
    "FromEnv",
    "FromFile",
    "QueryService",
    "RestService",
    "RestSource",
    "Secret",
    "Source",
    "json_schema",
]


class EvidenceDocument(Strict):
    """How a holder reads one document type (once-only, docs/architecture/definitions.md): the records
    about a subject (a document each; the content hash covers the record as selected), either those a
    service of the source answers (the subject as its one request field) or those of a `query` of
    `:subject`; and which of their columns say when it was issued, until when it is valid (else the
    catalogue's validity counts from the issue) and whether it was withdrawn."""

    document_type: str = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,63}$")
    service: str | None = None
    query: str | None = Field(default=None, min_length=1, max_length=20_000)
    issued_on: FieldName
    valid_until: FieldName | None = None
    #: Withdrawn when every column named has the value given: `{status: dissolved}`, `{valid: false}`.
    revoked_when: dict[FieldName, str | bool | int] = Field(default_factory=dict)
    booleans: list[FieldName] = Field(default_factory=list)
    max_rows: int = Field(default=100, ge=1, le=10_000)
    timeout_ms: int = Field(default=5_000, ge=10, le=120_000)

    @model_validator(mode="after")
    def _one_reading(self) -> "EvidenceDocument":
        if (self.service is None) == (self.query is None):
            raise ValueError("give either service or query")
        return self

    def as_service(self, query: str) -> QueryService:
        """`query` as a service of the database source: a list of the records about `subject`."""
        return QueryService(
            code="evidence.get",
            request_schema={"type": "object", "properties": {"subject": {"type": "string"}}},
            query=query,
            answer="list",
            max_rows=self.max_rows,
            booleans=self.booleans,
            timeout_ms=self.timeout_ms,
        )


class Evidence(Strict):
    """The once-only services `evidence.get` and `evidence.register` of a holder, served from one of the
    config's database sources. Registrations are kept in the connector's memory: the source stays
    read-only."""

    source: SourceName
    documents: list[EvidenceDocument] = Field(min_length=1, max_length=50)


class ConnectorConfig(Strict):
    """One connector: the registered system it runs as, the sources serving its services, and, for a
    holder of document types, its evidence."""

    system: SystemCode
    sources: list[Source] = Field(min_length=1, max_length=50)
    evidence: Evidence | None = None

    @model_validator(mode="after")
    def _unique(self) -> "ConnectorConfig":
        names = [source.name for source in self.sources]
        codes = [service.code for source in self.sources for service in source.services]
        types = [document.document_type for document in self.evidence.documents] if self.evidence else []
        for what, values in (("source name", names), ("service code", codes), ("document type", types)):
            twice = sorted({value for value in values if values.count(value) > 1})
            if twice:
                raise ValueError(f"{what} used twice: {', '.join(twice)}")
        if self.evidence is not None:
            self._evidence_reads(self.evidence)
        return self

    def _evidence_reads(self, evidence: Evidence) -> None:
        """The evidence source is a database source; a document read by a service reads one of its
        services, whose request has a single field, the subject."""
        source = next((s for s in self.sources if s.name == evidence.source), None)
        if not isinstance(source, DatabaseSource):
            raise ValueError(f"evidence.source: {evidence.source} is not a database source")
        services = {service.code: service for service in source.services}
        for document in evidence.documents:
            if document.service is None:
                continue
            service = services.get(document.service)
            if service is None or len(service.fields()) != 1:
                raise ValueError(
                    f"evidence: {document.document_type}: {document.service} is not a service of"
                    f" {source.name} with a single request field"
                )

    def evidence_reading(self, document: EvidenceDocument) -> tuple[QueryService, str]:
        """The service reading `document`'s records, and the request field the subject goes in."""
        if document.query is not None:
            return document.as_service(document.query), "subject"
        source = next(s for s in self.sources if self.evidence and s.name == self.evidence.source)
        service = next(q for q in source.services if q.code == document.service)
        assert isinstance(service, QueryService)  # checked by the model: a database source's service
        return service, next(iter(service.fields()))


def json_schema() -> dict[str, Any]:
    """The JSON Schema of a config, as shipped in schemas/connector-config.schema.json (write it with
    `python -m connectors.declarative.config`)."""
    schema = ConnectorConfig.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "urn:lgsp:connector-config",
        **schema,
    }


if __name__ == "__main__":
    import json
    import sys

    json.dump(json_schema(), sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")
