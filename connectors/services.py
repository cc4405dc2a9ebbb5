"""The services of the mock provincial systems, and how they are served from the generated datasets.

Every lookup (birth-record.get, land-certificates.get, business.get, health-card.get...) and every
holder's `evidence.get` and `evidence.register` is served by the declarative config the system ships in
`connectors/configs/` (docs/integrators/declarative-connectors.md), the same file an integrator runs
against PostgreSQL or MariaDB: `served_datasets` points its database source at the dataset's SQLite file.
The document-management system (QLVB) stays in code: `document.route` writes (it delivers a document),
and its two lookups must see the documents it delivered, which a read-only source cannot (OFFERINGS).
"""

import contextlib
import functools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from connectors.datasets import Datasets
from connectors.datasets.documents import KINDS, NUMBER_PATTERN, URGENCIES, DocumentStore
from connectors.declarative import ConnectorConfig, DatabaseSource, load_config, started_sources
from connectors.declarative.holder import evidence_declarations
from connectors.sdk import Connector
from schemas.onceonly import Catalogue

#: The shipped configs of the mock systems, by system code; each database source is named for its
#: dataset (`civil_status` reads civil_status.sqlite in the demo).
CONFIGS = Path(__file__).parent / "configs"
MOCK_CONFIGS = {
    "HO-TICH": "civil-status-postgresql.yaml",
    "DAT-DAI": "land-mariadb.yaml",
    "DKKD": "business-postgresql.yaml",
    "BHXH": "social-insurance-postgresql.yaml",
}


def _by(key: str, pattern: str) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {key: {"type": "string", "pattern": pattern}},
        "required": [key],
        "additionalProperties": False,
    }


AGENCY_CODE = "^[A-Z0-9]+(-[A-Z0-9]+)*$"  # "SO-TP", "UBND-H05"
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

Answer = Callable[[DocumentStore, dict[str, Any]], Awaitable[dict[str, Any]]]
"""How an offering answers a payload, given the document register."""


def lookup(fetch: Callable[[DocumentStore, dict[str, Any]], Awaitable[Any]]) -> Answer:
    """A read-only service: whether `fetch` found anything, and the record (or records) it found, in
    the shape of a declarative service's answer."""

    async def answer(store: DocumentStore, payload: dict[str, Any]) -> dict[str, Any]:
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
    """One service of the document-management system, served in code."""

    system: str
    code: str
    description: str
    request_schema: dict[str, Any]
    answer: Answer

    def declaration(self) -> dict[str, Any]:
        """The body of POST /api/v1/systems/{id}/services."""
        return {"code": self.code, "description": self.description, "request_schema": self.request_schema}


OFFERINGS = [
    Offering(
        "QLVB",
        "document.get",
        "Văn bản (official document) by document id",
        BY_DOCUMENT,
        lookup(lambda s, p: s.document(p["document_id"])),
    ),
    Offering(
        "QLVB",
        "documents.received",
        f"Văn bản đến (documents received) by an agency, newest {RECEIVED_LIMIT} first",
        BY_AGENCY,
        lookup(lambda s, p: s.received_by(p["agency"], RECEIVED_LIMIT)),
    ),
    Offering(
        "QLVB",
        "document.route",
        "Chuyển văn bản (deliver an official document to another agency); the same number again, the same id",
        DOCUMENT_ROUTE,
        route_document,
    ),
]


def offerings_of(system: str) -> list[Offering]:
    """What `system` serves in code."""
    return [o for o in OFFERINGS if o.system == system]


def mock_config(system: str, datasets: Path | None = None) -> ConnectorConfig | None:
    """The shipped config of a mock system (None for a system without one), with each database source
    pointed at its dataset's SQLite file in `datasets` if given."""
    name = MOCK_CONFIGS.get(system)
    if name is None:
        return None
    config = load_config(CONFIGS / name)
    if datasets is None:
        return config
    sources = [
        source.model_copy(
            update={
                "url": f"sqlite+aiosqlite:///{(datasets / source.name).absolute()}.sqlite",
                "password": None,
            }
        )
        if isinstance(source, DatabaseSource)
        else source
        for source in config.sources
    ]
    return config.model_copy(update={"sources": sources})


def declarations(system: str) -> list[dict[str, Any]]:
    """The bodies of POST /api/v1/systems/{id}/services for every service a mock system serves."""
    declared = [o.declaration() for o in offerings_of(system)]
    config = mock_config(system)
    if config is not None:
        declared += [service.declaration() for source in config.sources for service in source.services]
        declared += evidence_declarations() if config.evidence is not None else []
    return declared


def subject_lookups(systems: Iterable[str]) -> list[tuple[str, str, str]]:
    """(system, service, request field) of the lookups of `systems` by one citizen id or tax code."""
    found = []
    for system in systems:
        config = mock_config(system)
        for service in (s for source in config.sources for s in source.services) if config else ():
            fields = service.fields()
            if fields in ({"citizen_id"}, {"tax_code"}):
                found.append((system, service.code, fields.pop()))
    return found


@contextlib.asynccontextmanager
async def served_datasets(
    connector: Connector, datasets: Datasets, catalogue: Catalogue | None = None
) -> AsyncIterator[None]:
    """Serve the connector's services from `datasets` until the block exits: its shipped config on the
    SQLite files (with its evidence services, held by `catalogue`, the shipped one by default), and
    QLVB's services in code."""
    async with contextlib.AsyncExitStack() as stack:
        config = mock_config(connector.system, datasets.directory)
        if config is not None:
            sources = await stack.enter_async_context(started_sources(config, CONFIGS, catalogue))
            sources.attach(connector)
        offerings = offerings_of(connector.system)
        if offerings:
            register = await datasets.open(DocumentStore)
            stack.push_async_callback(register.close)
            for offering in offerings:
                connector.service(offering.code)(functools.partial(offering.answer, register))
        yield
