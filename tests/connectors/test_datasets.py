"""The mock provincial datasets: deterministic, well-formed, consistent across stores, and quick to build."""

import re
import time
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import aiosqlite
import pytest

from connectors.datasets import (
    DEFAULT_AS_OF,
    STORES,
    BusinessStore,
    CivilStatusStore,
    Datasets,
    LandStore,
    PopulationStore,
    Profile,
    SocialInsuranceStore,
    generate_all,
)
from connectors.datasets.business import tax_code
from connectors.datasets.documents import (
    DOCUMENTS,
    KINDS,
    MIN_DOCUMENTS,
    STATUSES,
    URGENCIES,
    DocumentStore,
    document_id,
)
from connectors.datasets.places import COMMUNE_BY_CODE, COMMUNES, MIGRANT_PROVINCES
from connectors.datasets.population import CITIZENS
from connectors.datasets.sqlite import BatchWriter
from connectors.mock import AGENCIES, COMMUNE_UNITS, commune_agencies

PROVINCE_CODES = {"079", *MIGRANT_PROVINCES.items}


async def query(path: Path, sql: str) -> list[Any]:
    async with aiosqlite.connect(path) as db, db.execute(sql) as cursor:
        return list(await cursor.fetchall())


async def dump(datasets: Datasets) -> dict[str, list[str]]:
    """Every statement that recreates every store, schema and rows in rowid order."""
    dumps = {}
    for store in STORES:
        async with aiosqlite.connect(datasets.path(store)) as db:
            dumps[store.DATASET] = [line async for line in db.iterdump()]
    return dumps


def file_names(directory: Path) -> list[str]:
    return sorted(path.name for path in directory.iterdir())


def age(birth: str, on: str | date) -> int:
    born, day = date.fromisoformat(birth), on if isinstance(on, date) else date.fromisoformat(on)
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@pytest.fixture(scope="module")
async def datasets(tmp_path_factory: pytest.TempPathFactory) -> Datasets:
    return await generate_all(tmp_path_factory.mktemp("datasets"), citizens=5_000, seed=42)


@pytest.fixture(scope="module")
async def people(datasets: Datasets) -> dict[str, dict[str, Any]]:
    """Every citizen, by id."""
    async with await datasets.open(PopulationStore) as store:
        columns = CITIZENS.column_names
        rows = await query(datasets.path(PopulationStore), f"SELECT {', '.join(columns)} FROM citizens")
        assert await store.count(CITIZENS) == len(rows)
    return {row[0]: dict(zip(columns, row, strict=True)) for row in rows}


@pytest.fixture
async def stores(datasets: Datasets) -> AsyncIterator[dict[type, Any]]:
    opened = {store: await datasets.open(store) for store in STORES}
    yield opened
    for store in opened.values():
        await store.close()


async def test_same_seed_gives_identical_rows(tmp_path: Path) -> None:
    first = await generate_all(tmp_path / "a", citizens=2_000, seed=7)
    second = await generate_all(tmp_path / "b", citizens=2_000, seed=7)
    assert first.counts == second.counts
    assert await dump(first) == await dump(second)

    # Regenerating in place with another seed replaces every store and leaves no partial files.
    other = await generate_all(tmp_path / "a", citizens=2_000, seed=8)
    other_dump, first_dump = await dump(other), await dump(second)
    assert all(other_dump[name] != first_dump[name] for name in other_dump)
    expected = ["manifest.json", *(store.file_name() for store in STORES)]
    assert file_names(tmp_path / "a") == sorted(expected)


async def test_sizes_are_configurable(tmp_path: Path) -> None:
    none = Profile(confirmation_share=0, land_holding_share=0, business_owner_share=0, insured_share=1)
    reports: list[tuple[str, int, int]] = []
    datasets = await generate_all(
        tmp_path, citizens=777, seed=1, profile=none, batch_size=100, progress=lambda *r: reports.append(r)
    )
    assert datasets.counts["citizens"] == 777
    assert datasets.counts["health_insurance_cards"] == 777
    assert datasets.counts["land_use_certificates"] == datasets.counts["businesses"] == 0
    assert datasets.counts["marital_status_confirmations"] == 0
    assert Datasets.load(tmp_path) == datasets
    # Every store reports from zero to all citizens, in several steps of about `batch_size`.
    for store in STORES:
        steps = [done for name, done, total in reports if name == store.DATASET and total == 777]
        assert steps[0] == 0 and steps[-1] == 777 and len(steps) > 5
        assert steps == sorted(steps)


