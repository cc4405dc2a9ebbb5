"""Evidence holders over real generated datasets: what is held, why not, registrations, bad payloads,
the applicant's copy computed off the bus, and a mock holder answering through the real hub."""

import contextlib
import sqlite3
from collections.abc import AsyncIterator
from datetime import date, timedelta
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from connectors.datasets import (
    STORES,
    BusinessStore,
    CivilStatusStore,
    Datasets,
    LandStore,
    PopulationStore,
    SocialInsuranceStore,
    SqliteStore,
    generate_all,
)
from connectors.datasets.sampling import add_years
from connectors.declarative.holder import evidence_declarations
from connectors.evidence import (
    EXPIRED,
    NOT_FOUND,
    NOT_YET_ISSUED,
    RESIDENCE_FIELDS,
    REVOKED,
    RULES,
    EvidenceHolder,
    dataset_document,
    evidence_stores,
)
from connectors.sdk import ExchangeError
from connectors.services import served_datasets
from lgsp.catalogue.models import ServiceCreate
from lgsp.settings import Settings
from schemas.onceonly import (
    EVIDENCE_GET,
    EVIDENCE_REGISTER,
    Document,
    EvidenceAnswer,
    EvidenceQuery,
    content_hash,
    load_catalogue,
)
from tests.support import Broker, Hub, connector_for, eventually, make_agency, make_system

CATALOGUE = load_catalogue()
UNKNOWN_CITIZEN = "079999999999"


@pytest.fixture(scope="module")
async def datasets(tmp_path_factory: pytest.TempPathFactory) -> Datasets:
    return await generate_all(tmp_path_factory.mktemp("evidence"), citizens=400, seed=7)


@pytest.fixture
async def holders(datasets: Datasets) -> AsyncIterator[dict[str, EvidenceHolder]]:
    """A fresh holder (nothing registered) for every holder system of the catalogue, by address."""
    stores: list[SqliteStore] = [await datasets.open(store) for store in STORES]
    yield {
        system: EvidenceHolder(system, CATALOGUE, stores, as_of=datasets.as_of)
        for system in CATALOGUE.holders()
    }
    for store in stores:
        await store.close()


def row(datasets: Datasets, store: type[SqliteStore], sql: str) -> Any:
    """The first row of a query on one store (which must find one)."""
    with sqlite3.connect(datasets.path(store)) as db:
        found = db.execute(sql).fetchone()
    assert found is not None, sql
    return found


async def ask(
    holders: dict[str, EvidenceHolder], document_type: str, subject: str, on: date
) -> EvidenceAnswer:
    """Ask the type's holder through its service handler, JSON in and out, as a connector would."""
    holder = holders[CATALOGUE.document_type(document_type).holder]
    query = EvidenceQuery(document_type=document_type, subject=subject, on=on)
    return EvidenceAnswer.model_validate(await holder.serve_get(query.model_dump(mode="json")))


async def records(datasets: Datasets, document_type: str, subject: str) -> Any:
    """The record(s) the type's store returns about `subject`, as an applicant's system would read them."""
    rule = RULES[document_type]
    async with await datasets.open(rule.store) as store:
        return await rule.fetch(store, subject)


async def test_a_birth_certificate_is_held_with_the_hash_anyone_reading_the_record_computes(
    datasets: Datasets, holders: dict[str, EvidenceHolder]
) -> None:
    child, registered = row(
        datasets, CivilStatusStore, "SELECT child_id, registration_date FROM birth_records"
    )
    answer = await ask(holders, "birth-certificate", child, datasets.as_of)
    assert answer.held and answer.document is not None and answer.reason == ""
    record = await records(datasets, "birth-certificate", child)
    assert answer.document == Document(
        document_type="birth-certificate",
        subject=child,
        issued_on=date.fromisoformat(registered),
        valid_until=None,
        content_hash=content_hash("birth-certificate", child, record),
    )


@pytest.mark.parametrize("document_type", sorted(CATALOGUE.document_types))
async def test_the_applicants_copy_is_the_holders_document(
    datasets: Datasets, holders: dict[str, EvidenceHolder], document_type: str
) -> None:
    """For every document type and a sample of subjects, `dataset_document` off the bus gives exactly what
    the holder answers (same document, same hash), or None when the holder holds nothing valid."""
    async with await datasets.open(PopulationStore) as people:
        subjects = await people.sample_citizens(60, seed=1)
    if CATALOGUE.document_type(document_type).subject == "business":
        async with await datasets.open(BusinessStore) as firms:
            subjects = await firms.sample_tax_codes(15, seed=1)
    validity = CATALOGUE.document_type(document_type).validity_days
    held = 0
    for subject in subjects:
        answer = await ask(holders, document_type, subject, datasets.as_of)
        found = await records(datasets, document_type, subject)
        copy = dataset_document(
            document_type, subject, found, validity, on=datasets.as_of, as_of=datasets.as_of
        )
        assert copy == answer.document
        held += answer.held
    assert held > 0, f"no {document_type} held in the sample"


