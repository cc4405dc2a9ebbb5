"""A request about a person must say why (docs/citizens/data-tracker.md): the admission branch alone, then
on the real broker and databases, over the bus and over REST, with the purpose kept in the record."""

import pytest

from connectors.sdk import ExchangeError
from lgsp.exchange.admission import examine, purposeless
from schemas.purposes import PURPOSES
from tests.exchange.test_admission_unit import LIMIT, arriving, code, directory, outsider, request
from tests.support.exchange import CITIZEN, PURPOSE, Axis, records


def test_a_request_about_a_subject_needs_a_purpose_of_the_catalogue() -> None:
    assert purposeless(request(subject=CITIZEN, purpose=PURPOSE)) is None
    assert purposeless(request()) is None  # about nobody: nothing to say
    assert purposeless(request(purpose=PURPOSE)) is None  # a purpose without a subject is kept, not needed
    missing = purposeless(request(subject=CITIZEN))
    assert code(missing) == "client.bad_request" and missing is not None
    assert "GET /api/v1/purposes" in missing.fault.message
    unknown = purposeless(request(subject=CITIZEN, purpose="curiosity"))
    assert (
        code(unknown) == "client.bad_request" and unknown is not None and "curiosity" in unknown.fault.message
    )
    assert PURPOSE in PURPOSES


def test_the_purpose_is_checked_after_who_asks_and_before_anything_else() -> None:
    """An unknown client is unauthenticated whatever it says; a known one without a purpose is refused
    before its grant is looked at (QLVB has none)."""
    where = directory()
    assert code(examine(arriving(request(client="NOBODY", subject=CITIZEN)), where, LIMIT)) == (
        "client.unauthenticated"
    )
    assert code(examine(arriving(outsider(subject=CITIZEN)), where, LIMIT)) == "client.bad_request"
    assert code(examine(arriving(outsider(subject=CITIZEN, purpose=PURPOSE)), where, LIMIT)) == (
        "client.access_denied"
    )


async def test_the_hub_refuses_a_bus_request_without_a_purpose_and_records_one_with_it(axis: Axis) -> None:
    payload = {"citizen_id": CITIZEN}
    for purpose in (None, "curiosity"):
        with pytest.raises(ExchangeError) as refused:
            await axis.client.request(
                "HO-TICH", "birth-record.get", payload, subject=CITIZEN, purpose=purpose
            )
        assert refused.value.code == "client.bad_request"
    answer = await axis.client.request(
        "HO-TICH", "birth-record.get", payload, subject=CITIZEN, purpose=PURPOSE
    )
    assert answer["citizen_id"] == CITIZEN
    kept = [(r.purpose, r.outcome, r.fault_code) for r in await records(axis.settings)]
    assert kept == [
        (None, "fault", "client.bad_request"),
        ("curiosity", "fault", "client.bad_request"),
        (PURPOSE, "success", None),
    ]


async def test_the_rest_facade_takes_the_purpose_too(axis: Axis) -> None:
    body = {"provider": "HO-TICH", "service": "birth-record.get", "payload": {"citizen_id": CITIZEN}}
    key = axis.hub.as_key(axis.keys["MOT-CUA"])
    without = await axis.hub.client.post("/api/v1/exchange", json=body | {"subject": CITIZEN}, headers=key)
    assert without.status_code == 422 and without.json()["error"]["code"] == "client.bad_request"
    malformed = await axis.hub.client.post(
        "/api/v1/exchange", json=body | {"subject": CITIZEN, "purpose": "Not A Code"}, headers=key
    )
    assert malformed.status_code == 422  # refused by the body's model: no exchange at all
    answered = await axis.hub.client.post(
        "/api/v1/exchange", json=body | {"subject": CITIZEN, "purpose": PURPOSE}, headers=key
    )
    assert answered.status_code == 200, answered.text
    assert [r.purpose for r in await records(axis.settings)] == [None, PURPOSE]
    listed = (await axis.hub.client.get("/api/v1/exchanges")).json()["items"]
    assert [r["purpose"] for r in listed] == [PURPOSE, None]