async def test_citizen_ids_follow_the_cccd_format(people: dict[str, dict[str, Any]]) -> None:
    assert len(people) == 5_000
    for citizen_id, person in people.items():
        assert re.fullmatch(r"\d{12}", citizen_id)
        assert citizen_id[:3] in PROVINCE_CODES
        year = int(person["birth_date"][:4])
        expected = 2 * (year // 100 - 19) + (person["gender"] == "female")
        assert citizen_id[3] == str(expected), person
        assert citizen_id[4:6] == f"{year % 100:02d}"
    # Most people are registered in the city; children born here always are.
    born_here = sum(citizen_id.startswith("079") for citizen_id in people)
    assert 0.6 < born_here / len(people) < 0.95
    assert all(cid.startswith("079") for cid, p in people.items() if p["relation_to_head"] == "Con")


async def test_people_look_vietnamese(people: dict[str, dict[str, Any]]) -> None:
    families = Counter(person["full_name"].split()[0] for person in people.values())
    assert 0.3 < families["Nguyễn"] / len(people) < 0.5
    assert {"Trần", "Lê", "Phạm", "Huỳnh", "Võ", "Đặng", "Bùi", "Ngô"} <= set(families)
    for person in people.values():
        words = person["full_name"].split()
        assert len(words) >= 3
        assert words[1] != ("Thị" if person["gender"] == "male" else "Văn")
        assert person["commune_code"] in COMMUNE_BY_CODE
        assert person["permanent_address"].endswith(COMMUNE_BY_CODE[person["commune_code"]].full_name)
        # Two levels since 1 July 2025: the unit, then the city; no district in an address.
        assert person["permanent_address"].endswith(", Thành phố Hồ Chí Minh")
        assert not re.search(r"\b(Quận|Huyện|Thị trấn)\b", person["permanent_address"])
        assert 0 <= age(person["birth_date"], DEFAULT_AS_OF) <= 100
    assert len({commune.code for commune in COMMUNES.items}) == len(COMMUNES.items)


async def test_families_hold_together(people: dict[str, dict[str, Any]]) -> None:
    households = Counter(person["household_id"] for person in people.values())
    assert 2.8 < len(people) / len(households) < 4.0
    for person in people.values():
        if person["spouse_id"]:
            spouse = people[person["spouse_id"]]
            assert spouse["spouse_id"] == person["citizen_id"]
            assert spouse["gender"] != person["gender"]
        for parent_key, gender, youngest in (("father_id", "male", 21), ("mother_id", "female", 20)):
            if person[parent_key]:
                parent = people[person[parent_key]]
                assert parent["gender"] == gender
                assert parent["household_id"] == person["household_id"]
                assert age(parent["birth_date"], person["birth_date"]) >= youngest


async def test_records_refer_to_people_who_exist(
    datasets: Datasets, people: dict[str, dict[str, Any]]
) -> None:
    civil = datasets.path(CivilStatusStore)
    births = await query(
        civil, "SELECT child_id, father_id, mother_id, birth_date, registration_date FROM birth_records"
    )
    assert len(births) > 1_000
    for child_id, father_id, mother_id, born, registered in births:
        assert people[child_id]["father_id"] == father_id
        assert people[child_id]["mother_id"] == mother_id
        assert father_id in people or father_id is None
        assert mother_id in people or mother_id is None
        assert born == people[child_id]["birth_date"] < registered <= DEFAULT_AS_OF.isoformat()

    marriages = await query(civil, "SELECT husband_id, wife_id, registration_date FROM marriage_records")
    assert len(marriages) > 500
    for husband_id, wife_id, registered in marriages:
        assert people[husband_id]["spouse_id"] == wife_id
        assert age(people[husband_id]["birth_date"], registered) >= 20
        assert age(people[wife_id]["birth_date"], registered) >= 18

    confirmed = await query(civil, "SELECT citizen_id, marital_status FROM marital_status_confirmations")
    assert confirmed
    for citizen_id, status in confirmed:
        assert status.startswith("Đang có") == bool(people[citizen_id]["spouse_id"])

    land = await query(datasets.path(LandStore), "SELECT holder_id, co_holder_id FROM land_use_certificates")
    assert len(land) > 500
    for holder_id, co_holder_id in land:
        assert people[holder_id]["relation_to_head"] == "Chủ hộ"
        assert co_holder_id is None or people[holder_id]["spouse_id"] == co_holder_id

    owners = await query(datasets.path(BusinessStore), "SELECT owner_id, owner_name FROM businesses")
    assert len(owners) > 50
    assert all(people[owner_id]["full_name"] == name for owner_id, name in owners)

    cards = await query(
        datasets.path(SocialInsuranceStore),
        "SELECT holder_id, holder_name, birth_date FROM health_insurance_cards",
    )
    assert 0.85 < len(cards) / len(people) < 0.99
    for holder_id, name, born in cards:
        assert (people[holder_id]["full_name"], people[holder_id]["birth_date"]) == (name, born)


async def test_document_numbers_are_well_formed(
    datasets: Datasets, people: dict[str, dict[str, Any]]
) -> None:
    certificates = await query(datasets.path(LandStore), "SELECT certificate_no FROM land_use_certificates")
    assert all(re.fullmatch(r"[A-Z]{2} \d{6}", number) for (number,) in certificates)
    assert len(set(certificates)) == len(certificates)

    codes = await query(datasets.path(BusinessStore), "SELECT tax_code, kind, name FROM businesses")
    for code, kind, name in codes:
        assert re.fullmatch(r"\d{10}", code) and tax_code(code[:9]) == code
        assert code.startswith("03") if kind == "enterprise" else code.startswith("8")
        assert name.startswith("Hộ kinh doanh") == (kind == "household")
    assert len({code for code, _, _ in codes}) == len(codes)

    cards = await query(
        datasets.path(SocialInsuranceStore),
        "SELECT card_no, social_insurance_no, holder_id, beneficiary_code, valid_from, valid_to"
        " FROM health_insurance_cards",
    )
    for card_no, insurance_no, holder_id, group, valid_from, valid_to in cards:
        assert re.fullmatch(r"[A-Z]{2}[1-5]79\d{10}", card_no) and card_no[5:] == insurance_no
        assert insurance_no.startswith("79") and card_no.startswith(group)
        assert valid_from < valid_to
        assert (group == "TE") == (age(people[holder_id]["birth_date"], DEFAULT_AS_OF) < 6)
    assert len({card[0] for card in cards}) == len(cards)
    # A few cards lapsed; the rest are valid on the reference date.
    current = sum(valid_from <= DEFAULT_AS_OF.isoformat() <= valid_to for *_, valid_from, valid_to in cards)
    assert 0.9 < current / len(cards) < 1


async def test_lookups_return_what_was_generated(
    datasets: Datasets, people: dict[str, dict[str, Any]], stores: dict[type, Any]
) -> None:
    population: PopulationStore = stores[PopulationStore]
    civil: CivilStatusStore = stores[CivilStatusStore]
    land: LandStore = stores[LandStore]
    business: BusinessStore = stores[BusinessStore]
    insurance: SocialInsuranceStore = stores[SocialInsuranceStore]

    citizen_id = next(iter(people))
    assert await population.person(citizen_id) == people[citizen_id]
    members = await population.household(people[citizen_id]["household_id"])
    assert members[0]["relation_to_head"] == "Chủ hộ" and people[citizen_id] in members

    (child_id, record_no), *_ = await query(
        datasets.path(CivilStatusStore), "SELECT child_id, record_no FROM birth_records"
    )
    birth = await civil.birth_record(child_id)
    assert (
        birth is not None
        and birth["record_no"] == record_no
        and birth["child_name"] == people[child_id]["full_name"]
    )
    assert re.fullmatch(r"\d+/\d{4}", record_no)

    (husband_id, wife_id), *_ = await query(
        datasets.path(CivilStatusStore), "SELECT husband_id, wife_id FROM marriage_records"
    )
    assert await civil.marriage_records(husband_id) == await civil.marriage_records(wife_id) != []

    (confirmed_id,), *_ = await query(
        datasets.path(CivilStatusStore), "SELECT citizen_id FROM marital_status_confirmations"
    )
    confirmation = (await civil.marital_status_confirmations(confirmed_id))[0]
    assert confirmation["valid_until"] > confirmation["issued_date"]

    (holder_id, co_holder_id, number), *_ = await query(
        datasets.path(LandStore),
        "SELECT holder_id, co_holder_id, certificate_no FROM land_use_certificates"
        " WHERE co_holder_id IS NOT NULL",
    )
    certificate = await land.land_certificate(number)
    assert certificate is not None and certificate["valid"] in (True, False)
    assert certificate in await land.land_certificates(holder_id)
    assert certificate in await land.land_certificates(co_holder_id)

    (code, owner_id), *_ = await query(
        datasets.path(BusinessStore), "SELECT tax_code, owner_id FROM businesses"
    )
    found = await business.business(code)
    assert found is not None and found["owner_id"] == owner_id
    assert found in await business.businesses_of(owner_id)

    (card_holder,), *_ = await query(
        datasets.path(SocialInsuranceStore), "SELECT holder_id FROM health_insurance_cards"
    )
    card = await insurance.health_card(card_holder)
    assert card is not None and card["holder_id"] == card_holder and isinstance(card["benefit_level"], int)

    unknown = "079099999999"
    assert unknown not in people
    assert await population.person(unknown) is None
    assert await civil.birth_record(unknown) is None
    assert await land.land_certificates(unknown) == []
    assert await business.business("0300000000") is None
    assert await insurance.health_card(unknown) is None


async def test_samples_are_reproducible_and_exist(
    people: dict[str, dict[str, Any]], stores: dict[type, Any]
) -> None:
    population: PopulationStore = stores[PopulationStore]
    sample = await population.sample_citizens(300, seed=5)
    assert sample == await population.sample_citizens(300, seed=5)
    assert sample != await population.sample_citizens(300, seed=6)
    assert len(set(sample)) == 300 and set(sample) <= people.keys()
    assert sorted(await population.sample_citizens(len(people), seed=1)) == sorted(people)

    codes = await stores[BusinessStore].sample_tax_codes(10, seed=5)
    assert all([await stores[BusinessStore].business(code) for code in codes])


async def test_opening_a_missing_store_fails_instead_of_creating_it(tmp_path: Path) -> None:
    with pytest.raises(aiosqlite.OperationalError):
        await LandStore.open(tmp_path / LandStore.file_name())
    assert file_names(tmp_path) == []


async def test_a_failed_build_leaves_no_file(tmp_path: Path) -> None:
    target = tmp_path / "population.sqlite"
    with pytest.raises(RuntimeError, match="boom"):
        async with BatchWriter(target, [CITIZENS]):
            raise RuntimeError("boom")
    assert file_names(tmp_path) == []


async def test_a_medium_population_is_quick(tmp_path: Path) -> None:
    started = time.perf_counter()
    datasets = await generate_all(tmp_path, citizens=20_000, seed=3)
    elapsed = time.perf_counter() - started
    assert datasets.counts["citizens"] == 20_000
    assert sum(datasets.counts.values()) > 50_000
    # About 0.8 s on the 2-core reference machine; the bound leaves room for a loaded CI runner.
    assert elapsed < 8, f"20,000 citizens took {elapsed:.1f} s"


async def test_documents_are_reproducible_and_leave_the_other_stores_alone(tmp_path: Path) -> None:
    first = await generate_all(tmp_path / "a", citizens=1_000, seed=11)
    again = await generate_all(tmp_path / "b", citizens=1_000, seed=11, batch_size=97)
    busier = await generate_all(
        tmp_path / "c", citizens=1_000, seed=11, profile=Profile(documents_per_citizen=1)
    )
    reseeded = await generate_all(tmp_path / "d", citizens=1_000, seed=12)
    dumps = [await dump(datasets) for datasets in (first, again, busier, reseeded)]
    # The same seed gives the same register, however the population is batched.
    assert dumps[0] == dumps[1]
    assert dumps[3]["documents"] != dumps[0]["documents"]
    # About one document per 20 citizens, never fewer than the minimum, or as the profile says.
    assert first.counts["documents"] == MIN_DOCUMENTS
    assert busier.counts["documents"] == 1_000
    # The register draws from its own random stream: its size changes no other store.
    others = [{name: rows for name, rows in d.items() if name != "documents"} for d in (dumps[0], dumps[2])]
    assert others[0] == others[1]


async def test_documents_look_like_a_real_register(datasets: Datasets) -> None:
    columns = DOCUMENTS.column_names
    rows = await query(
        datasets.path(DocumentStore), f"SELECT {', '.join(columns)} FROM documents ORDER BY rowid"
    )
    documents = [dict(zip(columns, row, strict=True)) for row in rows]
    assert len(documents) == datasets.counts["documents"] == max(MIN_DOCUMENTS, 5_000 // 20)
    communes = {agency.code for agency in commune_agencies(len(COMMUNE_UNITS))}
    known = {agency.code for agency in AGENCIES} | communes
    departments = {code for code in known if code.startswith(("SO-", "BHXH"))}
    titles = {"Chủ tịch", "Giám đốc", "Chánh Văn phòng"}
    first_day = date(DEFAULT_AS_OF.year - 2, 1, 1)
    serials: defaultdict[tuple[str, int], list[int]] = defaultdict(list)
    signers: defaultdict[str, set[str]] = defaultdict(set)
    for document in documents:
        issuer, receiver, kind = document["issuing_agency"], document["receiving_agency"], document["kind"]
        assert issuer in known and receiver in known and issuer != receiver
        issued = date.fromisoformat(document["issued_on"])
        received = datetime.fromisoformat(document["received_at"])
        assert first_day <= issued < DEFAULT_AS_OF and issued.weekday() < 5
        assert issued <= received.date() < DEFAULT_AS_OF and 7 <= received.hour < 17
        assert received.utcoffset() == timedelta(hours=7)
        # "05/STP-HCTP" for a công văn (issuer, then drafting unit), "12/QĐ-UBND" for the other kinds.
        number = re.fullmatch(r"(\d{2,})/([A-Za-zĐ]+)-([A-ZĐ0-9]+)", document["number"])
        assert number, document
        if kind == "Công văn":
            assert number[2] not in KINDS.values() and document["subject"].startswith("V/v ")
        else:
            assert number[2] == KINDS[kind]
        if kind in ("Quyết định", "Tờ trình"):
            assert document["subject"].startswith("Về việc ")
        if kind in ("Tờ trình", "Báo cáo"):  # submitted upwards
            assert receiver == "UBND-TINH" or (issuer in communes and receiver in departments)
        assert document["document_id"] == document_id(issuer, issued.year, document["number"])
        assert document["urgency"] in URGENCIES and document["status"] in STATUSES
        assert len(document["signer"].split()) >= 3
        assert document["signer_title"].removeprefix("Phó ") in titles
        assert "{" not in document["subject"]  # every template placeholder was filled
        serials[issuer, issued.year].append(int(number[1]))
        signers[issuer].add(document["signer"])
    assert len({document["document_id"] for document in documents}) == len(documents)
    # Rows are in issue order; each agency numbers its documents 1, 2, 3... afresh every year.
    assert [d["issued_on"] for d in documents] == sorted(d["issued_on"] for d in documents)
    assert all(numbers == list(range(1, len(numbers) + 1)) for numbers in serials.values())
    assert {year for _, year in serials} == {first_day.year, first_day.year + 1, DEFAULT_AS_OF.year}
    # The same few leaders sign an agency's documents throughout.
    assert all(len(names) <= 4 for names in signers.values())
    kinds = Counter(document["kind"] for document in documents)
    assert set(kinds) == set(KINDS) and kinds.most_common(1)[0][0] == "Công văn"
    assert Counter(document["urgency"] for document in documents).most_common(1)[0][0] == "thường"
    # Old documents have been dealt with; only recent ones may still wait.
    old = [d for d in documents if d["received_at"] < (DEFAULT_AS_OF - timedelta(days=90)).isoformat()]
    assert sum(d["status"] == "done" for d in old) / len(old) > 0.9
    assert all(d["status"] != "received" for d in old)


async def test_document_lookups_return_what_was_generated(
    datasets: Datasets, stores: dict[type, Any]
) -> None:
    documents: DocumentStore = stores[DocumentStore]
    ids = await documents.sample_ids(20, seed=3)
    assert ids == await documents.sample_ids(20, seed=3) != await documents.sample_ids(20, seed=4)
    assert len(set(ids)) == 20
    for identifier in ids:
        found = await documents.document(identifier)
        assert found is not None and found["document_id"] == identifier

    received = await documents.received_by("UBND-TINH", 10)
    assert len(received) == 10 and {r["receiving_agency"] for r in received} == {"UBND-TINH"}
    times = [r["received_at"] for r in received]
    assert times == sorted(times, reverse=True)
    ((latest,),) = await query(
        datasets.path(DocumentStore),
        "SELECT max(received_at) FROM documents WHERE receiving_agency = 'UBND-TINH'",
    )
    assert times[0] == latest

    assert await documents.document("VB-0000000000000000") is None
    assert await documents.received_by("UBND-H99") == []
