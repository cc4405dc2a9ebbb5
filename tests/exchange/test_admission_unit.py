"""Admission decided without a broker or a database: every branch, from a directory built in memory.

The router's integration tests (test_router.py and others) run the same decisions on the real broker
and databases; these say, fast and one by one, what each kind of request becomes."""

from datetime import UTC, datetime
from uuid import uuid4

from jsonschema import Draft202012Validator

from lgsp.exchange.admission import (
    Admission,
    AnswerHere,
    Forward,
    Refuse,
    admission_message,
    decide,
    exchange_record,
    rate_fault,
    size_fault,
)
from lgsp.exchange.directory import Directory, Member, Offer
from lgsp.exchange.models import Outcome
from lgsp.exchange.ratelimit import RateLimiter
from schemas.messages import INBOX, Fault, NgspServiceCall, ServiceCall, ServiceRequest, ServiceResult
from schemas.topics import Topics

SESSION, OUTSIDER_SESSION = uuid4(), uuid4()
NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
TOPICS = Topics("unit")
SCHEMA = {
    "type": "object",
    "properties": {"citizen_id": {"pattern": "^[0-9]{12}$"}},
    "required": ["citizen_id"],
}


def directory(*, provider_connected: bool = True) -> Directory:
    """MOT-CUA (agency VP-UBND, session open) may call HO-TICH's birth-record.get; QLVB may not."""
    members = {
        "MOT-CUA": Member(1, "VP-UBND", SESSION, True),
        "QLVB": Member(2, "VP-UBND", OUTSIDER_SESSION, True),
        "HO-TICH": Member(3, "SO-TP", uuid4(), provider_connected),
    }
    offers = {("HO-TICH", "birth-record.get"): Offer(Draft202012Validator(SCHEMA), clients={1})}
    return Directory(members, offers, {1: "MOT-CUA", 2: "QLVB", 3: "HO-TICH"})


def request(
    provider: str = "HO-TICH", service: str = "birth-record.get", **changes: object
) -> ServiceRequest:
    values: dict[str, object] = {
        "client": "MOT-CUA",
        "session_id": SESSION,
        "provider": provider,
        "service": service,
        "payload": {"citizen_id": "079203001234"},
    }
    return ServiceRequest.model_validate(values | changes)


def decision_for(req: ServiceRequest, where: Directory | None = None) -> object:
    where = where or directory()
    return decide(req, where.check(req), where)


def test_a_granted_request_to_a_provincial_provider_is_forwarded_to_its_inbox() -> None:
    req = request()
    decision = decision_for(req)
    assert decision == Forward(national=False)
    topic, value, key = admission_message(Admission(req, NOW, 100), decision, TOPICS, "HCM")
    assert (topic, key) == (TOPICS.inbox("HO-TICH"), "MOT-CUA")
    call = INBOX.decode(value)
    assert isinstance(call, ServiceCall) and call.exchange_id == req.message_id


def test_a_request_beyond_the_province_goes_to_the_ngsp() -> None:
    req = request("VN/DAN-CU", "citizen.get")
    decision = decision_for(req)
    assert decision == Forward(national=True)
    topic, value, _ = admission_message(Admission(req, NOW, 100), decision, TOPICS, "HCM")
    assert topic == TOPICS.ngsp_requests
    assert NgspServiceCall.model_validate_json(value).province == "HCM"


def test_the_hubs_metaservices_are_answered_by_the_hub() -> None:
    decision = decision_for(request("LGSP", "systems.list"))
    assert decision == AnswerHere({"systems": ["HO-TICH", "MOT-CUA", "QLVB"]})


def test_refusals_carry_the_stable_codes() -> None:
    cases = {
        "client.unauthenticated": request(session_id=uuid4()),
        "client.unknown_service": request(service="death-record.get"),
        "client.access_denied": request(client="QLVB", session_id=OUTSIDER_SESSION),
        "client.bad_request": request(payload={"citizen_id": "12"}),
    }
    for code, req in cases.items():
        decision = decision_for(req)
        assert isinstance(decision, Refuse) and decision.fault.code == code, (code, decision)
    unreachable = decision_for(request(), directory(provider_connected=False))
    assert isinstance(unreachable, Refuse) and unreachable.fault.code == "server.provider_unreachable"


def test_a_refusal_is_recorded_settled_and_answered_to_the_client() -> None:
    req = request()
    admission = Admission(req, NOW, 100, reply_to="unit.facade.x")
    refusal = Refuse(Fault(code="client.access_denied", message="no"))
    row = exchange_record(admission, refusal, NOW, None)
    assert row["outcome"] == Outcome.FAULT.value and row["fault_code"] == "client.access_denied"
    assert row["response_out_at"] == NOW and "request_out_at" not in row
    topic, value, _ = admission_message(admission, refusal, TOPICS, "HCM")
    result = INBOX.decode(value)
    assert topic == "unit.facade.x" and isinstance(result, ServiceResult) and result.fault == refusal.fault


def test_a_forwarded_request_is_recorded_pending_until_its_deadline() -> None:
    req = request(timeout_ms=2500)
    row = exchange_record(Admission(req, NOW, 100), Forward(national=False), NOW, "hash")
    assert row["outcome"] == Outcome.PENDING.value and row["request_out_at"] == NOW
    assert (row["deadline"] - NOW).total_seconds() == 2.5 and row["subject_hash"] == "hash"
    assert row["crossed_ngsp"] is False


def test_size_and_rate_are_checked_against_their_limits() -> None:
    req = request()
    assert size_fault(Admission(req, NOW, 1000), limit=1000) is None
    too_big = size_fault(Admission(req, NOW, 1001), limit=1000)
    assert too_big is not None and too_big.code == "client.bad_request" and "1001" in too_big.message
    limiter = RateLimiter(rate=1.0, burst=2)
    faults = [rate_fault("MOT-CUA", limiter, now=0.0) for _ in range(3)]
    assert faults[:2] == [None, None]
    assert faults[2] is not None and faults[2].code == "client.rate_limited"
