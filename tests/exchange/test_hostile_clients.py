"""A hostile client on the bus: someone who can read and write the shared topics (but holds no key of the
system it imitates) tries each forgery the bus-identity review found. Each is refused, dead-lettered with
its reason and counted in lgsp_dead_letters_total{reason}; no record, ledger entry or connectivity state
changes. Runs on both brokers (make test, make test-kafka)."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from buscore.signing import Signer
from connectors.sdk import Connector, ExchangeError
from lgsp.security import hub_signer, ngsp_signer
from schemas.common import utcnow
from schemas.messages import (
    Heartbeat,
    Hello,
    Message,
    NgspAck,
    NgspProbeResult,
    NgspServiceResult,
    ProbeReply,
    ServiceCall,
    ServiceRequest,
    encode,
)
from schemas.topics import Topics
from tests.support import connector_for, eventually, make_system
from tests.support.dead_letters import Letter, dead_letters_counted, read_dead_letters
from tests.support.exchange import CITIZEN, Axis, records


@pytest.fixture
async def attacker(axis: Axis) -> AsyncIterator[AIOKafkaProducer]:
    """A plain producer on the bus: all a hostile client needs (no Kafka ACLs on the embedded broker)."""
    producer = AIOKafkaProducer(bootstrap_servers=axis.client.bootstrap, acks="all")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


def topics(axis: Axis) -> Topics:
    return Topics(axis.settings.topic_prefix)


def hub_key(axis: Axis) -> bytes:
    assert axis.settings.secret_key is not None
    return axis.settings.secret_key.get_secret_value().encode()


def forged_request(axis: Axis, **fields: Any) -> ServiceRequest:
    """MOT-CUA's request for a birth record, as anyone could write it (its session id included)."""
    values: dict[str, Any] = {
        "client": "MOT-CUA",
        "session_id": axis.client.session_id,
        "provider": "HO-TICH",
        "service": "birth-record.get",
        "payload": {"citizen_id": CITIZEN},
    }
    return ServiceRequest(**(values | fields))


def about(ids: set[str]) -> Callable[[list[Letter]], bool]:
    """`done` for read_dead_letters: a letter for each of these message ids."""
    return lambda letters: ids <= {_message_id(x) for x in letters}


def _message_id(letter: Letter) -> str:
    """The message id a dead letter's envelope keeps ("" for a record that was not a JSON object)."""
    try:
        envelope = json.loads(letter.letter.original)
    except ValueError:
        return ""
    return str(envelope.get("message_id", "")) if isinstance(envelope, dict) else ""


async def refused(
    axis: Axis, attacker: AIOKafkaProducer, sends: list[tuple[str, bytes, Message]], *, by_hub: bool = True
) -> dict[str, str]:
    """Send the forged records, and return the reason each was dead-lettered with, by message id; with
    `by_hub` (the hub refused them, not a connector), check lgsp_dead_letters_total counted each reason."""
    before = await dead_letters_counted(axis.hub.client)
    for topic, value, message in sends:
        await attacker.send_and_wait(topic, value, key=getattr(message, "client", "x").encode())
    ids = {str(message.message_id) for _, _, message in sends}
    letters = await read_dead_letters(axis.client.bootstrap, topics(axis), about(ids))
    reasons = {_message_id(x): x.letter.reason for x in letters if _message_id(x) in ids}
    after = await dead_letters_counted(axis.hub.client)
    expected: dict[str, int] = {}
    for reason in reasons.values():
        expected[reason] = expected.get(reason, 0) + 1
    for reason, count in expected.items() if by_hub else ():
        assert after.get(reason, 0) - before.get(reason, 0) >= count, (reason, before, after)
    return reasons


async def test_a_stolen_session_id_is_not_enough_to_act_as_a_system(
    axis: Axis, attacker: AIOKafkaProducer
) -> None:
    outsider = axis.outsider.signer  # QLVB's own key: a real system, but not MOT-CUA
    unsigned = forged_request(axis)
    signed_by_another = forged_request(axis)
    beat = Heartbeat(system="MOT-CUA", session_id=axis.client.session_id)
    reasons = await refused(
        axis,
        attacker,
        [
            (topics(axis).requests, encode(unsigned), unsigned),
            (topics(axis).requests, outsider.seal(signed_by_another), signed_by_another),
            (topics(axis).connectivity, outsider.seal(beat), beat),
        ],
    )
    assert reasons == {
        str(unsigned.message_id): "unsigned",
        str(signed_by_another.message_id): "wrong_signer",
        str(beat.message_id): "wrong_signer",
    }
    ids = {r.id for r in await records(axis.settings)}
    assert not ids & {str(unsigned.message_id), str(signed_by_another.message_id)}


