"""What an office claims in a dossier report is checked (issue 16, "indicators the measured can bend").

A one-stop shop reports its dossiers itself, so nothing stopped one from claiming documents as reused
without ever asking their holder, or from dating a dossier years back. The ledger now counts a claimed
reuse only when a successful `evidence.get` exchange of that office, for that subject, at the holder of
that document type, is on record (each exchange backing one document once); anything else is an
unverified reuse: shown in the once-only report, counted neither as reuse nor as re-submission. And
`received_on` is bounded by when the report was made.

End to end on the real broker, SQLite and PostgreSQL: the office and the holder are real connectors, the
lookups real exchanges, the reports signed by the office.
"""

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from connectors.sdk import Connector
from lgsp.settings import Settings
from schemas.messages import DossierComponent, DossierReport
from schemas.onceonly import EVIDENCE_GET, content_hash
from tests.support import Broker, Hub, connector_for, eventually, make_agency, make_system, running_hub
from tests.support import wait_connected as connected

CATALOGUE = """
document_types:
  birth-certificate: {name: Giấy khai sinh, subject: citizen, holder: HO-TICH}
procedures:
  marital-status-confirmation-issuance:
    {name: Cấp xác nhận tình trạng hôn nhân, applicant: citizen, requires: [birth-certificate], weight: 1}
"""
PROCEDURE = "marital-status-confirmation-issuance"
#: How far back from the hub's day a dossier may have been received (lgsp.onceonly.service).
RECEIVED_WITHIN_DAYS = 90
LOOKED_UP, NEVER_LOOKED_UP = "079399000011", "079399000012"


@dataclass
class Office:
    hub: Hub
    office: Connector
    lookups: list[dict[str, Any]]


@pytest.fixture
async def office(settings: Settings, broker: Broker, tmp_path: Path) -> AsyncIterator[Office]:
    """MOT-CUA may ask HO-TICH for evidence; HO-TICH holds a birth certificate of everyone."""
    path = tmp_path / "catalogue.yaml"
    path.write_text(CATALOGUE, encoding="utf-8")
    async with running_hub(settings.model_copy(update={"catalogue": path}), broker.bootstrap) as hub:
        await make_agency(hub.client, "SO-TP")
        await make_agency(hub.client, "VP-UBND")
        holder_system = await make_system(hub.client, "HO-TICH", "SO-TP")
        office_system = await make_system(hub.client, "MOT-CUA", "VP-UBND")
        url = f"/api/v1/systems/{holder_system['id']}"
        assert (await hub.client.post(f"{url}/services", json={"code": EVIDENCE_GET})).status_code == 201
        grant = {"service": EVIDENCE_GET, "client_system": "MOT-CUA"}
        assert (await hub.client.post(f"{url}/grants", json=grant)).status_code == 201
        holder = connector_for(holder_system, settings, broker.bootstrap)
        lookups: list[dict[str, Any]] = []

        @holder.service(EVIDENCE_GET)
        async def held(payload: dict[str, Any]) -> dict[str, Any]:
            lookups.append(payload)
            return {"held": True}

        client = connector_for(office_system, settings, broker.bootstrap)
        await holder.start()
        await client.start()
        try:
            await connected(hub.client, holder_system)
            yield Office(hub, client, lookups)
        finally:
            await client.stop()
            await holder.stop()


def report(office: Connector, applicant: str, received_on: date, source: str = "reused") -> DossierReport:
    component = DossierComponent(
        document_type="birth-certificate",
        source="reused" if source == "reused" else "submitted",
        lookup="held" if source == "reused" else "not_held",
        holder="HO-TICH",
        content_hash=content_hash("birth-certificate", applicant, {"n": 1}),
        issued_on=date(2000, 1, 1),
    )
    return DossierReport(
        dossier_id=uuid4(),
        office=office.system,
        session_id=office.session_id,
        procedure=PROCEDURE,
        applicant=applicant,
        received_on=received_on,
        components=[component],
    )


async def recorded(hub: Hub, dossier_id: UUID) -> dict[str, Any]:
    url = f"/api/v1/dossiers/{dossier_id}"

    async def present() -> bool:
        return (await hub.client.get(url)).status_code == 200

    await eventually(present, timeout=15, what="the dossier in the ledger")
    body: dict[str, Any] = (await hub.client.get(url)).json()
    return body


