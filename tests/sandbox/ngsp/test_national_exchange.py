"""Exchanges beyond the province on the real broker: hub -> NGSP stub -> national DBs and other provinces."""

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from connectors.datasets import BusinessStore, Datasets, PopulationStore, generate_all
from connectors.evidence import dataset_document
from connectors.sdk import Connector, ExchangeError
from lgsp.settings import Settings
from sandbox.ngsp.gateway import NationalGateway
from sandbox.ngsp.national import PROVINCES
from sandbox.ngsp.service import running_gateway
from schemas.onceonly import EVIDENCE_GET, EVIDENCE_REGISTER, Document, EvidenceAnswer, content_hash
from tests.support import Broker, Hub, connector_for, eventually, make_agency, make_system, wait_connected
from tests.support.exchange import records


@pytest.fixture(scope="session")
async def national_datasets(tmp_path_factory: pytest.TempPathFactory) -> Datasets:
    """A small population with migrants from other provinces, and its businesses."""
    return await generate_all(tmp_path_factory.mktemp("national"), citizens=3000, seed=11)


@dataclass
class Beyond:
    gateway: NationalGateway
    client: Connector
    exempt: Connector
    datasets: Datasets
    settings: Settings
    hub: Hub
    client_key: str


async def grant_national(hub: Hub, agency: str, *services: tuple[str, str]) -> None:
    """Grant `agency` these (provider, service) pairs beyond the province, as an admin: the hub forwards
    nothing else to the NGSP (lgsp.catalogue.national)."""
    for provider, service in services:
        body = {"client_agency": agency, "provider": provider, "service": service}
        response = await hub.client.post("/api/v1/national-grants", json=body)
        assert response.status_code == 201, response.text


#: What the tests below ask of the national side; the NGSP decides on them (the hub granted them all,
#: even what the NGSP does not offer, so that its refusals are the NGSP's).
BEYOND = [
    ("VN/DAN-CU", "citizen.get"),
    ("VN/DAN-CU", EVIDENCE_GET),
    ("VN/DAN-CU", EVIDENCE_REGISTER),
    ("VN/DAN-CU", "land.get"),
    ("VN/DKDN", "enterprise.get"),
    ("XYZ/HO-TICH", "birth-record.get"),
    *((f"{area}/HO-TICH", "birth-record.get") for area in PROVINCES),
]


@pytest.fixture
async def beyond(
    hub: Hub, broker: Broker, settings: Settings, national_datasets: Datasets
) -> AsyncIterator[Beyond]:
    """MOT-CUA (in the national catalogue) and MAT-CA (exempt, so not in it), both connected, both
    granted by the hub what they ask beyond the province."""
    await make_agency(hub.client, "VP-UBND")
    await make_agency(hub.client, "CONG-AN")
    client = await make_system(hub.client, "MOT-CUA", "VP-UBND")
    exempt = await make_system(hub.client, "MAT-CA", "CONG-AN", exempt=True, exempt_reason="state secrets")
    await grant_national(hub, "VP-UBND", *BEYOND)
    await grant_national(hub, "CONG-AN", ("VN/DAN-CU", "citizen.get"))
    async with running_gateway(settings, broker.bootstrap, national_datasets) as gateway:
        connectors = [connector_for(s, settings, broker.bootstrap) for s in (client, exempt)]
        for connector in connectors:
            await connector.start()

        async def registered() -> bool:
            return (await gateway.registered()).get("MOT-CUA", False)

        await eventually(registered, what="MOT-CUA in the national catalogue")

        await wait_connected(hub.client, client)
        try:
            yield Beyond(
                gateway, connectors[0], connectors[1], national_datasets, settings, hub, client["api_key"]
            )
        finally:
            for connector in connectors:
                await connector.stop()


