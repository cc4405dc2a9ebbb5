"""Evidence holders: the once-only services of a system holding document types
(docs/architecture/definitions.md).

A holder answers `evidence.get` (does it hold a valid document of a type about a subject on a day?)
and `evidence.register` (hold from now a document a completed dossier issued). It answers from the
documents registered with it (in memory: this is a mock) and, failing those, from its dataset, where
each document type is one record (or the newest of several) of one store, read by the rules of
`RULES`. The content hash covers the record exactly as the store returns it, so whoever reads the same
record computes the same hash: `dataset_document` gives an applicant's copy without the bus.

The provincial holders on the bus run declarative configs (connectors/declarative/holder.py) built on
`candidate`, `answer_from` and `connectors.holding`; `EvidenceHolder` serves the NDXP stub's national
types (issue dates computed, not read), the off-bus simulation, and the tests' reference.
"""

from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, NamedTuple

from connectors.datasets import (
    DEFAULT_AS_OF,
    BusinessStore,
    CivilStatusStore,
    LandStore,
    PopulationStore,
    SocialInsuranceStore,
    SqliteStore,
)
from connectors.datasets.sampling import add_years
from connectors.holding import Registrations, parse_payload
from connectors.sdk import ServiceHandler
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

__all__ = [
    "EXPIRED",
    "NOT_FOUND",
    "NOT_YET_ISSUED",
    "RESIDENCE_FIELDS",
    "REVOKED",
    "RULES",
    "Candidate",
    "DocumentRule",
    "EvidenceHolder",
    "Reading",
    "answer_from",
    "candidate",
    "dataset_document",
    "evidence_stores",
]

Record = dict[str, Any]
#: What a store lookup returns: one record, several (a person may hold several certificates), or None.
Found = Record | list[Record] | None

#: Why a document is not held (`EvidenceAnswer.reason`).
NOT_FOUND = "not found"
NOT_YET_ISSUED = "not yet issued"
EXPIRED = "expired"
REVOKED = "revoked"

#: The population-record fields a residence confirmation states (and its content hash covers).
RESIDENCE_FIELDS = ("permanent_address", "commune_code", "household_id")


@dataclass(frozen=True, slots=True)
class Reading:
    """When a record is read: the day asked about, and the dataset's reference date ("today" in the data)."""

    on: date
    as_of: date


@dataclass(frozen=True, slots=True)
class DocumentRule:
    """How one document type is read from its holder's dataset."""

    store: type[SqliteStore]
    #: The record or records about a subject, from an opened store of type `store`.
    fetch: Callable[[Any, str], Awaitable[Found]]
    issued_on: Callable[[Record, Reading], date]
    #: The record's own last valid day, for records that carry one; otherwise the catalogue's validity.
    valid_until: Callable[[Record], date | None] | None = None
    #: Whether the record says the document was withdrawn (no longer valid, whatever its dates).
    revoked: Callable[[Record], bool] | None = None
    #: What the content hash covers; the whole record unless the document states only part of it.
    content: Callable[[Record], Record] | None = None


def _day(field: str) -> Callable[[Record], date]:
    """Reads an ISO date column (stores return dates as ISO strings)."""
    return lambda record: date.fromisoformat(record[field])


def _issued(field: str) -> Callable[[Record, Reading], date]:
    """The issue date is a date column of the record."""
    read = _day(field)
    return lambda record, _reading: read(record)


def _identity_issued(person: Record, reading: Reading) -> date:
    """The national record has no issue date, and the birth date is no answer: nobody hands in an
    identity document issued the day they were born. The card is compulsory from 14 (Law on
    Identification 2023, art. 19), so take the 14th birthday; younger citizens may get one on request,
    so cap at the data's reference date: every citizen of the data holds one "today", deterministically.
    """
    return min(add_years(date.fromisoformat(person["birth_date"]), 14), reading.as_of)


def _residence_issued(person: Record, reading: Reading) -> date:
    """The residence data of the population database are always current, and offices read them instead
    of asking for a confirmation (Decree 104/2022/NĐ-CP): a lookup yields a confirmation of the data as
    they stand on the day asked, issued that day. Its content does not depend on the day, so its hash
    does not either: a copy handed in again still matches the one accepted before."""
    return reading.on


def _residence(person: Record) -> Record:
    return {field: person[field] for field in RESIDENCE_FIELDS}