async def test_unknown_subjects_are_not_found(datasets: Datasets, holders: dict[str, EvidenceHolder]) -> None:
    for document_type in (
        "birth-certificate",
        "identity",
        "health-insurance-card",
        "land-use-right-certificate",
    ):
        answer = await ask(holders, document_type, UNKNOWN_CITIZEN, datasets.as_of)
        assert (answer.held, answer.document, answer.reason) == (False, None, NOT_FOUND)
    answer = await ask(holders, "business-registration-certificate", "0300000000", datasets.as_of)
    assert answer.reason == NOT_FOUND


async def test_a_document_is_not_held_before_its_issue(
    datasets: Datasets, holders: dict[str, EvidenceHolder]
) -> None:
    child, registered = row(
        datasets, CivilStatusStore, "SELECT child_id, registration_date FROM birth_records"
    )
    day = date.fromisoformat(registered)
    assert (await ask(holders, "birth-certificate", child, day)).held
    before = await ask(holders, "birth-certificate", child, day - timedelta(days=1))
    assert (before.held, before.reason) == (False, NOT_YET_ISSUED)


async def test_a_confirmation_expires_after_its_own_last_valid_day(
    datasets: Datasets, holders: dict[str, EvidenceHolder]
) -> None:
    citizen, valid_until = row(
        datasets,
        CivilStatusStore,
        "SELECT citizen_id, valid_until FROM marital_status_confirmations"
        " WHERE citizen_id IN (SELECT citizen_id FROM marital_status_confirmations GROUP BY citizen_id"
        " HAVING count(*) = 1)",
    )
    last = date.fromisoformat(valid_until)
    answer = await ask(holders, "marital-status-confirmation", citizen, last)
    assert answer.document is not None and answer.document.valid_until == last
    expired = await ask(holders, "marital-status-confirmation", citizen, last + timedelta(days=1))
    assert (expired.held, expired.reason) == (False, EXPIRED)


async def test_a_lapsed_health_card_is_expired(
    datasets: Datasets, holders: dict[str, EvidenceHolder]
) -> None:
    holder, valid_from, valid_to = row(
        datasets,
        SocialInsuranceStore,
        "SELECT holder_id, valid_from, valid_to FROM health_insurance_cards"
        f" WHERE valid_to < '{datasets.as_of}'",
    )
    assert (await ask(holders, "health-insurance-card", holder, datasets.as_of)).reason == EXPIRED
    answer = await ask(holders, "health-insurance-card", holder, date.fromisoformat(valid_to))
    assert answer.document is not None
    assert (answer.document.issued_on, answer.document.valid_until) == (
        date.fromisoformat(valid_from),
        date.fromisoformat(valid_to),
    )


async def test_a_revoked_land_certificate_is_not_held_but_a_valid_one_is(
    datasets: Datasets, holders: dict[str, EvidenceHolder]
) -> None:
    revoked_only = row(
        datasets,
        LandStore,
        "SELECT holder_id FROM land_use_certificates GROUP BY holder_id HAVING max(valid) = 0",
    )[0]
    answer = await ask(holders, "land-use-right-certificate", revoked_only, datasets.as_of)
    assert (answer.held, answer.reason) == (False, REVOKED)
    valid = row(datasets, LandStore, "SELECT holder_id FROM land_use_certificates WHERE valid = 1")[0]
    assert (await ask(holders, "land-use-right-certificate", valid, datasets.as_of)).held


async def test_a_dissolved_business_has_a_revoked_certificate(
    datasets: Datasets, holders: dict[str, EvidenceHolder]
) -> None:
    dissolved = row(datasets, BusinessStore, "SELECT tax_code FROM businesses WHERE status = 'dissolved'")[0]
    answer = await ask(holders, "business-registration-certificate", dissolved, datasets.as_of)
    assert answer.reason == REVOKED
    active = row(datasets, BusinessStore, "SELECT tax_code FROM businesses WHERE status != 'dissolved'")[0]
    assert (await ask(holders, "business-registration-certificate", active, datasets.as_of)).held