def migrant(datasets: Datasets, *, merged: bool = False) -> tuple[str, str]:
    """A citizen registered at birth in one of the other provinces, and that province's area code; with
    `merged`, in a province that has since been merged into another (its code retired on 1 July 2025)."""
    prefixes = {
        prefix: area for area, (codes, _) in PROVINCES.items() for prefix in (codes[1:] if merged else codes)
    }
    with sqlite3.connect(datasets.path(PopulationStore)) as db:
        for (citizen_id,) in db.execute("SELECT citizen_id FROM citizens ORDER BY citizen_id"):
            if citizen_id[:3] in prefixes:
                return citizen_id, prefixes[citizen_id[:3]]
    raise AssertionError("the dataset has no migrant from a simulated province")


async def test_a_national_request_crosses_the_ngsp_and_is_marked(beyond: Beyond) -> None:
    async with await beyond.datasets.open(PopulationStore) as people:
        [citizen] = await people.sample_citizens(1, seed=3)
        expected = await people.person(citizen)
    assert expected is not None
    answer = await beyond.client.request(
        "VN/DAN-CU", "citizen.get", {"citizen_id": citizen}, subject=citizen, purpose="identity-verification"
    )
    assert answer["found"] and answer["record"]["full_name"] == expected["full_name"]
    [record] = await records(beyond.settings)
    assert (record.client, record.provider, record.service) == ("MOT-CUA", "VN/DAN-CU", "citizen.get")
    assert record.crossed_ngsp and record.outcome == "success"
    assert record.request_in_at <= record.request_out_at <= record.response_in_at <= record.response_out_at  # type: ignore[operator]
    assert record.subject_hash and citizen not in record.subject_hash
    # The evidence: the client signed the request, the NGSP (not a provincial system) the answer.
    evidence = (await beyond.hub.client.get(f"/api/v1/exchanges/{record.id}/evidence")).json()
    assert evidence["verified"] is True
    assert evidence["request"]["owner"] == "MOT-CUA"
    assert evidence["response"]["owner"] == "@ngsp" and evidence["response"]["signer"].startswith("@ngsp:")


async def test_the_national_business_register_answers_by_tax_code(beyond: Beyond) -> None:
    async with await beyond.datasets.open(BusinessStore) as firms:
        [tax_code] = await firms.sample_tax_codes(1, seed=5)
        expected = await firms.business(tax_code)
    answer = await beyond.client.request("VN/DKDN", "enterprise.get", {"tax_code": tax_code})
    assert answer == {"found": True, "record": expected}


async def test_an_inter_provincial_request_reaches_the_province_of_birth(beyond: Beyond) -> None:
    citizen, area = migrant(beyond.datasets)
    answer = await beyond.client.request(f"{area}/HO-TICH", "birth-record.get", {"citizen_id": citizen})
    assert answer["found"] and answer["record"]["registered_in"] == PROVINCES[area][1]
    other = next(a for a in PROVINCES if a != area)  # another province holds no record of this birth
    assert (await beyond.client.request(f"{other}/HO-TICH", "birth-record.get", {"citizen_id": citizen})) == {
        "found": False,
        "record": None,
    }
    assert [r.crossed_ngsp for r in await records(beyond.settings)] == [True, True]


async def test_the_population_database_holds_identity_evidence_and_takes_registrations(
    beyond: Beyond,
) -> None:
    async with await beyond.datasets.open(PopulationStore) as people:
        [citizen] = await people.sample_citizens(1, seed=7)
        person = await people.person(citizen)
    on = beyond.datasets.as_of
    query = {"document_type": "identity", "subject": citizen, "on": on.isoformat()}
    answer = EvidenceAnswer.model_validate(
        await beyond.client.request(
            "VN/DAN-CU", EVIDENCE_GET, query, subject=citizen, purpose="marriage-registration"
        )
    )
    assert answer.held
    assert answer.document == dataset_document("identity", citizen, person, None, on=on, as_of=on)
    issued = Document(
        document_type="residence-confirmation",
        subject=citizen,
        issued_on=on,
        valid_until=None,
        content_hash=content_hash("residence-confirmation", citizen, {"household_id": "new"}),
    )
    registration = {"document": issued.model_dump(mode="json")}
    assert await beyond.client.request("VN/DAN-CU", EVIDENCE_REGISTER, registration) == {"registered": True}
    query["document_type"] = "residence-confirmation"
    answer = EvidenceAnswer.model_validate(await beyond.client.request("VN/DAN-CU", EVIDENCE_GET, query))
    assert answer.document == issued
    assert [(r.service, r.outcome, r.crossed_ngsp) for r in await records(beyond.settings)] == [
        (EVIDENCE_GET, "success", True),
        (EVIDENCE_REGISTER, "success", True),
        (EVIDENCE_GET, "success", True),
    ]


