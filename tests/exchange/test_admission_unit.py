"""Admission decided without a broker or a database: every branch, from a directory built in memory.

The router's integration tests (test_router.py and others) run the same decisions on the real broker
and databases; these say, fast and one by one, what each kind of request becomes, and in which order
the branches are tried."""

from datetime import UTC, datetime
from uuid import uuid4

from jsonschema import Draft202012Validator

from buscore.signing import HUB
from lgsp.exchange.admission import (
    UNAUTHENTICATED,
    Admission,
    AnswerHere,
    Decision,
    Forward,
    Limits,
    Refuse,
    access_denied,
    admission_message,
    bad_request,
    beyond_the_province,
    decide,
    decide_batch,
    examine,
    exchange_record,
    metaservice,
    oversized,
    provider_unreachable,
    rate_limited,
    unauthenticated,
    unknown_metaservice,
    unknown_service,
)
from lgsp.exchange.directory import METASERVICES, Directory, Member, Offer
from lgsp.exchange.models import Outcome
from lgsp.exchange.ratelimit import RateLimiter
from schemas.messages import (
    INBOX,
    NGSP_REQUESTS,
    Fault,
    NgspServiceCall,
    ServiceCall,
    ServiceRequest,
    ServiceResult,
)
from schemas.topics import Topics
from tests.support.signing import key_of, made_up_signer, refusal

SESSION, OUTSIDER_SESSION = uuid4(), uuid4()
HUB_SIGNER = made_up_signer(HUB)  # what the hub signs its calls and results with
NOW = datetime(2026, 12, 4, 9, 0, tzinfo=UTC)
TOPICS = Topics("unit")
LIMIT = 1000  # the bus's record limit, in bytes
SCHEMA = {
    "type": "object",
    "properties": {"citizen_id": {"pattern": "^[0-9]{12}$"}},
    "required": ["citizen_id"],
}


def directory(*, provider_connected: bool = True) -> Directory:
    """MOT-CUA (agency VP-UBND) is granted HO-TICH's birth-record.get, QLVB (same agency) is not; the
    whole of VP-UBND is granted marriage-record.get, which has no schema. Beyond the province, an admin
    approved VN/DAN-CU's citizen.get for MOT-CUA, and VN/DKDN's enterprise.get for all of VP-UBND."""
    members = {
        "MOT-CUA": Member(1, "VP-UBND", True),
        "QLVB": Member(2, "VP-UBND", True),
        "HO-TICH": Member(3, "SO-TP", provider_connected),
    }
    offers = {
        ("HO-TICH", "birth-record.get"): Offer(Draft202012Validator(SCHEMA), clients={1}),
        ("HO-TICH", "marriage-record.get"): Offer(None, agencies={"VP-UBND"}),
    }
    national = {
        ("VN/DAN-CU", "citizen.get"): Offer(None, clients={1}),
        ("VN/DKDN", "enterprise.get"): Offer(None, agencies={"VP-UBND"}),
    }
    return Directory(members, offers, {1: "MOT-CUA", 2: "QLVB", 3: "HO-TICH"}, national)


def request(
    provider: str = "HO-TICH", service: str = "birth-record.get", **changes: object
) -> ServiceRequest:
    """MOT-CUA's request for a birth record, in its session, unless `changes` say otherwise."""
    values: dict[str, object] = {
        "client": "MOT-CUA",
        "session_id": SESSION,
        "provider": provider,
        "service": service,
        "payload": {"citizen_id": "079203001234"},
    }
    return ServiceRequest.model_validate(values | changes)


def outsider(
    provider: str = "HO-TICH", service: str = "birth-record.get", **changes: object
) -> ServiceRequest:
    """QLVB's request, in its own session."""
    return request(provider, service, **({"client": "QLVB", "session_id": OUTSIDER_SESSION} | changes))


def arriving(req: ServiceRequest, size: int = 100, *, evidence: str | None = None) -> Admission:
    """The request as it comes in, `size` bytes long (its signature checked already, if on the bus)."""
    return Admission(req, NOW, size, evidence=evidence)


def verdict(req: ServiceRequest, where: Directory | None = None) -> Decision:
    """What `examine` makes of a bus request of 100 bytes."""
    return examine(arriving(req), where or directory(), LIMIT)


def code(decision: Decision | None) -> str | None:
    """The fault code of a refusal; None for anything else."""
    return decision.fault.code if isinstance(decision, Refuse) else None


def generous() -> Limits:
    """Limits no test request reaches."""
    return Limits(LIMIT, RateLimiter(rate=1000.0, burst=1000))


def frugal() -> Limits:
    """One request per client, and no refill within a test."""
    return Limits(LIMIT, RateLimiter(rate=1e-9, burst=1))