async def test_a_claimed_reuse_counts_only_with_its_lookup_on_record(office: Office) -> None:
    hub, shop = office.hub, office.office
    today = datetime.now(UTC).date()
    query = {"document_type": "birth-certificate", "subject": LOOKED_UP, "on": today.isoformat()}
    answer = await shop.request(
        "HO-TICH", EVIDENCE_GET, query, subject=LOOKED_UP, purpose="birth-registration"
    )
    assert answer == {"held": True} and len(office.lookups) == 1

    # Backed by the lookup just made: reused. The same lookup cannot back a second dossier, and no
    # lookup at all backs nothing.
    first = report(shop, LOOKED_UP, today)
    await shop.report_dossier(first)
    one = await recorded(hub, first.dossier_id)
    second = report(shop, LOOKED_UP, today)
    third = report(shop, NEVER_LOOKED_UP, today)
    for claim in (second, third):
        await shop.report_dossier(claim)
    others = [await recorded(hub, claim.dossier_id) for claim in (second, third)]

    # Only the verified reuse counts: one dossier in three.
    reuse: dict[str, Any] = {}

    async def all_counted() -> bool:  # the published figures are cached for up to a second
        indicators = (await hub.client.get("/api/v1/indicators", headers={"Authorization": ""})).json()
        reuse.update(indicators["once_only"]["reuse"])
        return bool(reuse["denominator"] == 3)

    await eventually(all_counted, timeout=5, what="the three dossiers in the indicators")
    assert (reuse["numerator"], reuse["denominator"]) == (1, 3)
    assert (one["reused"], one["unverified"]) == (1, 0)
    [document] = one["documents"]
    assert document["outcome"] == "reused" and document["evidence"] is not None
    for got in others:
        assert (got["reused"], got["unverified"], got["resubmissions"]) == (0, 1, 0), got
        [document] = got["documents"]
        assert (document["outcome"], document["evidence"]) == ("unverified_reuse", None)
    # The once-only report shows the unverified claims, by document type and by office.
    body = (await hub.client.get("/api/v1/reports/once-only")).json()
    [line] = body["by_document_type"]
    assert (line["reused"], line["unverified"]) == (1, 2)
    [by_office] = body["by_office"]
    assert (by_office["office"], by_office["dossiers"], by_office["reused"], by_office["unverified"]) == (
        "MOT-CUA",
        3,
        1,
        2,
    )
    csv = (await hub.client.get("/api/v1/reports/once-only", params={"format": "csv"})).text
    assert "by_office,MOT-CUA,3,1,2,0" in csv


async def test_received_on_is_bounded_by_the_time_of_the_report(office: Office) -> None:
    hub, shop = office.hub, office.office
    today = datetime.now(UTC).date()
    backdated = report(shop, NEVER_LOOKED_UP, date(2020, 1, 1), source="submitted")
    ahead = report(shop, LOOKED_UP, today + timedelta(days=40), source="submitted")
    honest = report(shop, LOOKED_UP, today - timedelta(days=3), source="submitted")
    for sent in (backdated, ahead, honest):
        await shop.report_dossier(sent)

    old = await recorded(hub, backdated.dossier_id)
    earliest = today - timedelta(days=RECEIVED_WITHIN_DAYS)
    assert old["received_on"] == earliest.isoformat()  # the day the office said is kept beside it
    assert old["claimed_received_on"] == "2020-01-01"
    future = await recorded(hub, ahead.dossier_id)
    assert date.fromisoformat(future["received_on"]) <= today + timedelta(days=1)
    assert future["claimed_received_on"] == (today + timedelta(days=40)).isoformat()
    kept = await recorded(hub, honest.dossier_id)
    assert (kept["received_on"], kept["claimed_received_on"]) == (
        (today - timedelta(days=3)).isoformat(),
        None,
    )

    # The once-only report counts the dossiers whose day was moved, by office.
    body = (await hub.client.get("/api/v1/reports/once-only")).json()
    [by_office] = body["by_office"]
    assert (by_office["dossiers"], by_office["received_on_moved"]) == (3, 2)