async def test_lists_answer_the_newest_valid_record(datasets: Datasets) -> None:
    citizen = row(
        datasets,
        LandStore,
        "SELECT holder_id FROM land_use_certificates WHERE valid = 1 GROUP BY holder_id HAVING count(*) > 1",
    )[0]
    found = await records(datasets, "land-use-right-certificate", citizen)
    newest = max((r for r in found if r["valid"]), key=lambda r: str(r["issued_date"]))
    copy = dataset_document("land-use-right-certificate", citizen, found, None, on=datasets.as_of)
    assert copy is not None
    assert copy.content_hash == content_hash("land-use-right-certificate", citizen, newest)


async def test_identity_is_issued_at_fourteen_or_by_the_reference_date(
    datasets: Datasets, holders: dict[str, EvidenceHolder]
) -> None:
    as_of = datasets.as_of
    adult, born = row(
        datasets,
        PopulationStore,
        f"SELECT citizen_id, birth_date FROM citizens WHERE birth_date < '{as_of.year - 30}'",
    )
    fourteenth = add_years(date.fromisoformat(born), 14)
    answer = await ask(holders, "identity", adult, as_of)
    assert answer.held and answer.document is not None
    assert (answer.document.issued_on, answer.document.valid_until) == (fourteenth, None)
    early = await ask(holders, "identity", adult, fourteenth - timedelta(days=1))
    assert early.reason == NOT_YET_ISSUED
    child = row(
        datasets, PopulationStore, f"SELECT citizen_id FROM citizens WHERE birth_date > '{as_of.year - 10}'"
    )[0]
    answer = await ask(holders, "identity", child, as_of)
    assert answer.document is not None and answer.document.issued_on == as_of


async def test_a_residence_confirmation_is_issued_on_the_day_asked_and_hashes_the_residence(
    datasets: Datasets, holders: dict[str, EvidenceHolder]
) -> None:
    citizen = row(datasets, PopulationStore, "SELECT citizen_id FROM citizens")[0]
    person = await records(datasets, "residence-confirmation", citizen)
    residence = {field: person[field] for field in RESIDENCE_FIELDS}
    day = date(2027, 3, 1)
    answer = await ask(holders, "residence-confirmation", citizen, day)
    assert answer.document == Document(
        document_type="residence-confirmation",
        subject=citizen,
        issued_on=day,
        valid_until=day + timedelta(days=365),
        content_hash=content_hash("residence-confirmation", citizen, residence),
    )
    later = await ask(holders, "residence-confirmation", citizen, day + timedelta(days=30))
    assert later.document is not None and later.document.content_hash == answer.document.content_hash


async def test_a_registered_document_wins_and_the_newest_registration_is_kept(
    datasets: Datasets, holders: dict[str, EvidenceHolder]
) -> None:
    holder = holders["HO-TICH"]
    child, registered = row(
        datasets, CivilStatusStore, "SELECT child_id, registration_date FROM birth_records"
    )
    dataset_copy = (await ask(holders, "birth-certificate", child, datasets.as_of)).document
    assert dataset_copy is not None
    issued = Document(
        document_type="birth-certificate",
        subject=child,
        issued_on=datasets.as_of,
        content_hash=content_hash("birth-certificate", child, {"record_no": "1/2026", "corrected": True}),
    )
    registration = {"document": issued.model_dump(mode="json")}
    assert await holder.serve_register(registration) == {"registered": True}
    assert (await ask(holders, "birth-certificate", child, datasets.as_of)).document == issued
    # Before the registered one was issued, the dataset's record still answers.
    before = await ask(holders, "birth-certificate", child, datasets.as_of - timedelta(days=1))
    assert before.document == dataset_copy
    older = issued.model_copy(update={"issued_on": date.fromisoformat(registered), "content_hash": "0" * 64})
    assert await holder.serve_register({"document": older.model_dump(mode="json")}) == {"registered": False}
    assert (await ask(holders, "birth-certificate", child, datasets.as_of)).document == issued
    # A registration makes a document held for a subject the dataset knows nothing of.
    assert holder.register(issued.model_copy(update={"subject": UNKNOWN_CITIZEN}))
    assert (await ask(holders, "birth-certificate", UNKNOWN_CITIZEN, datasets.as_of)).held