# Each branch: its decision where its case applies, None elsewhere.


def test_a_request_over_the_bus_limit_is_refused() -> None:
    assert oversized(arriving(request(), LIMIT), LIMIT) is None
    too_big = oversized(arriving(request(), LIMIT + 1), LIMIT)
    assert code(too_big) == "client.bad_request"
    assert too_big is not None and "1001" in too_big.fault.message


def test_a_client_must_be_a_live_system() -> None:
    """Who sent a request is proven before admission (a bus request by its client's signature, checked by
    the worker; a REST one by the caller's API key): the session id proves nothing any more, and any
    session of a live client will do, but a client that is not a live system is refused."""
    where = directory()
    assert unauthenticated(request(), where) is None
    assert unauthenticated(request(session_id=uuid4()), where) is None
    assert unauthenticated(outsider(session_id=SESSION), where) is None
    refused = unauthenticated(request(client="NOBODY"), where)
    assert code(refused) == UNAUTHENTICATED
    assert refused is not None and "NOBODY" in refused.fault.message


def test_a_provider_beyond_the_province_is_reached_through_the_ngsp() -> None:
    where = directory()
    assert beyond_the_province(request("VN/DAN-CU", "citizen.get"), where) == Forward(national=True)
    assert beyond_the_province(outsider("VN/DKDN", "enterprise.get"), where) == Forward(national=True)
    assert beyond_the_province(request(), where) is None
    assert beyond_the_province(request("LGSP", "systems.list"), where) is None


def test_a_provider_beyond_the_province_needs_a_grant_of_the_hub() -> None:
    """Granted by an admin, to the client or its agency, for that service of that provider only."""
    where = directory()
    for req in (
        outsider("VN/DAN-CU", "citizen.get"),  # granted to MOT-CUA, not to its agency
        request("VN/DAN-CU", "household.get"),  # another service of the provider
        request("HNI/DAN-CU", "citizen.get"),  # the same service of another provider
    ):
        refused = beyond_the_province(req, where)
        assert code(refused) == "client.access_denied", req
        assert refused is not None and "grant" in refused.fault.message
    assert code(beyond_the_province(request("VN/DAN-CU", "citizen.get"), directory_without_national())) == (
        "client.access_denied"
    )


def directory_without_national() -> Directory:
    """The directory with no grant beyond the province at all."""
    where = directory()
    return Directory(where.members, where.offers, where.codes)


def test_the_hub_offers_its_metaservices_only() -> None:
    assert code(unknown_metaservice(request("LGSP", "nothing.here"))) == "client.unknown_service"
    for service in METASERVICES:
        assert unknown_metaservice(request("LGSP", service)) is None
    assert unknown_metaservice(request(service="nothing.here")) is None, "a provider's service is not"


def test_the_hub_answers_its_metaservices_from_the_directory() -> None:
    where = directory()
    assert metaservice(request("LGSP", "systems.list"), where) == AnswerHere(
        {"systems": ["HO-TICH", "MOT-CUA", "QLVB"]}
    )
    services = request("LGSP", "services.list", payload={"provider": "HO-TICH"})
    assert metaservice(services, where) == AnswerHere(
        {"provider": "HO-TICH", "services": ["birth-record.get", "marriage-record.get"]}
    )
    assert metaservice(outsider("LGSP", "allowed-services.list"), where) == AnswerHere(
        {"allowed": [{"provider": "HO-TICH", "service": "marriage-record.get"}]}
    )
    assert metaservice(request(), where) is None


def test_a_service_must_be_offered_by_its_provider() -> None:
    where = directory()
    assert unknown_service(request(), where) is None
    assert code(unknown_service(request(service="death-record.get"), where)) == "client.unknown_service"
    assert code(unknown_service(request("NO-SUCH"), where)) == "client.unknown_service"


def test_a_service_is_granted_to_a_system_or_to_its_agency() -> None:
    where = directory()
    assert access_denied(request(), where) is None
    assert access_denied(outsider(service="marriage-record.get"), where) is None
    denied = access_denied(outsider(), where)
    assert code(denied) == "client.access_denied"
    assert denied is not None and denied.fault.message == "QLVB is not granted HO-TICH/birth-record.get"


def test_a_payload_must_match_its_services_schema() -> None:
    where = directory()
    assert bad_request(request(), where) is None
    wrong = bad_request(request(payload={"citizen_id": "12"}), where)
    missing = bad_request(request(payload={}), where)
    assert code(wrong) == code(missing) == "client.bad_request"
    assert wrong is not None and wrong.fault.message.startswith("citizen_id: ")
    assert missing is not None and missing.fault.message.startswith("payload: ")
    assert bad_request(request(service="marriage-record.get", payload={"any": 1}), where) is None