async def test_a_call_written_straight_into_an_inbox_is_not_served(
    axis: Axis, attacker: AIOKafkaProducer
) -> None:
    served: list[dict[str, Any]] = []
    original = axis.provider._handlers["birth-record.get"]

    async def spy(payload: dict[str, Any]) -> dict[str, Any]:
        served.append(payload)
        return await original(payload)

    axis.provider._handlers["birth-record.get"] = spy
    deadline = utcnow() + timedelta(seconds=5)

    def call() -> ServiceCall:
        return ServiceCall(
            exchange_id=uuid.uuid4(),
            system="HO-TICH",
            client="MOT-CUA",
            service="birth-record.get",
            payload={"citizen_id": CITIZEN},
            deadline=deadline,
        )

    unsigned, by_a_system = call(), call()
    inbox = topics(axis).inbox("HO-TICH")
    reasons = await refused(
        axis,
        attacker,
        [(inbox, encode(unsigned), unsigned), (inbox, axis.outsider.signer.seal(by_a_system), by_a_system)],
        by_hub=False,  # the provider's SDK refuses them: a connector counts its refusals itself
    )
    # A connector knows only the platform keys: a system's key is no key it trusts.
    assert reasons == {str(unsigned.message_id): "unsigned", str(by_a_system.message_id): "unknown_signer"}
    assert (
        axis.provider.refused.get("unsigned", 0) >= 1 and axis.provider.refused.get("unknown_signer", 0) >= 1
    )
    assert served == [], "the provider served a call the hub did not sign"
    assert not {r.id for r in await records(axis.settings)} & {
        str(unsigned.exchange_id),
        str(by_a_system.exchange_id),
    }
    # The real path still works: the hub's call is served.
    assert (await axis.client.request("HO-TICH", "birth-record.get", {"citizen_id": CITIZEN}))["citizen_id"]
    assert len(served) == 1


async def test_a_forged_national_answer_settles_nothing(axis: Axis, attacker: AIOKafkaProducer) -> None:
    # A provincial exchange in flight (the provider takes 3 s): the forger answers it as "the NGSP".
    pending = asyncio.create_task(axis.client.request("HO-TICH", "slow.get", {}, timeout=8))

    async def in_flight() -> list[str]:
        return [
            r.id for r in await records(axis.settings) if r.service == "slow.get" and r.outcome == "pending"
        ]

    await eventually(lambda: _nonempty(in_flight), timeout=5, what="the slow exchange pending")
    exchange_id = uuid.UUID((await in_flight())[0])

    def answer() -> NgspServiceResult:
        return NgspServiceResult(
            exchange_id=exchange_id, client="MOT-CUA", provider="HO-TICH", payload={"forged": 1}
        )

    unsigned, by_a_system, by_the_ngsp = answer(), answer(), answer()
    results = topics(axis).ngsp_results
    reasons = await refused(
        axis,
        attacker,
        [
            (results, encode(unsigned), unsigned),
            (results, axis.outsider.signer.seal(by_a_system), by_a_system),
        ],
    )
    assert reasons == {str(unsigned.message_id): "unsigned", str(by_a_system.message_id): "wrong_signer"}
    # Even the NGSP's own signature cannot answer an exchange that never crossed the NGSP.
    await attacker.send_and_wait(results, ngsp_signer(axis.settings).seal(by_the_ngsp), key=b"MOT-CUA")
    assert await pending == {}, "the client got a forged answer"
    (record,) = [r for r in await records(axis.settings) if r.id == str(exchange_id)]
    assert record.outcome == "success" and not record.crossed_ngsp
    assert record.response_evidence is not None and '"signer"' in record.response_evidence


async def _nonempty(check: Callable[[], Any]) -> bool:
    return bool(await check())


async def test_forged_probe_replies_and_ngsp_events_change_no_connectivity(
    axis: Axis, attacker: AIOKafkaProducer
) -> None:
    quiet = await make_system(axis.hub.client, "KHONG-KET-NOI", "SO-TP")  # registered, never connected
    session = uuid.uuid4()
    now = utcnow()
    messages: list[Message] = [
        Hello(system="KHONG-KET-NOI", session_id=session),
        Heartbeat(system="KHONG-KET-NOI", session_id=session),
        ProbeReply(system="KHONG-KET-NOI", probe_id=uuid.uuid4(), token="0" * 64, probe_sent_at=now),
    ]
    national: list[Message] = [
        NgspProbeResult(system="KHONG-KET-NOI", ok=True),
        NgspAck(system="KHONG-KET-NOI", registered=True),
    ]
    sends = [(topics(axis).connectivity, axis.outsider.signer.seal(m), m) for m in messages]
    sends += [(topics(axis).ngsp_events, encode(m), m) for m in national[:1]]
    sends += [(topics(axis).ngsp_events, axis.outsider.signer.seal(m), m) for m in national[1:]]
    reasons = await refused(axis, attacker, sends)
    assert sorted(reasons.values()) == ["unsigned"] + ["wrong_signer"] * 4
    await asyncio.sleep(1)  # two evaluation rounds
    status = (await axis.hub.client.get(f"/api/v1/systems/{quiet['id']}/status")).json()
    assert status["last_heartbeat_at"] is None and status["last_probe_ok_at"] is None
    assert status["last_ngsp_probe_ok_at"] is None
    assert not status["lgsp_connected"] and not status["ngsp_connected"]