@pytest.mark.parametrize(
    ("service", "payload", "message"),
    [
        (
            EVIDENCE_GET,
            {"document_type": "birth-certificate", "subject": "079203001234"},
            "on: Field required",
        ),
        (
            EVIDENCE_GET,
            {"document_type": "birth-certificate", "subject": "x", "on": "soon"},
            "on: Input should",
        ),
        (EVIDENCE_GET, {"document_type": "identity", "subject": "x", "on": "2026-01-01"}, "does not hold"),
        (EVIDENCE_REGISTER, {"document": {"document_type": "birth-certificate"}}, "document.subject"),
        (
            EVIDENCE_REGISTER,
            {
                "document": {
                    "document_type": "land-use-right-certificate",
                    "subject": "079203001234",
                    "issued_on": "2026-01-01",
                    "content_hash": "a" * 64,
                }
            },
            "HO-TICH does not hold document type 'land-use-right-certificate'",
        ),
    ],
)
async def test_bad_payloads_and_types_not_held_raise_value_errors(
    holders: dict[str, EvidenceHolder], service: str, payload: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        await holders["HO-TICH"].handlers()[service](payload)


def test_each_holder_reads_only_its_own_stores() -> None:
    assert evidence_stores("HO-TICH", CATALOGUE) == [CivilStatusStore]
    assert evidence_stores("VN/DAN-CU", CATALOGUE) == [PopulationStore]
    assert evidence_stores("MOT-CUA", CATALOGUE) == []
    with pytest.raises(ValueError, match="land store"):
        EvidenceHolder("DAT-DAI", CATALOGUE, [])


def test_the_declarations_are_accepted_by_the_hub_catalogue_and_validate_payloads() -> None:
    declarations = {d["code"]: ServiceCreate.model_validate(d) for d in evidence_declarations()}
    assert set(declarations) == {EVIDENCE_GET, EVIDENCE_REGISTER}
    register = declarations[EVIDENCE_REGISTER].request_schema
    assert register is not None and "$defs" in register  # the Document reference resolves locally
    validator = Draft202012Validator(register)
    document = {"document_type": "birth-certificate", "subject": "1", "issued_on": "2026-01-01"}
    assert validator.is_valid({"document": document | {"content_hash": "a" * 64}})
    assert not validator.is_valid({"document": document | {"content_hash": "not a hash"}})


async def test_a_mock_holder_answers_evidence_through_the_hub(
    hub: Hub, broker: Broker, settings: Settings, datasets: Datasets
) -> None:
    await make_agency(hub.client, "SO-TP")
    await make_agency(hub.client, "VP-UBND")
    provider = await make_system(hub.client, "HO-TICH", "SO-TP")
    office = await make_system(hub.client, "MOT-CUA", "VP-UBND")
    for declaration in evidence_declarations():
        path = f"/api/v1/systems/{provider['id']}/services"
        assert (await hub.client.post(path, json=declaration)).status_code == 201
        grant = {"service": declaration["code"], "client_system": "MOT-CUA"}
        assert (
            await hub.client.post(f"/api/v1/systems/{provider['id']}/grants", json=grant)
        ).status_code == 201
    holder = connector_for(provider, settings, broker.bootstrap)
    client = connector_for(office, settings, broker.bootstrap)
    serving = contextlib.AsyncExitStack()
    await serving.enter_async_context(served_datasets(holder, datasets))
    try:
        await holder.start()
        await client.start()

        async def connected() -> bool:
            status = (await hub.client.get(f"/api/v1/systems/{provider['id']}/status")).json()
            return bool(status["lgsp_connected"])

        await eventually(connected, timeout=15, what="HO-TICH to connect")
        child = row(datasets, CivilStatusStore, "SELECT child_id FROM birth_records")[0]
        query = {"document_type": "birth-certificate", "subject": child, "on": datasets.as_of.isoformat()}
        answer = EvidenceAnswer.model_validate(await client.request("HO-TICH", EVIDENCE_GET, query))
        found = await records(datasets, "birth-certificate", child)
        assert answer.held
        assert answer.document == dataset_document("birth-certificate", child, found, None, on=datasets.as_of)

        issued = Document(
            document_type="marriage-certificate",
            subject=child,
            issued_on=datasets.as_of,
            content_hash=content_hash("marriage-certificate", child, {"record_no": "9/2026"}),
        )
        registration = {"document": issued.model_dump(mode="json")}
        assert await client.request("HO-TICH", EVIDENCE_REGISTER, registration) == {"registered": True}
        query["document_type"] = "marriage-certificate"
        answer = EvidenceAnswer.model_validate(await client.request("HO-TICH", EVIDENCE_GET, query))
        assert answer.document == issued

        with pytest.raises(ExchangeError) as refused:  # the hub checks the declared schema
            await client.request("HO-TICH", EVIDENCE_GET, {"document_type": "birth-certificate"})
        assert refused.value.code == "client.bad_request"
        with pytest.raises(ExchangeError) as failed:  # well formed, but not a type HO-TICH holds
            await client.request("HO-TICH", EVIDENCE_GET, query | {"document_type": "identity"})
        assert failed.value.code == "server.provider_error"
        assert failed.value.message.startswith("ValueError: HO-TICH does not hold document type 'identity'")
    finally:
        await client.stop()
        await holder.stop()
        await serving.aclose()