def test_a_disconnected_provider_is_unreachable() -> None:
    assert provider_unreachable(request(), directory()) is None
    unreachable = provider_unreachable(request(), directory(provider_connected=False))
    assert code(unreachable) == "server.provider_unreachable"


def test_a_client_over_its_rate_is_limited() -> None:
    limiter = RateLimiter(rate=1.0, burst=2)
    faults = [rate_limited("MOT-CUA", limiter, now=0.0) for _ in range(3)]
    assert faults[:2] == [None, None]
    assert code(faults[2]) == "client.rate_limited"
    assert rate_limited("QLVB", limiter, now=0.0) is None, "each client has its own allowance"


# The branches together: the first that applies decides.


def test_a_granted_request_to_a_provincial_provider_is_forwarded_to_its_inbox() -> None:
    req = request()
    decision = verdict(req)
    assert decision == Forward(national=False)
    topic, value, key = admission_message(arriving(req), decision, TOPICS, "HCM", HUB_SIGNER)
    assert (topic, key) == (TOPICS.inbox("HO-TICH"), "MOT-CUA")
    call = INBOX.decode(value)
    assert isinstance(call, ServiceCall) and call.exchange_id == req.message_id
    # Signed by the hub, so the provider's SDK takes it; signed by no one else.
    assert refusal(INBOX, value, key_of(HUB_SIGNER)) is None
    assert refusal(INBOX, value, key_of(made_up_signer("MOT-CUA"))) == "unknown_signer"


def test_a_request_beyond_the_province_goes_to_the_ngsp() -> None:
    req = request("VN/DAN-CU", "citizen.get")
    decision = verdict(req)
    assert decision == Forward(national=True)
    topic, value, _ = admission_message(arriving(req), decision, TOPICS, "HCM", HUB_SIGNER)
    assert topic == TOPICS.ngsp_requests
    assert NgspServiceCall.model_validate_json(value).province == "HCM"
    assert refusal(NGSP_REQUESTS, value, key_of(HUB_SIGNER)) is None, "the NGSP checks the hub's signature"


def test_the_hubs_metaservices_are_answered_by_the_hub() -> None:
    decision = verdict(request("LGSP", "systems.list"))
    assert decision == AnswerHere({"systems": ["HO-TICH", "MOT-CUA", "QLVB"]})


def test_refusals_carry_the_stable_codes() -> None:
    cases = {
        "client.unauthenticated": request(client="NOBODY"),
        "client.unknown_service": request(service="death-record.get"),
        "client.access_denied": outsider(),
        "client.bad_request": request(payload={"citizen_id": "12"}),
    }
    for expected, req in cases.items():
        assert code(verdict(req)) == expected, (expected, verdict(req))
    assert code(verdict(request(), directory(provider_connected=False))) == "server.provider_unreachable"
    assert code(verdict(request("LGSP", "nothing.here"))) == "client.unknown_service"


def test_the_branches_are_tried_in_order() -> None:
    down = directory(provider_connected=False)
    # The size first: an oversized request is not read any further, not even for its client.
    stranger_and_big = examine(arriving(request(client="NOBODY"), LIMIT + 1), directory(), LIMIT)
    assert code(stranger_and_big) == "client.bad_request"
    # The client before anything else: even the NGSP is not reached by a stranger.
    assert code(verdict(request("VN/DAN-CU", "citizen.get", client="NOBODY"))) == UNAUTHENTICATED
    # Beyond the province, the hub's own grant first (the NGSP decides again on its side); a refusal
    # there comes before any question of services or payloads of the province.
    assert verdict(request("VN/DAN-CU", "citizen.get")) == Forward(national=True)
    assert code(verdict(outsider("VN/DAN-CU", "citizen.get"))) == "client.access_denied"
    # The service, then the grant, then the payload, then the provider's connection.
    assert code(verdict(request(service="death-record.get"), down)) == "client.unknown_service"
    assert code(verdict(outsider(payload={"citizen_id": "12"}), down)) == "client.access_denied"
    assert code(verdict(request(payload={"citizen_id": "12"}), down)) == "client.bad_request"
    assert code(verdict(request(), down)) == "server.provider_unreachable"


# The client's rate, counted once the verdict is known.


def test_every_request_of_a_client_that_proves_itself_counts_against_its_rate() -> None:
    limits = frugal()
    denied = arriving(outsider())
    # A refused request spends the allowance too, so a client cannot probe faster than its rate...
    assert code(decide(denied, verdict(outsider()), limits, 0.0)) == "client.access_denied"
    # ... and once over it, the rate decides before anything the directory says.
    granted = arriving(outsider(service="marriage-record.get"))
    assert code(decide(granted, Forward(national=False), limits, 0.0)) == "client.rate_limited"
    assert code(decide(denied, verdict(outsider()), limits, 0.0)) == "client.rate_limited"