async def test_replayed_and_stale_messages_are_refused(axis: Axis, attacker: AIOKafkaProducer) -> None:
    client = axis.client.signer
    request = forged_request(axis)  # signed with MOT-CUA's real key: a genuine request, captured
    wire = client.seal(request)
    await attacker.send_and_wait(topics(axis).requests, wire, key=b"MOT-CUA")
    # A replay of the very same record (another offset) and a hello recorded long ago.
    old_hello = Hello(system="MOT-CUA", session_id=uuid.uuid4(), sent_at=utcnow() - timedelta(minutes=10))
    replay = ServiceRequest.model_validate_json(wire)
    reasons = await refused(
        axis,
        attacker,
        [
            (topics(axis).requests, wire, replay),
            (topics(axis).connectivity, client.seal(old_hello), old_hello),
        ],
    )
    assert reasons == {str(request.message_id): "replayed", str(old_hello.message_id): "stale"}
    mine = [r for r in await records(axis.settings) if r.id == str(request.message_id)]
    assert len(mine) == 1


async def test_a_message_for_another_system_is_refused(axis: Axis, attacker: AIOKafkaProducer) -> None:
    # A genuine call of the hub, copied from HO-TICH's inbox into MOT-CUA's.
    call = ServiceCall(
        exchange_id=uuid.uuid4(),
        system="HO-TICH",
        client="MOT-CUA",
        service="birth-record.get",
        payload={"citizen_id": CITIZEN},
        deadline=utcnow() + timedelta(seconds=5),
    )
    signed = hub_signer(axis.settings, hub_key(axis)).seal(call)
    reasons = await refused(axis, attacker, [(topics(axis).inbox("MOT-CUA"), signed, call)], by_hub=False)
    assert reasons == {str(call.message_id): "misaddressed"}
    assert axis.client.refused.get("misaddressed", 0) >= 1


async def test_a_revoked_key_acts_no_more_and_cannot_reconnect(
    axis: Axis, attacker: AIOKafkaProducer
) -> None:
    systems = (await axis.hub.client.get("/api/v1/systems")).json()["items"]
    client_id = next(s["id"] for s in systems if s["code"] == "MOT-CUA")
    old = Signer.for_system("MOT-CUA", axis.keys["MOT-CUA"])
    rotated = await axis.hub.client.post(f"/api/v1/systems/{client_id}/key")
    assert rotated.status_code == 201, rotated.text
    # At once: a request signed by the old key is refused, and the old connector's session is over.
    request = forged_request(axis)
    reasons = await refused(axis, attacker, [(topics(axis).requests, old.seal(request), request)])
    assert reasons == {str(request.message_id): "revoked_key"}

    async def disconnected() -> bool:
        status = (await axis.hub.client.get(f"/api/v1/systems/{client_id}/status")).json()
        return not status["lgsp_connected"]

    await eventually(disconnected, timeout=10, what="MOT-CUA disconnected (its hellos are refused)")
    with pytest.raises(ExchangeError) as refused_call:
        await axis.client.request("HO-TICH", "birth-record.get", {"citizen_id": CITIZEN}, timeout=1)
    assert refused_call.value.code == "client.no_answer"  # dead-lettered: no answer to a revoked key
    # The new key connects and works, once the old connector is replaced (they share the inbox's group).
    await axis.client.stop()
    fresh: Connector = connector_for(
        {"code": "MOT-CUA", "api_key": rotated.json()["api_key"], "bus_trust": rotated.json()["bus_trust"]},
        axis.settings,
        axis.client.bootstrap,
    )
    async with fresh:
        answer = await fresh.request("HO-TICH", "birth-record.get", {"citizen_id": CITIZEN})
    assert answer["citizen_id"] == CITIZEN


async def test_no_api_key_or_secret_travels_on_the_bus(axis: Axis) -> None:
    await axis.client.request("HO-TICH", "birth-record.get", {"citizen_id": CITIZEN})
    # lgsp_<lookup>_<secret>: the secret may itself hold "_", the lookup (hex) never does.
    secrets = {key.split("_", 2)[2].encode() for key in axis.keys.values()}
    consumer = AIOKafkaConsumer(
        bootstrap_servers=axis.client.bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    try:
        ours = [t for t in await consumer.topics() if t.startswith(f"{axis.settings.topic_prefix}.")]
        consumer.subscribe(ours)
        seen = 0
        started = asyncio.get_running_loop().time()
        while (elapsed := asyncio.get_running_loop().time() - started) < 20 and (seen < 50 or elapsed < 3):
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                for record in batch:
                    seen += 1
                    assert not any(s in (record.value or b"") for s in secrets), record.topic
    finally:
        await consumer.stop()
    assert seen > 10  # hellos, heartbeats, probes, the exchange: the check read real traffic
