"""The document-management system (QLVB): routing official documents between agencies over its register,
directly and through the real hub."""

import asyncio
import contextlib
import sqlite3
from collections.abc import AsyncIterator
from typing import Any

import pytest

from connectors.datasets import Datasets, generate_all
from connectors.datasets.documents import DocumentStore
from connectors.sdk import ExchangeError
from connectors.services import offerings_of, route_document, served_datasets
from lgsp.catalogue.models import ServiceCreate
from lgsp.settings import Settings
from tests.support import Broker, Hub, connector_for, eventually, make_agency, make_system

LETTER = {
    "number": "125/VP-KSTT",
    "kind": "Công văn",
    "issuing_agency": "VP-UBND",
    "receiving_agency": "SO-TP",
    "subject": "V/v đề nghị cung cấp dữ liệu hộ tịch phục vụ giải quyết thủ tục hành chính liên thông",
    "issued_on": "2026-07-01",
    "urgency": "khẩn",
}


@pytest.fixture(scope="module")
async def datasets(tmp_path_factory: pytest.TempPathFactory) -> Datasets:
    return await generate_all(tmp_path_factory.mktemp("documents"), citizens=400, seed=7)


@pytest.fixture
async def register(datasets: Datasets) -> AsyncIterator[DocumentStore]:
    """A freshly opened register: nothing routed yet."""
    async with await datasets.open(DocumentStore) as store:
        yield store


def held_row(datasets: Datasets) -> dict[str, Any]:
    """One document of the generated register, as its columns."""
    with sqlite3.connect(datasets.path(DocumentStore)) as db:
        db.row_factory = sqlite3.Row
        return dict(db.execute("SELECT * FROM documents WHERE receiving_agency = 'UBND-TINH'").fetchone())


async def test_a_routed_document_is_received_first_and_routing_it_again_changes_nothing(
    register: DocumentStore,
) -> None:
    before = await register.received_by("SO-TP", 5)
    routed = await route_document(register, LETTER)
    assert routed["routed"] is True
    document_id = routed["document_id"]
    received = await register.received_by("SO-TP", 5)
    assert received[0] == await register.document(document_id)
    assert received[0] | LETTER == received[0]  # it holds everything sent
    assert received[0]["status"] == "received"
    assert received[1:] == before[:4]

    assert await route_document(register, LETTER) == routed
    assert [r["document_id"] for r in await register.received_by("SO-TP", 5)] == [
        r["document_id"] for r in received
    ]
    # Numbers restart every year: the same number issued a year later is another document.
    next_year = await register.route(LETTER | {"issued_on": "2027-01-04"})
    assert next_year != document_id
    assert [r["document_id"] for r in await register.received_by("SO-TP", 2)] == [next_year, document_id]
    assert await register.received_by("SO-TP", 0) == []


async def test_concurrent_deliveries_of_one_document_store_it_once(register: DocumentStore) -> None:
    ids = await asyncio.gather(*(register.route(LETTER) for _ in range(5)))
    assert len(set(ids)) == 1
    received = [r["document_id"] for r in await register.received_by("SO-TP", 20)]
    assert received.count(ids[0]) == 1


async def test_routing_a_document_the_register_holds_returns_its_id(
    datasets: Datasets, register: DocumentStore
) -> None:
    held = held_row(datasets)
    before = await register.received_by("UBND-TINH", 20)
    payload = {key: held[key] for key in LETTER}
    assert await register.route(payload) == held["document_id"]
    assert await register.received_by("UBND-TINH", 20) == before  # nothing new was delivered
    with pytest.raises(ValueError, match="differs in signer, subject"):
        await register.route(payload | {"subject": "V/v khác", "signer": "Nguyễn Văn An"})


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (LETTER | {"number": "125"}, "does not match"),
        (LETTER | {"kind": "Thư"}, "is not one of"),
        (LETTER | {"urgency": "gấp"}, "is not one of"),
        (LETTER | {"issued_on": "01/07/2026"}, "does not match"),
        (LETTER | {"subject": ""}, "should be non-empty"),
        (LETTER | {"copy_to": "SO-YT"}, "Additional properties"),
        ({key: value for key, value in LETTER.items() if key != "urgency"}, "'urgency' is a required"),
        (LETTER | {"issued_on": "2026-02-30"}, "is not a date"),
        (LETTER | {"receiving_agency": "VP-UBND"}, "cannot route a document to itself"),
        (LETTER | {"subject": "V/v khác"}, "differs in subject"),  # its number is taken
    ],
)
async def test_bad_deliveries_are_refused(
    register: DocumentStore, payload: dict[str, str], message: str
) -> None:
    await register.route(LETTER)
    with pytest.raises(ValueError, match=message):
        await route_document(register, payload)


