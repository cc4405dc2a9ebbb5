"""Worked once-only examples with known answers, end to end on the real broker and both databases.

One applicant files four dossiers through the one-stop shop; HO-TICH (served from generated data) is
the only holder. What each document became is checked dossier by dossier, then the three measures.
"""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import pytest

from connectors.datasets import Datasets, generate_all
from connectors.declarative.holder import evidence_declarations
from connectors.onestop import Filing, OneStopShop
from connectors.sdk import Connector
from connectors.services import served_datasets
from lgsp.settings import Settings
from schemas.messages import DossierReport
from schemas.onceonly import Catalogue, Document, content_hash, load_catalogue
from schemas.topics import Topics
from tests.bus.test_dead_letters import Letter, read_dead_letters
from tests.support import Broker, Hub, connector_for, eventually, make_agency, make_system, running_hub

CATALOGUE = """
document_types:
  birth-certificate: {name: Giấy khai sinh, subject: citizen, holder: HO-TICH}
  marriage-certificate: {name: Giấy chứng nhận kết hôn, subject: citizen, holder: HO-TICH}
  marital-status-confirmation:
    {name: Giấy xác nhận tình trạng hôn nhân, subject: citizen, holder: HO-TICH, validity_days: 30}
procedures:
  marital-status-confirmation-issuance:
    {name: Cấp xác nhận tình trạng hôn nhân, applicant: citizen, requires: [birth-certificate],
     produces: [marital-status-confirmation], weight: 1}
  marriage-registration:
    {name: Đăng ký kết hôn, applicant: citizen, requires: [marital-status-confirmation],
     produces: [marriage-certificate], weight: 1}
  birth-registration:
    {name: Đăng ký khai sinh, applicant: citizen, requires: [marriage-certificate], weight: 1}
"""
# Born in 2099 by its digits: no generated citizen has this id, so HO-TICH holds nothing about them.
APPLICANT = "079399000001"
# Days of the last three months: the ledger bounds a dossier's day to within 90 days before the hub's
# own and a day after the report (lgsp/onceonly/claims.py), so the dossiers are dated as they would be.
DAY = datetime.now(UTC).date() - timedelta(days=60)


@pytest.fixture(scope="module")
async def civil_status(tmp_path_factory: pytest.TempPathFactory) -> Datasets:
    return await generate_all(tmp_path_factory.mktemp("civil"), citizens=200, seed=3)


@dataclass
class Office:
    hub: Hub
    shop: OneStopShop
    holder: Connector
    holder_id: int


@pytest.fixture
async def office(
    settings: Settings, broker: Broker, civil_status: Datasets, tmp_path: Path
) -> AsyncIterator[Office]:
    """The hub with the test catalogue, HO-TICH serving evidence to MOT-CUA, both connected."""
    path = tmp_path / "catalogue.yaml"
    path.write_text(CATALOGUE, encoding="utf-8")
    catalogue: Catalogue = load_catalogue(path)
    configured = settings.model_copy(update={"catalogue": path})
    async with running_hub(configured, broker.bootstrap) as hub:
        await make_agency(hub.client, "SO-TP")
        await make_agency(hub.client, "VP-UBND")
        holder_system = await make_system(hub.client, "HO-TICH", "SO-TP")
        office_system = await make_system(hub.client, "MOT-CUA", "VP-UBND")
        for declaration in evidence_declarations():
            url = f"/api/v1/systems/{holder_system['id']}"
            assert (await hub.client.post(f"{url}/services", json=declaration)).status_code == 201
            grant = {"service": declaration["code"], "client_agency": "VP-UBND"}
            assert (await hub.client.post(f"{url}/grants", json=grant)).status_code == 201
        holder = connector_for(holder_system, configured, broker.bootstrap)
        client = connector_for(office_system, configured, broker.bootstrap)
        async with served_datasets(holder, civil_status, catalogue):
            await holder.start()
            await client.start()
            try:
                await wait_connected(hub, holder_system["id"], True)
                # A holder that is up answers well within 5 s even on a loaded machine.
                shop = OneStopShop(client, catalogue, lookup_timeout=5.0)
                yield Office(hub, shop, holder, holder_system["id"])
            finally:
                await client.stop()
                await holder.stop()


async def wait_connected(hub: Hub, system_id: int, connected: bool) -> None:
    async def reached() -> bool:
        status = (await hub.client.get(f"/api/v1/systems/{system_id}/status")).json()
        return bool(status["lgsp_connected"]) == connected

    await eventually(reached, timeout=15, what=f"HO-TICH connected={connected}")
    await asyncio.sleep(1.0)  # the router's cached directory may be up to a second older than this


async def recorded(hub: Hub, report: DossierReport) -> dict[str, Any]:
    """The dossier as the hub's ledger recorded it, once it has."""
    url = f"/api/v1/dossiers/{report.dossier_id}"

    async def present() -> bool:
        return (await hub.client.get(url)).status_code == 200

    await eventually(present, timeout=15, what=f"dossier {report.procedure} in the ledger")
    body: dict[str, Any] = (await hub.client.get(url)).json()
    return body


