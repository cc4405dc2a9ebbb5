"""GET /api/v1/exchanges/{id}/evidence: the client's and the provider's signatures of an exchange, kept
with its record and verified again on demand, without personal data."""

import json

from sqlalchemy import update
from sqlmodel import col

from lgsp.db import Database
from lgsp.exchange.models import ExchangeRecord
from tests.support.exchange import CITIZEN, PURPOSE, Axis, records


async def test_an_exchange_proves_who_asked_and_who_answered(axis: Axis) -> None:
    await axis.client.request(
        "HO-TICH", "birth-record.get", {"citizen_id": CITIZEN}, subject=CITIZEN, purpose=PURPOSE
    )
    (record,) = await records(axis.settings)
    response = await axis.hub.client.get(f"/api/v1/exchanges/{record.id}/evidence")
    assert response.status_code == 200, response.text
    evidence = response.json()
    assert evidence["verified"] is True
    request, answer = evidence["request"], evidence["response"]
    assert (request["owner"], request["verified"]) == ("MOT-CUA", True)
    assert (answer["owner"], answer["verified"]) == ("HO-TICH", True)
    assert request["statement"]["message_id"] == record.id
    assert request["statement"]["service"] == "birth-record.get"
    assert answer["statement"]["exchange_id"] == record.id
    # Personal data only through a salted hash: the citizen id appears nowhere in the evidence.
    assert CITIZEN not in response.text
    assert len(request["statement"]["body_sha256"]) == 64


async def test_altered_evidence_does_not_verify(axis: Axis) -> None:
    await axis.client.request("HO-TICH", "birth-record.get", {"citizen_id": CITIZEN})
    (record,) = await records(axis.settings)
    assert record.response_evidence is not None
    kept = json.loads(record.response_evidence)
    statement = json.loads(kept["statement"])
    statement["provider"] = "DAT-DAI"  # someone with database access rewrites who answered
    kept["statement"] = json.dumps(statement, sort_keys=True, separators=(",", ":"))
    database = Database(axis.settings.database_url)
    try:
        async with database.engine.begin() as conn:
            await conn.execute(
                update(ExchangeRecord)
                .where(col(ExchangeRecord.id) == record.id)
                .values(response_evidence=json.dumps(kept))
            )
    finally:
        await database.dispose()
    evidence = (await axis.hub.client.get(f"/api/v1/exchanges/{record.id}/evidence")).json()
    assert evidence["verified"] is False
    assert evidence["request"]["verified"] is True
    assert evidence["response"]["verified"] is False
    assert "does not verify" in evidence["response"]["problem"]


async def test_evidence_is_for_the_parties_and_the_auditors(axis: Axis) -> None:
    await axis.client.request("HO-TICH", "birth-record.get", {"citizen_id": CITIZEN})
    (record,) = await records(axis.settings)
    path = f"/api/v1/exchanges/{record.id}/evidence"
    for code, status in (("MOT-CUA", 200), ("HO-TICH", 200), ("QLVB", 404)):
        answer = await axis.hub.client.get(path, headers=axis.hub.as_key(axis.keys[code]))
        assert answer.status_code == status, (code, answer.text)
    assert (
        await axis.hub.client.get("/api/v1/exchanges/00000000-0000-4000-8000-000000000000/evidence")
    ).status_code == 404


async def test_a_revoked_key_still_proves_what_it_signed(axis: Axis) -> None:
    await axis.client.request("HO-TICH", "birth-record.get", {"citizen_id": CITIZEN})
    (record,) = await records(axis.settings)
    systems = (await axis.hub.client.get("/api/v1/systems")).json()["items"]
    client_id = next(s["id"] for s in systems if s["code"] == "MOT-CUA")
    assert (await axis.hub.client.post(f"/api/v1/systems/{client_id}/key")).status_code == 201
    evidence = (await axis.hub.client.get(f"/api/v1/exchanges/{record.id}/evidence")).json()
    assert evidence["verified"] is True
    assert evidence["request"]["key_revoked"] is True


async def test_a_rest_request_has_no_client_signature(axis: Axis) -> None:
    answer = await axis.hub.client.post(
        "/api/v1/exchange",
        json={"provider": "HO-TICH", "service": "birth-record.get", "payload": {"citizen_id": CITIZEN}},
        headers=axis.hub.as_key(axis.keys["MOT-CUA"]),
    )
    assert answer.status_code == 200, answer.text
    exchange_id = answer.json()["exchange_id"]
    evidence = (await axis.hub.client.get(f"/api/v1/exchanges/{exchange_id}/evidence")).json()
    assert evidence["request"] is None  # its API key authenticated it over HTTPS; nothing was signed
    assert evidence["response"]["owner"] == "HO-TICH" and evidence["verified"] is True