def test_oversized_and_unauthenticated_requests_spend_no_allowance() -> None:
    limits = frugal()
    stranger = arriving(request(client="NOBODY"))  # no live system of that name
    big = arriving(request(), LIMIT + 1)
    for _ in range(3):
        for admission in (stranger, big):
            refused = examine(admission, directory(), LIMIT)
            assert decide(admission, refused, limits, 0.0) == refused
    assert decide(arriving(request()), verdict(request()), limits, 0.0) == Forward(national=False)
    assert rate_limited("NOBODY", limits.limiter, 0.0) is None, "nor the stranger's own"


async def test_a_batch_asks_once_for_a_fresher_directory_and_only_when_something_is_refused() -> None:
    stale, fresh = directory(provider_connected=False), directory()  # the provider's hello came since
    asked: list[Directory] = []

    async def fresher() -> Directory:
        asked.append(fresh)
        return fresh

    limits = Limits(LIMIT, RateLimiter(rate=1e-9, burst=3))
    batch = [arriving(request()), arriving(request()), arriving(request(), LIMIT + 1)]
    decisions = await decide_batch(batch, stale, fresher, limits, lambda: 0.0)
    assert decisions[:2] == [Forward(national=False)] * 2 and code(decisions[2]) == "client.bad_request"
    assert len(asked) == 1
    # Each request counted once (the oversized one not at all): one of MOT-CUA's three tokens is left.
    assert rate_limited("MOT-CUA", limits.limiter, 0.0) is None
    assert rate_limited("MOT-CUA", limits.limiter, 0.0) is not None

    await decide_batch(
        [arriving(request()), arriving(request(), LIMIT + 1)], fresh, fresher, generous(), lambda: 0.0
    )
    assert len(asked) == 1, "nothing the cache refuses but by size: the cache is enough"


# What a decision records and sends.


def signed_by_the_hub(value: bytes) -> bool:
    """Whether a record the hub sends to an inbox is signed by the hub, as the client's SDK checks."""
    return refusal(INBOX, value, key_of(HUB_SIGNER)) is None


def test_a_refusal_is_recorded_settled_and_answered_to_the_client() -> None:
    req = request()
    admission = Admission(req, NOW, 100, reply_to="unit.facade.x")
    refusal = Refuse(Fault(code="client.access_denied", message="no"))
    row = exchange_record(admission, refusal, NOW, None)
    assert row["outcome"] == Outcome.FAULT.value and row["fault_code"] == "client.access_denied"
    assert row["response_out_at"] == NOW and "request_out_at" not in row
    topic, value, _ = admission_message(admission, refusal, TOPICS, "HCM", HUB_SIGNER)
    result = INBOX.decode(value)
    assert topic == "unit.facade.x" and isinstance(result, ServiceResult) and result.fault == refusal.fault
    assert signed_by_the_hub(value)


def test_a_metaservice_answer_is_recorded_settled_and_sent_to_the_inbox() -> None:
    req = request("LGSP", "systems.list")
    answer = AnswerHere({"systems": []})
    row = exchange_record(arriving(req), answer, NOW, None)
    assert row["outcome"] == Outcome.SUCCESS.value and row["response_out_at"] == row["request_out_at"] == NOW
    topic, value, _ = admission_message(arriving(req), answer, TOPICS, "HCM", HUB_SIGNER)
    result = INBOX.decode(value)
    assert topic == TOPICS.inbox("MOT-CUA") and isinstance(result, ServiceResult)
    assert result.payload == {"systems": []}
    assert signed_by_the_hub(value)


def test_a_forwarded_request_is_recorded_pending_until_its_deadline() -> None:
    req = request(timeout_ms=2500)
    evidence = '{"signer": "0123456789ab", "statement": "{}", "signature": "c2ln"}'
    row = exchange_record(arriving(req, evidence=evidence), Forward(national=False), NOW, "hash")
    assert row["outcome"] == Outcome.PENDING.value and row["request_out_at"] == NOW
    assert (row["deadline"] - NOW).total_seconds() == 2.5 and row["subject_hash"] == "hash"
    assert row["crossed_ngsp"] is False
    assert row["request_evidence"] == evidence, "the client's signature is kept with the record"
    assert exchange_record(arriving(req), Forward(national=False), NOW, None)["request_evidence"] is None
    national = exchange_record(
        arriving(request("VN/DAN-CU", "citizen.get")), Forward(national=True), NOW, None
    )
    assert national["crossed_ngsp"] is True