REFUSALS: list[tuple[str, str, str, dict[str, str], str]] = [
    ("exempt", "VN/DAN-CU", "citizen.get", {"citizen_id": "079203001234"}, "client.access_denied"),
    ("client", "VN/DAN-CU", "land.get", {}, "client.unknown_service"),
    (
        "client",
        "XYZ/HO-TICH",
        "birth-record.get",
        {"citizen_id": "079203001234"},
        "client.unknown_service",
    ),
    ("client", "VN/DAN-CU", "citizen.get", {"citizen_id": "79"}, "client.bad_request"),
    (
        "client",
        "VN/DAN-CU",
        "evidence.get",
        {"document_type": "birth-certificate", "subject": "079203001234", "on": "2026-07-01"},
        "client.bad_request",
    ),
]


async def test_the_ngsp_refuses_with_a_code_and_a_record(beyond: Beyond) -> None:
    # One world for every case (each costs a hub, the NGSP stub and connectors): each adds one record.
    for who, provider, service, payload, code in REFUSALS:
        connector: Connector = getattr(beyond, who)
        before = {r.id for r in await records(beyond.settings)}
        with pytest.raises(ExchangeError) as failed:
            await connector.request(provider, service, payload)
        assert failed.value.code == code, (who, provider, service)
        [record] = [r for r in await records(beyond.settings) if r.id not in before]
        assert (record.outcome, record.fault_code, record.crossed_ngsp) == ("fault", code, True), service


async def test_without_the_ngsp_a_national_request_times_out(
    hub: Hub, broker: Broker, settings: Settings, tmp_path: Path
) -> None:
    await make_agency(hub.client, "VP-UBND")
    system = await make_system(hub.client, "MOT-CUA", "VP-UBND")
    await grant_national(hub, "VP-UBND", ("VN/DAN-CU", "citizen.get"))
    client = connector_for(system, settings, broker.bootstrap)
    await client.start()
    try:
        await wait_connected(hub.client, system)
        with pytest.raises(ExchangeError) as failed:
            await client.request("VN/DAN-CU", "citizen.get", {"citizen_id": "079203001234"}, timeout=1.0)
        assert failed.value.code == "server.timeout"
    finally:
        await client.stop()
    [record] = await records(settings)
    assert (record.fault_code, record.crossed_ngsp) == ("server.timeout", True)


async def test_the_rest_facade_reaches_the_national_side_too(beyond: Beyond) -> None:
    async with await beyond.datasets.open(PopulationStore) as people:
        [citizen] = await people.sample_citizens(1, seed=9)
        expected = await people.person(citizen)
    assert expected is not None
    response = await beyond.hub.client.post(
        "/api/v1/exchange",
        json={"provider": "VN/DAN-CU", "service": "citizen.get", "payload": {"citizen_id": citizen}},
        headers=beyond.hub.as_key(beyond.client_key),
    )
    assert response.status_code == 200, response.text
    assert response.json()["payload"]["record"]["full_name"] == expected["full_name"]
    [record] = await records(beyond.settings)
    assert (record.provider, record.crossed_ngsp, record.outcome) == ("VN/DAN-CU", True, "success")


async def test_a_birth_registered_in_a_province_since_merged_is_answered_by_the_merged_one(
    beyond: Beyond,
) -> None:
    # E.g. an id starting 049 (Quảng Nam, before 1 July 2025): Thành phố Đà Nẵng holds that record now.
    citizen, area = migrant(beyond.datasets, merged=True)
    prefixes, name = PROVINCES[area]
    assert citizen[:3] in prefixes[1:]
    answer = await beyond.client.request(f"{area}/HO-TICH", "birth-record.get", {"citizen_id": citizen})
    assert answer["found"] and answer["record"]["registered_in"] == name
