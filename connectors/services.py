"""The services the mock provincial systems offer, answered from their own datasets.

Each offering names its provider, its code and request schema (declared in the hub's catalogue), and
how its store answers a payload: most are read-only lookups (`lookup`), the document-management
system's `document.route` writes. `serve_datasets` wires a connector's handlers to its stores, and a
system holding document types in the once-only catalogue also serves the evidence services
(`evidence_declarations` gives their declarations for the hub's catalogue).
"""

import functools
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator

from connectors.datasets import (
    BusinessStore,
    CivilStatusStore,
    Datasets,
    LandStore,
    SocialInsuranceStore,
    SqliteStore,
)
from connectors.datasets.documents import KINDS, NUMBER_PATTERN, URGENCIES, DocumentStore
from connectors.evidence import EvidenceHolder, evidence_stores
from connectors.sdk import Connector
from schemas.onceonly import (
    EVIDENCE_GET,
    EVIDENCE_REGISTER,
    Catalogue,
    EvidenceAnswer,
    EvidenceQuery,
    EvidenceRegistration,
    load_catalogue,
)


def _by(key: str, pattern: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {key: {"type": "string", "pattern": pattern}},
        "required": [key],
        "additionalProperties": False,
    }


AGENCY_CODE = "^[A-Z0-9]+(-[A-Z0-9]+)*$"  # "SO-TP", "UBND-H05"
BY_CITIZEN = _by("citizen_id", "^[0-9]{12}$")
BY_TAX_CODE = _by("tax_code", "^[0-9]{10}(-[0-9]{3})?$")
BY_DOCUMENT = _by("document_id", "^VB-[0-9A-F]{16}$")
BY_AGENCY = _by("agency", AGENCY_CODE)
RECEIVED_LIMIT = 20  # documents.received answers an agency's newest documents, like an inbox's first page


def _text(longest: int) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": longest}


DOCUMENT_ROUTE: dict[str, Any] = {
    "type": "object",
    "properties": {
        "number": {"type": "string", "pattern": NUMBER_PATTERN, "maxLength": 50},
        "kind": {"enum": list(KINDS)},
        "issuing_agency": {"type": "string", "pattern": AGENCY_CODE},
        "receiving_agency": {"type": "string", "pattern": AGENCY_CODE},
        "subject": _text(500),
        "issued_on": {"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
        "urgency": {"enum": list(URGENCIES)},
        "signer": _text(100),
        "signer_title": _text(100),
    },
    "required": ["number", "kind", "issuing_agency", "receiving_agency", "subject", "issued_on", "urgency"],
    "additionalProperties": False,
}
_ROUTE_VALIDATOR = Draft202012Validator(DOCUMENT_ROUTE)

Found = dict[str, Any] | list[dict[str, Any]] | None
Answer = Callable[[Any, dict[str, Any]], Awaitable[dict[str, Any]]]
"""How an offering answers a payload, given its system's opened store."""


def lookup(fetch: Callable[[Any, dict[str, Any]], Awaitable[Found]]) -> Answer:
    """A read-only service: whether `fetch` found anything, and the record (or records) it found."""

    async def answer(store: Any, payload: dict[str, Any]) -> dict[str, Any]:
        found = await fetch(store, payload)
        return {"found": bool(found), "record" if not isinstance(found, list) else "records": found}

    return answer


async def route_document(store: DocumentStore, payload: dict[str, Any]) -> dict[str, Any]:
    """`document.route`: deliver the document to its receiving agency (see `DocumentStore.route`).

    The hub checks the payload against DOCUMENT_ROUTE before delivering it; checking again here keeps a
    direct call from storing a malformed document. ValueError (the caller's fault) on a bad payload.
    """
    problems = sorted(error.message for error in _ROUTE_VALIDATOR.iter_errors(payload))
    if problems:
        raise ValueError(f"bad document.route payload: {'; '.join(problems)}")
    return {"routed": True, "document_id": await store.route(payload)}


@dataclass(frozen=True, slots=True)
class Offering:
    """One service of one mock system."""

    system: str
    code: str
    description: str
    request_schema: dict[str, Any]
    store: type[SqliteStore]
    answer: Answer

    def declaration(self) -> dict[str, Any]:
        """The body of POST /api/v1/systems/{id}/services."""
        return {"code": self.code, "description": self.description, "request_schema": self.request_schema}


OFFERINGS = [
    Offering(
        "HO-TICH",
        "birth-record.get",
        "Trích lục khai sinh (birth record) by citizen id",
        BY_CITIZEN,
        CivilStatusStore,
        lookup(lambda s, p: s.birth_record(p["citizen_id"])),
    ),
    Offering(
        "HO-TICH",
        "marriage-records.get",
        "Đăng ký kết hôn (marriage records) by citizen id",
        BY_CITIZEN,
        CivilStatusStore,
        lookup(lambda s, p: s.marriage_records(p["citizen_id"])),
    ),
    Offering(
        "DAT-DAI",
        "land-certificates.get",
        "Giấy chứng nhận quyền sử dụng đất by holder",
        BY_CITIZEN,
        LandStore,
        lookup(lambda s, p: s.land_certificates(p["citizen_id"])),
    ),
    Offering(
        "DKKD",
        "business.get",
        "Đăng ký doanh nghiệp / hộ kinh doanh by tax code",
        BY_TAX_CODE,
        BusinessStore,
        lookup(lambda s, p: s.business(p["tax_code"])),
    ),
    Offering(
        "BHXH",
        "health-card.get",
        "Thẻ bảo hiểm y tế (health-insurance card) by citizen id",
        BY_CITIZEN,
        SocialInsuranceStore,
        lookup(lambda s, p: s.health_card(p["citizen_id"])),
    ),
    Offering(
        "QLVB",
        "document.get",
        "Văn bản (official document) by document id",
        BY_DOCUMENT,
        DocumentStore,
        lookup(lambda s, p: s.document(p["document_id"])),
    ),
    Offering(
        "QLVB",
        "documents.received",
        f"Văn bản đến (documents received) by an agency, newest {RECEIVED_LIMIT} first",
        BY_AGENCY,
        DocumentStore,
        lookup(lambda s, p: s.received_by(p["agency"], RECEIVED_LIMIT)),
    ),
    Offering(
        "QLVB",
        "document.route",
        "Chuyển văn bản (deliver an official document to another agency); the same number again, the same id",
        DOCUMENT_ROUTE,
        DocumentStore,
        route_document,
    ),
]


def offerings_of(system: str) -> list[Offering]:
    """What `system` offers."""
    return [o for o in OFFERINGS if o.system == system]


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


async def serve_datasets(
    connector: Connector, datasets: Datasets, catalogue: Catalogue | None = None
) -> list[SqliteStore]:
    """Register the connector's handlers over its stores; returns the opened stores (close them after).

    A system holding document types in `catalogue` (the shipped one by default) also serves
    `evidence.get` and `evidence.register` over them.
    """
    stores: dict[type[SqliteStore], SqliteStore] = {}

    async def opened(store: type[SqliteStore]) -> SqliteStore:
        if store not in stores:
            stores[store] = await datasets.open(store)
        return stores[store]

    for offering in offerings_of(connector.system):
        connector.service(offering.code)(functools.partial(offering.answer, await opened(offering.store)))
    catalogue = catalogue or load_catalogue()
    needed = evidence_stores(connector.system, catalogue)
    if needed:
        holder = EvidenceHolder(
            connector.system, catalogue, [await opened(store) for store in needed], as_of=datasets.as_of
        )
        for code, handler in holder.handlers().items():
            connector.service(code)(handler)
    return list(stores.values())