def test_the_declarations_are_accepted_by_the_hub_catalogue() -> None:
    declarations = [ServiceCreate.model_validate(o.declaration()) for o in offerings_of("QLVB")]
    assert [d.code for d in declarations] == ["document.get", "documents.received", "document.route"]


async def test_an_agency_routes_a_document_through_the_hub(
    hub: Hub, broker: Broker, settings: Settings, datasets: Datasets
) -> None:
    await make_agency(hub.client, "VP-UBND")
    provider = await make_system(hub.client, "QLVB", "VP-UBND")
    office = await make_system(hub.client, "MOT-CUA", "VP-UBND")
    for offering in offerings_of("QLVB"):
        path = f"/api/v1/systems/{provider['id']}/services"
        assert (await hub.client.post(path, json=offering.declaration())).status_code == 201
        grant = {"service": offering.code, "client_system": "MOT-CUA"}
        assert (
            await hub.client.post(f"/api/v1/systems/{provider['id']}/grants", json=grant)
        ).status_code == 201
    qlvb = connector_for(provider, settings, broker.bootstrap)
    client = connector_for(office, settings, broker.bootstrap)
    serving = contextlib.AsyncExitStack()
    await serving.enter_async_context(served_datasets(qlvb, datasets))
    try:
        await qlvb.start()
        await client.start()

        async def connected() -> bool:
            status = (await hub.client.get(f"/api/v1/systems/{provider['id']}/status")).json()
            return bool(status["lgsp_connected"])

        await eventually(connected, timeout=15, what="QLVB to connect")
        routed = await client.request("QLVB", "document.route", LETTER)
        assert routed["routed"] is True
        document_id = routed["document_id"]

        inbox = await client.request("QLVB", "documents.received", {"agency": "SO-TP"})
        assert inbox["found"] and 1 < len(inbox["records"]) <= 20
        first = inbox["records"][0]
        assert first["document_id"] == document_id and first | LETTER == first  # as sent
        assert all(record["receiving_agency"] == "SO-TP" for record in inbox["records"])
        got = await client.request("QLVB", "document.get", {"document_id": document_id})
        assert got == {"found": True, "record": first}

        # Delivered again (a retry): the same document, listed once.
        assert await client.request("QLVB", "document.route", LETTER) == routed
        again = await client.request("QLVB", "documents.received", {"agency": "SO-TP"})
        assert [r["document_id"] for r in again["records"]] == [r["document_id"] for r in inbox["records"]]

        with pytest.raises(ExchangeError) as refused:  # the hub checks the declared schema
            await client.request("QLVB", "document.route", LETTER | {"urgency": "gấp"})
        assert refused.value.code == "client.bad_request"
        with pytest.raises(ExchangeError) as missing:
            await client.request("QLVB", "document.route", {"number": LETTER["number"]})
        assert missing.value.code == "client.bad_request"
        with pytest.raises(ExchangeError) as reused:  # well formed, but the number is taken
            await client.request("QLVB", "document.route", LETTER | {"subject": "V/v khác"})
        assert reused.value.code == "server.provider_error"
        assert "differs in subject" in reused.value.message
    finally:
        await client.stop()
        await qlvb.stop()
        await serving.aclose()