#: Dataset rules by document type code: every type of the shipped catalogue has one.
RULES: dict[str, DocumentRule] = {
    "identity": DocumentRule(PopulationStore, lambda s, subject: s.person(subject), _identity_issued),
    "residence-confirmation": DocumentRule(
        PopulationStore, lambda s, subject: s.person(subject), _residence_issued, content=_residence
    ),
    "birth-certificate": DocumentRule(
        CivilStatusStore, lambda s, subject: s.birth_record(subject), _issued("registration_date")
    ),
    "marriage-certificate": DocumentRule(
        CivilStatusStore, lambda s, subject: s.marriage_records(subject), _issued("registration_date")
    ),
    "marital-status-confirmation": DocumentRule(
        CivilStatusStore,
        lambda s, subject: s.marital_status_confirmations(subject),
        _issued("issued_date"),
        valid_until=_day("valid_until"),
    ),
    "land-use-right-certificate": DocumentRule(
        LandStore,
        lambda s, subject: s.land_certificates(subject),
        _issued("issued_date"),
        revoked=lambda record: not record["valid"],  # revoked, or replaced after a transfer
    ),
    "business-registration-certificate": DocumentRule(
        BusinessStore,
        lambda s, subject: s.business(subject),
        _issued("registration_date"),
        # A dissolved business is struck off: its certificate proves nothing any more. A suspended
        # one stays registered.
        revoked=lambda record: record["status"] == "dissolved",
    ),
    "health-insurance-card": DocumentRule(
        SocialInsuranceStore,
        lambda s, subject: s.health_card(subject),
        _issued("valid_from"),
        valid_until=_day("valid_to"),
    ),
}


class Candidate(NamedTuple):
    """A document a holder might answer with, and whether its record says it was withdrawn."""

    document: Document
    revoked: bool


def candidate(
    document_type: str,
    subject: str,
    content: Record,
    *,
    issued_on: date,
    valid_until: date | None,
    validity_days: int | None,
    revoked: bool,
) -> Candidate:
    """The document a record stands for: valid until `valid_until` if the record says, else for the
    catalogue's `validity_days` after its issue; its hash over `content`, the record as read."""
    if valid_until is None and validity_days is not None:
        # The day of issue is not counted (Civil Code 2015, art. 147): valid N days after it.
        valid_until = issued_on + timedelta(days=validity_days)
    document = Document(
        document_type=document_type,
        subject=subject,
        issued_on=issued_on,
        valid_until=valid_until,
        content_hash=content_hash(document_type, subject, content),
    )
    return Candidate(document, revoked)


def _rule(document_type: str) -> DocumentRule:
    try:
        return RULES[document_type]
    except KeyError:
        raise ValueError(f"no dataset rule for document type {document_type!r}") from None


def _dataset_candidates(
    document_type: str, subject: str, found: Found, validity_days: int | None, reading: Reading
) -> list[Candidate]:
    """The documents the dataset records stand for."""
    rule = _rule(document_type)
    records = found if isinstance(found, list) else [] if found is None else [found]
    return [
        candidate(
            document_type,
            subject,
            rule.content(record) if rule.content else record,
            issued_on=rule.issued_on(record, reading),
            valid_until=rule.valid_until(record) if rule.valid_until else None,
            validity_days=validity_days,
            revoked=bool(rule.revoked and rule.revoked(record)),
        )
        for record in records
    ]


def answer_from(registered: Document | None, candidates: Sequence[Candidate], on: date) -> EvidenceAnswer:
    """What a holder answers for the day `on`: the registered document if valid then, else the first of
    the dataset's `candidates` valid then, newest issue first; else why none is."""
    ordered = sorted(candidates, key=lambda found: found.document.issued_on, reverse=True)
    if registered is not None:
        ordered.insert(0, Candidate(registered, revoked=False))
    for candidate in ordered:
        if not candidate.revoked and candidate.document.valid_on(on):
            return EvidenceAnswer(held=True, document=candidate.document)
    # Documents issued after the day asked did not exist yet: the newest that did says why.
    existing = [candidate for candidate in ordered if candidate.document.issued_on <= on]
    if not ordered:
        reason = NOT_FOUND
    elif not existing:
        reason = NOT_YET_ISSUED
    else:
        reason = REVOKED if existing[0].revoked else EXPIRED
    return EvidenceAnswer(held=False, reason=reason)


