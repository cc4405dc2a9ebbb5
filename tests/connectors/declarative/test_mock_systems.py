"""The mock systems' shipped configs (connectors/configs/) on their datasets, as SQLite files, and loaded
into PostgreSQL and MariaDB (connectors.datasets.loader): every lookup answers the records the stores
hold, and every evidence answer is the one the code's reference holder (connectors.evidence) gives,
content hash included."""

import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date, timedelta
from typing import Any

import pytest

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
from connectors.datasets.loader import load_into
from connectors.declarative import ConnectorConfig, DatabaseSource, started_sources
from connectors.declarative.database import DatabaseBackend
from connectors.evidence import EvidenceHolder
from connectors.services import CONFIGS, MOCK_CONFIGS, mock_config
from schemas.onceonly import Document, EvidenceAnswer, EvidenceQuery, load_catalogue
from tests.connectors.declarative.conftest import fresh_database

CATALOGUE = load_catalogue()
UNKNOWN = "079999999999"
Fetch = Callable[[Any, str], Awaitable[Any]]
#: What each lookup answers, read from its store as the code-served mock answered it.
LOOKUPS: dict[str, tuple[type[SqliteStore], Fetch]] = {
    "birth-record.get": (CivilStatusStore, lambda s, key: s.birth_record(key)),
    "marriage-records.get": (CivilStatusStore, lambda s, key: s.marriage_records(key)),
    "land-certificates.get": (LandStore, lambda s, key: s.land_certificates(key)),
    "business.get": (BusinessStore, lambda s, key: s.business(key)),
    "health-card.get": (SocialInsuranceStore, lambda s, key: s.health_card(key)),
}
#: Subjects with records, per table: (table, column) of the dataset files.
SUBJECTS = {
    "citizen_id": [
        ("birth_records", "child_id"),
        ("marriage_records", "wife_id"),
        ("marital_status_confirmations", "citizen_id"),
        ("land_use_certificates", "holder_id"),
        ("land_use_certificates", "co_holder_id"),
        ("health_insurance_cards", "holder_id"),
    ],
    "tax_code": [("businesses", "tax_code")],
}
PROVINCIAL = [s for s in STORES if s is not PopulationStore]


@pytest.fixture(scope="module")
async def datasets(tmp_path_factory: pytest.TempPathFactory) -> Datasets:
    return await generate_all(tmp_path_factory.mktemp("mock-systems"), citizens=300, seed=11)


@pytest.fixture(scope="module", params=["sqlite", "postgresql", "mariadb"])
async def database(request: pytest.FixtureRequest, datasets: Datasets) -> AsyncIterator[str]:
    """Where the mock systems' tables are: "sqlite" (the dataset files themselves) or the URL of a fresh
    PostgreSQL or MariaDB database they were loaded into (dropped after)."""
    if request.param == "sqlite":
        yield "sqlite"
        return
    async with fresh_database(request.param) as database:
        await load_into(datasets, database.url, PROVINCIAL)
        yield database.config_url


def config_on(system: str, database: str, datasets: Datasets) -> ConnectorConfig:
    """The system's shipped config, its database source pointed at `database`."""
    if database == "sqlite":
        config = mock_config(system, datasets.directory)
    else:
        shipped = mock_config(system)
        assert shipped is not None
        sources = [
            s.model_copy(update={"url": database, "password": None}) if isinstance(s, DatabaseSource) else s
            for s in shipped.sources
        ]
        config = shipped.model_copy(update={"sources": sources})
    assert config is not None
    return config


def subjects(datasets: Datasets, field: str) -> list[str]:
    """Up to 8 subjects with records in each table keyed by `field`, and one with none."""
    found: list[str] = []
    for store in PROVINCIAL:
        with sqlite3.connect(datasets.path(store)) as db:
            for table, column in SUBJECTS[field]:
                if table in {t.name for t in store.TABLES}:
                    sql = f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL LIMIT 8"
                    found += [row[0] for row in db.execute(sql)]
    return [*dict.fromkeys(found), UNKNOWN if field == "citizen_id" else "0399999999"]


@pytest.mark.parametrize("system", sorted(MOCK_CONFIGS))
async def test_every_lookup_answers_what_the_dataset_holds(
    system: str, database: str, datasets: Datasets
) -> None:
    config = config_on(system, database, datasets)
    async with started_sources(config, CONFIGS) as sources:
        (backend,) = sources.backends
        assert isinstance(backend, DatabaseBackend) and backend.source.services
        for service in backend.source.services:
            store_type, fetch = LOOKUPS[service.code]
            (field,) = service.fields()
            async with await datasets.open(store_type) as store:
                answered = 0
                for subject in subjects(datasets, field):
                    held = await fetch(store, subject)
                    answered += bool(held)
                    key = "records" if isinstance(held, list) else "record"
                    expected = {"found": bool(held), key: held}
                    assert await backend.answer(service, {field: subject}) == expected, (
                        service.code,
                        subject,
                    )
                assert answered >= 3  # not only "nothing found"


@pytest.mark.parametrize("system", sorted(MOCK_CONFIGS))
async def test_every_evidence_answer_is_the_reference_holders(
    system: str, database: str, datasets: Datasets
) -> None:
    config = config_on(system, database, datasets)
    opened = [await datasets.open(store) for store in PROVINCIAL]
    reference = EvidenceHolder(system, CATALOGUE, opened, as_of=datasets.as_of)
    try:
        async with started_sources(config, CONFIGS) as sources:
            holder = sources.holder
            assert holder is not None and config.evidence is not None
            types = {d.document_type for d in config.evidence.documents}
            assert types == reference.holds  # every type the catalogue gives the system, no other
            held = 0
            for document_type in sorted(types):
                field = (
                    "tax_code"
                    if CATALOGUE.document_type(document_type).subject == "business"
                    else "citizen_id"
                )
                for subject in subjects(datasets, field):
                    for on in (datasets.as_of, datasets.as_of - timedelta(days=3 * 365)):
                        query = EvidenceQuery(document_type=document_type, subject=subject, on=on)
                        answer = await holder.serve_get(query.model_dump(mode="json"))
                        expected = await reference.get(query)
                        assert EvidenceAnswer.model_validate(answer) == expected, (document_type, subject, on)
                        held += expected.held
            assert held >= 3 * len(types)
    finally:
        for store in opened:
            await store.close()


async def test_a_registered_document_is_answered_until_a_later_one_replaces_it(
    database: str, datasets: Datasets
) -> None:
    config = config_on("HO-TICH", database, datasets)
    async with started_sources(config, CONFIGS) as sources:
        holder = sources.holder
        assert holder is not None

        def issued(day: date, content: str) -> dict[str, Any]:
            document = Document(
                document_type="marital-status-confirmation",
                subject=UNKNOWN,
                issued_on=day,
                valid_until=day + timedelta(days=180),
                content_hash=content * 64,
            )
            return {"document": document.model_dump(mode="json")}

        query = {"document_type": "marital-status-confirmation", "subject": UNKNOWN, "on": "2026-07-01"}
        assert (await holder.serve_get(query))["reason"] == "not found"
        assert await holder.serve_register(issued(date(2026, 6, 1), "b")) == {"registered": True}
        assert await holder.serve_register(issued(date(2026, 5, 1), "a")) == {"registered": False}
        answer = await holder.serve_get(query)
        assert answer["held"] and answer["document"]["content_hash"] == "b" * 64
        with pytest.raises(ValueError, match="HO-TICH does not hold document type 'identity'"):
            await holder.serve_get(query | {"document_type": "identity"})