def paper(document_type: str, issued_on: date) -> Document:
    """A copy the applicant got elsewhere (the holder never registered it)."""
    return Document(
        document_type=document_type,
        subject=APPLICANT,
        issued_on=issued_on,
        content_hash=content_hash(document_type, APPLICANT, {"issued": issued_on.isoformat()}),
    )


async def test_first_filing_reuse_resubmission_and_expiry(office: Office) -> None:
    hub, shop = office.hub, office.shop

    # 1. First time: HO-TICH holds nothing about the applicant, who hands in a birth certificate.
    birth = paper("birth-certificate", DAY - timedelta(days=9000))
    first = await shop.file(
        Filing("marital-status-confirmation-issuance", APPLICANT, DAY, {"birth-certificate": birth})
    )
    one = await recorded(hub, first)
    assert [(d["outcome"], d["lookup"], d["cause"]) for d in one["documents"]] == [
        ("first_submission", "not_held", None)
    ]
    assert one["resubmissions"] == 0 and one["applicant_hash"] != APPLICANT
    [confirmation] = first.outputs  # registered with HO-TICH as the dossier completed

    # 2. The next procedure needs that confirmation: HO-TICH holds it now, nothing is asked.
    second = await shop.file(Filing("marriage-registration", APPLICANT, DAY + timedelta(days=10)))
    two = await recorded(hub, second)
    assert [(d["outcome"], d["lookup"]) for d in two["documents"]] == [("reused", "held")]
    assert second.components[0].content_hash == confirmation.content_hash
    [marriage] = second.outputs

    # 3. HO-TICH is down: the applicant must hand in the marriage certificate the state already holds.
    await office.holder.stop()
    third = await shop.file(
        Filing("birth-registration", APPLICANT, DAY + timedelta(days=20), {"marriage-certificate": marriage})
    )
    three = await recorded(hub, third)
    assert [(d["outcome"], d["lookup"], d["cause"]) for d in three["documents"]] == [
        ("resubmission", "holder_unreachable", "holder_unreachable")
    ]
    assert three["documents"][0]["reason"] in ("server.provider_unreachable", "server.timeout")

    # 4. Back up, 50 days on: the confirmation (valid 30 days) has expired, so it is not reused, and
    # handing in the old copy is not a re-submission either: no valid copy was held.
    await office.holder.start()
    await wait_connected(hub, office.holder_id, True)
    fourth = await shop.file(
        Filing(
            "marriage-registration",
            APPLICANT,
            DAY + timedelta(days=50),
            {"marital-status-confirmation": confirmation},
        )
    )
    four = await recorded(hub, fourth)
    assert [(d["outcome"], d["lookup"], d["reason"]) for d in four["documents"]] == [
        ("first_submission", "not_held", "expired")
    ]

    # The measures over these four dossiers, by hand: dossiers 1, 2 and 4 are clean (3/4); the one
    # applicant had a re-submission (0/1); only dossier 2 reused anything (1/4).
    once = (await hub.client.get("/api/v1/indicators", headers={"Authorization": ""})).json()["once_only"]
    assert (once["by_dossier"]["numerator"], once["by_dossier"]["denominator"]) == (3, 4)
    assert (once["by_applicant"]["numerator"], once["by_applicant"]["denominator"]) == (0, 1)
    assert (once["reuse"]["numerator"], once["reuse"]["denominator"]) == (1, 4)
    assert once["reuse"]["points"] == pytest.approx(0.25 / 0.8)


async def test_a_redelivered_dossier_report_is_recorded_once(office: Office) -> None:
    birth = paper("birth-certificate", DAY - timedelta(days=9000))
    report = await office.shop.file(
        Filing("marital-status-confirmation-issuance", APPLICANT, DAY, {"birth-certificate": birth})
    )
    await recorded(office.hub, report)
    await office.shop.connector.report_dossier(report)  # the same report again, as after a crash
    await office.shop.connector.report_dossier(report)
    # A later dossier proves the ledger consumed past the duplicates.
    later = await office.shop.file(Filing("marriage-registration", APPLICANT, DAY + timedelta(days=1)))
    await recorded(office.hub, later)
    page = (await office.hub.client.get("/api/v1/dossiers")).json()
    assert page["total"] == 2


async def test_a_report_that_contradicts_the_catalogue_is_dead_lettered(
    office: Office, broker: Broker
) -> None:
    birth = paper("birth-certificate", DAY)
    report = await office.shop.file(
        Filing("marital-status-confirmation-issuance", APPLICANT, DAY, {"birth-certificate": birth})
    )
    await recorded(office.hub, report)
    # A new message (its own id: the same one again would be refused as a replay, before the catalogue).
    wrong = report.model_copy(
        update={"message_id": uuid4(), "dossier_id": uuid4(), "procedure": "marriage-registration"}
    )
    await office.shop.connector.report_dossier(wrong)

    def arrived(letters: list[Letter]) -> bool:
        return any(str(wrong.dossier_id) in x.letter.original.decode() for x in letters)

    topics = Topics(office.hub.settings.topic_prefix)
    letters = await read_dead_letters(broker.bootstrap, topics, arrived)
    [letter] = [x.letter for x in letters if str(wrong.dossier_id) in x.letter.original.decode()]
    assert letter.reason == "invalid" and "requires" in letter.detail
    assert (await office.hub.client.get(f"/api/v1/dossiers/{wrong.dossier_id}")).status_code == 404