def dataset_document(
    document_type: str,
    subject: str,
    found: Found,
    validity_days: int | None,
    *,
    on: date,
    as_of: date = DEFAULT_AS_OF,
) -> Document | None:
    """The document a holder finds on `on` in its dataset records `found` (as its store returned them,
    one record, a list or None) about `subject`; None if it holds none valid that day.

    It is exactly what the holder answers when nothing was registered with it, content hash included,
    so a simulation can build an applicant's copy without the bus. `validity_days` is the catalogue's,
    used when the record carries no expiry; `as_of` is the dataset's reference date.
    ValueError for a document type without a dataset rule.
    """
    candidates = _dataset_candidates(document_type, subject, found, validity_days, Reading(on, as_of))
    return answer_from(None, candidates, on).document


def _held_rules(system: str, catalogue: Catalogue) -> dict[str, DocumentRule]:
    """The dataset rules of the document types `system` holds in `catalogue`."""
    return {
        code: _rule(code) for code, document in catalogue.document_types.items() if document.holder == system
    }


def evidence_stores(system: str, catalogue: Catalogue) -> list[type[SqliteStore]]:
    """The stores a holder `system` reads its document types from; empty if it holds none.

    ValueError if it holds a document type without a dataset rule.
    """
    stores = [rule.store for rule in _held_rules(system, catalogue).values()]
    return list(dict.fromkeys(stores))


class _Source(NamedTuple):
    rule: DocumentRule
    store: SqliteStore
    validity_days: int | None


class EvidenceHolder:
    """The `evidence.get` and `evidence.register` services of the holder `system`.

    Built from the catalogue (which document types `system` holds, and their validity) and its opened
    stores (at least those `evidence_stores` names; closing them stays the caller's business). `as_of`
    is the dataset's reference date. A lookup considers the registered document first, then the
    dataset's, newest issue first, and answers the first valid on the day asked.
    """

    def __init__(
        self,
        system: str,
        catalogue: Catalogue,
        stores: Iterable[SqliteStore],
        *,
        as_of: date = DEFAULT_AS_OF,
    ) -> None:
        self.system = system
        self.as_of = as_of
        opened = {type(store): store for store in stores}
        self._sources: dict[str, _Source] = {}
        for code, rule in _held_rules(system, catalogue).items():
            store = opened.get(rule.store)
            if store is None:
                raise ValueError(
                    f"{system} holds {code!r}, read from the {rule.store.DATASET} store, which was not given"
                )
            self._sources[code] = _Source(rule, store, catalogue.document_type(code).validity_days)
        self._registered = Registrations()

    @property
    def holds(self) -> frozenset[str]:
        """The document types this holder answers for."""
        return frozenset(self._sources)

    def handlers(self) -> dict[str, ServiceHandler]:
        """The service handlers by code, as a connector serves them (ValueError on a bad payload)."""
        return {EVIDENCE_GET: self.serve_get, EVIDENCE_REGISTER: self.serve_register}

    async def get(self, query: EvidenceQuery) -> EvidenceAnswer:
        """Whether a document of the asked type about the subject is held and valid on `query.on`."""
        source = self._source(query.document_type)
        found = await source.rule.fetch(source.store, query.subject)
        reading = Reading(query.on, self.as_of)
        candidates = _dataset_candidates(
            query.document_type, query.subject, found, source.validity_days, reading
        )
        registered = self._registered.get(query.document_type, query.subject)
        return answer_from(registered, candidates, query.on)

    def register(self, document: Document) -> bool:
        """Hold `document` from now; False if a document of its type and subject issued later is
        already registered (that one is kept). ValueError if this holder does not hold its type."""
        self._source(document.document_type)
        return self._registered.register(document)

    async def serve_get(self, payload: dict[str, Any]) -> dict[str, Any]:
        """`evidence.get`: an EvidenceQuery in, an EvidenceAnswer out, both as JSON."""
        answer = await self.get(parse_payload(EvidenceQuery, payload, EVIDENCE_GET))
        return answer.model_dump(mode="json")

    async def serve_register(self, payload: dict[str, Any]) -> dict[str, Any]:
        """`evidence.register`: an EvidenceRegistration in, `{"registered": bool}` out (see `register`)."""
        registration = parse_payload(EvidenceRegistration, payload, EVIDENCE_REGISTER)
        return {"registered": self.register(registration.document)}

    def _source(self, document_type: str) -> _Source:
        try:
            return self._sources[document_type]
        except KeyError:
            held = ", ".join(sorted(self._sources)) or "nothing"
            raise ValueError(
                f"{self.system} does not hold document type {document_type!r}; it holds {held}"
            ) from None
