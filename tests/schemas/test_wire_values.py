"""Values the wire cannot carry as they are: non-finite numbers in payloads are refused, and timestamps
travel in UTC so every instant (even at an offset with seconds) round-trips exactly. What round-trips
is signed as it travels, and its signature still checks at the receiver (the statement is recomputed
from the record's JSON there)."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest
from pydantic import ValidationError

from buscore.signing import Signer, sender_of
from schemas import messages
from schemas.common import finite_json
from schemas.messages import Codec, DecodeError, encode
from tests.support.signing import key_of, made_up_signer, refusal, unsigned

SESSION = UUID(int=1)
DEADLINE = datetime(2025, 1, 1, tzinfo=UTC)

#: Every message with a JSON payload, built around `payload`.
PAYLOAD_CARRIERS: dict[str, Callable[[Any], messages.Message]] = {
    "service_request": lambda p: messages.ServiceRequest(
        client="MOT-CUA", session_id=SESSION, provider="HO-TICH", service="a.b", payload=p
    ),
    "service_call": lambda p: messages.ServiceCall(
        exchange_id=SESSION, system="HO-TICH", client="MOT-CUA", service="a.b", payload=p, deadline=DEADLINE
    ),
    "service_response": lambda p: messages.ServiceResponse(
        exchange_id=SESSION, provider="HO-TICH", session_id=SESSION, client="MOT-CUA", payload=p
    ),
    "service_result": lambda p: messages.ServiceResult(
        exchange_id=SESSION, system="MOT-CUA", provider="HO-TICH", service="a.b", payload=p
    ),
    "ngsp_service_call": lambda p: messages.NgspServiceCall(
        exchange_id=SESSION,
        province="HCM",
        client="MOT-CUA",
        provider="VN/DAN-CU",
        service="a.b",
        payload=p,
        deadline=DEADLINE,
    ),
    "ngsp_service_result": lambda p: messages.NgspServiceResult(
        exchange_id=SESSION, client="MOT-CUA", provider="VN/DAN-CU", payload=p
    ),
}
CODECS: dict[str, Codec[Any]] = {
    "service_request": messages.REQUESTS,
    "service_call": messages.INBOX,
    "service_response": messages.RESPONSES,
    "service_result": messages.INBOX,
    "ngsp_service_call": messages.NGSP_REQUESTS,
    "ngsp_service_result": messages.NGSP_RESULTS,
}
NON_FINITE_JSON = ["1e400", "-1e400", "NaN", "Infinity", "-Infinity"]


def signer_of(message: messages.Message) -> Signer:
    """A signer of the party `message` comes from (a system, the hub or the NGSP)."""
    return made_up_signer(sender_of(message))


def sealed(message: messages.Message) -> bytes:
    """`message` as its sender puts it on the bus: signed."""
    return signer_of(message).seal(message)


@pytest.mark.parametrize("kind", sorted(PAYLOAD_CARRIERS))
@pytest.mark.parametrize("number", NON_FINITE_JSON)
def test_a_non_finite_number_on_the_wire_is_invalid(kind: str, number: str) -> None:
    valid = sealed(PAYLOAD_CARRIERS[kind]({"amounts": [1, {"x": 0.5}]}))
    raw = valid.replace(b'{"x":0.5}', b'{"x":' + number.encode() + b"}")
    assert raw != valid
    with pytest.raises(DecodeError) as refused:
        CODECS[kind].decode(raw)
    assert refused.value.reason == "invalid"
    assert "payload" in refused.value.detail and "amounts[1].x" in refused.value.detail
    assert "finite" in refused.value.detail


@pytest.mark.parametrize("kind", sorted(PAYLOAD_CARRIERS))
@pytest.mark.parametrize("number", [float("nan"), float("inf"), -float("inf")])
def test_a_non_finite_number_cannot_be_put_in_a_message(kind: str, number: float) -> None:
    with pytest.raises(ValidationError, match="numbers must be finite"):
        PAYLOAD_CARRIERS[kind]({"deep": [[{"n": number}]]})


@pytest.mark.parametrize("kind", sorted(PAYLOAD_CARRIERS))
def test_finite_payloads_round_trip_exactly(kind: str) -> None:
    payload: dict[str, Any] = {
        "big": 2**70,
        "tiny": 5e-324,
        "max": 1.7976931348623157e308,
        "neg": -0.0,
        "s": "ă",
    }
    message = PAYLOAD_CARRIERS[kind](payload)
    wire = sealed(message)
    decoded = CODECS[kind].decode(wire)
    assert json.dumps(decoded.payload) == json.dumps(payload)
    assert unsigned(decoded) == message
    assert refusal(CODECS[kind], wire, key_of(signer_of(message))) is None, "the signature still checks"


def test_the_finiteness_check_survives_payloads_json_cannot_write() -> None:
    circular: dict[str, Any] = {}
    circular["self"] = circular
    assert finite_json(circular) is circular  # not this check's business, and it does not loop
    odd = {"when": datetime(2025, 1, 1), "ids": (1, 2)}
    assert finite_json(odd) is odd
    assert finite_json(None) is None


@pytest.mark.parametrize(
    "offset",
    [
        timedelta(hours=7, minutes=6, seconds=40),  # Saigon's local mean time in zoneinfo
        timedelta(hours=-3, seconds=-1),
        timedelta(minutes=1, microseconds=5),
        timedelta(hours=7),
        timedelta(0),
    ],
)
def test_every_aware_instant_round_trips_exactly(offset: timedelta) -> None:
    at = datetime(2025, 1, 1, 0, 0, 0, 123456, tzinfo=timezone(offset))
    beat = messages.Heartbeat(system="HO-TICH", session_id=SESSION, sent_at=at)
    reply = messages.ProbeReply(system="HO-TICH", probe_id=SESSION, token="t", probe_sent_at=at)
    call = messages.ServiceCall.model_validate(
        PAYLOAD_CARRIERS["service_call"]({}).model_dump() | {"deadline": at}
    )
    for message, field in ((beat, "sent_at"), (reply, "probe_sent_at"), (call, "deadline")):
        value = getattr(message, field)
        assert value == at and value.utcoffset() == timedelta(0), "held in UTC"
        wire = sealed(message)
        assert json.loads(wire)[field].endswith("Z")
        assert unsigned(type(message).model_validate_json(wire)) == message
        codec = messages.INBOX if isinstance(message, messages.ServiceCall) else messages.CONNECTIVITY
        assert refusal(codec, wire, key_of(signer_of(message))) is None


def test_a_naive_time_is_left_as_it_is() -> None:
    naive = datetime(2025, 1, 1, 12, 0)
    assert messages.Heartbeat(system="HO-TICH", session_id=SESSION, sent_at=naive).sent_at == naive


def test_an_instant_outside_the_datetime_range_in_utc_is_invalid() -> None:
    body = json.loads(encode(messages.Heartbeat(system="HO-TICH", session_id=SESSION)))
    raw = json.dumps(body | {"sent_at": "0001-01-01T00:00:00+05:00"}).encode()
    with pytest.raises(DecodeError) as refused:
        messages.CONNECTIVITY.decode(raw)
    assert refused.value.reason == "invalid" and "out of range" in refused.value.detail
