"""Bad records on the connectivity topic end on the dead-letter topic (their envelope: API keys redacted,
personal fields as keyed hashes), and the consumer carries on. Records not signed by the system they
claim to come from (unsigned, forged, signed by a revoked key, too old, replayed) are among them, each
with its reason."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

from buscore.deadletters import envelope_only
from buscore.signing import Signer, Trust
from lgsp.bus.redact import redact_record
from schemas.common import utcnow
from schemas.messages import INBOX, Heartbeat, Hello, encode
from schemas.topics import Topics
from tests.support import Broker, Hub, make_agency, make_system
from tests.support.dead_letters import Letter, dead_letter_counts, read_dead_letters
from tests.support.signing import hub_signer_of, made_up_api_key, made_up_signer, refusal, system_signer


@pytest.fixture
async def producer(broker: Broker) -> AsyncIterator[AIOKafkaProducer]:
    """A plain producer, as a (misbehaving) connector would have."""
    running = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await running.start()
    try:
        yield running
    finally:
        await running.stop()


def kept(raw: bytes | None, signer: Signer) -> bytes:
    """What a dead letter of a receiver signing as `signer` keeps of the record `raw` (shorter than the
    bus's limit): its envelope, API keys redacted, personal fields as hashes keyed by the receiver."""
    return envelope_only(redact_record(raw or b""), signer)


def has_all(originals: list[bytes], signer: Signer) -> Callable[[list[Letter]], bool]:
    """`done` for read_dead_letters: every one of `originals` has its letter from the receiver signing
    as `signer` (the hub's: `hub_signer_of(settings)`)."""
    return lambda letters: {kept(o, signer) for o in originals} <= {x.letter.original for x in letters}


async def status_of(hub: Hub, system_id: int) -> dict[str, object]:
    response = await hub.client.get(f"/api/v1/systems/{system_id}/status")
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


async def heartbeat_at(hub: Hub, system_id: int) -> datetime | None:
    value = (await status_of(hub, system_id))["last_heartbeat_at"]
    assert value is None or isinstance(value, str)
    return datetime.fromisoformat(value) if value else None


async def wait_heartbeat_after(
    hub: Hub, system_id: int, after: datetime | None, within: float = 10
) -> datetime:
    """Wait until the status shows a heartbeat later than `after`, and return it."""
    deadline = asyncio.get_running_loop().time() + within
    while True:
        seen = await heartbeat_at(hub, system_id)
        if seen is not None and (after is None or seen > after):
            return seen
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"no heartbeat after {after} within {within}s (last: {seen})")
        await asyncio.sleep(0.1)


async def test_bad_records_are_dead_lettered_and_the_consumer_carries_on(
    hub: Hub, broker: Broker, producer: AIOKafkaProducer
) -> None:
    topics = Topics(hub.settings.topic_prefix)
    await make_agency(hub.client)
    system = await make_system(hub.client, "HO-TICH")
    other = await make_system(hub.client, "DAT-DAI")
    code, key = system["code"], system["api_key"]
    nonce = uuid.uuid4().hex
    lookup_part = "_".join(key.split("_", 2)[:2])  # the secret part may hold "_"
    signer = system_signer(system)
    # DAT-DAI's key is rotated: the old one is revoked, and what it signs no longer counts.
    rotated = await hub.client.post(f"/api/v1/systems/{other['id']}/key")
    assert rotated.status_code == 201, rotated.text

    def hello(system_code: str = code, **changes: object) -> Hello:
        return Hello.model_validate({"system": system_code, "session_id": str(uuid.uuid4())} | changes)

    signed = signer.seal(hello())
    # Everything is keyed by the good system's code: same partition as its hello below, so a record
    # that jammed the consumer would hold the good ones back.
    bad: dict[str, list[bytes]] = {
        "malformed": [f"not json at all {nonce} {{".encode(), b"\xff\xfe\x00" + nonce.encode()],
        "invalid": [
            json.dumps(
                {"type": "hello", "system": code, "session_id": "not-a-uuid", "nonce": nonce}
            ).encode(),
            json.dumps({"type": "goodbye", "system": code, "nonce": nonce}).encode(),
            json.dumps([nonce, 1, 2]).encode(),
            # A hello of an SDK before 0.2, with its API key in clear (kept redacted).
            encode(hello())[:-1] + f',"api_key":"{key}"}}'.encode(),
        ],
        "unsigned": [encode(hello())],
        "unknown_signer": [
            Signer.for_system(code, made_up_api_key(nonce)).seal(hello()),  # no such key
            made_up_signer(code).seal(hello()),
        ],
        "wrong_signer": [
            system_signer(rotated.json() | {"code": "DAT-DAI"}).seal(hello()),  # another system's key
            signer.seal(hello("KHONG-CO-" + nonce[:8])),  # its own key, a system that does not exist
        ],
        "bad_signature": [
            Signer.for_system(code, f"{lookup_part}_{'x' * 43}").seal(hello()),  # right lookup, wrong secret
            signed.replace(b'"sdk_version":""', b'"sdk_version":"altered"'),  # altered after signing
        ],
        "revoked_key": [system_signer(other).seal(hello("DAT-DAI"))],
        "stale": [signer.seal(hello(sent_at=(utcnow() - timedelta(minutes=10)).isoformat()))],
    }
    assert signed.replace(b'"sdk_version":""', b'"sdk_version":"altered"') != signed
    expected = {value: reason for reason, values in bad.items() for value in values}
    for value in expected:
        await producer.send_and_wait(topics.connectivity, value, key=code.encode())
    await producer.send_and_wait(topics.connectivity, None, key=code.encode())  # a tombstone: empty record

    hub_signer = hub_signer_of(hub.settings)
    letters = await read_dead_letters(broker.bootstrap, topics, has_all([*expected, b""], hub_signer))
    by_original = {x.letter.original: x for x in letters}
    for value, reason in expected.items():
        got = by_original[kept(value, hub_signer)]
        assert got.letter.reason == reason, (value, got.letter)
        assert got.letter.source_topic == topics.connectivity
        assert got.letter.detail, "a dead letter says why"
        assert got.key == code.encode(), "the dead letter keeps the record's key"
        assert key not in got.letter.detail, "an API key must not be echoed into the reason"
        assert key.split("_", 2)[2] not in got.letter.original.decode(errors="replace")
        if value.startswith(b"{"):  # a JSON object: its envelope says who and what
            assert json.loads(got.letter.original)["type"] in ("hello", "goodbye")
    assert by_original[kept(b"", hub_signer)].letter.reason == "malformed"
    # Each bad record is dead-lettered once, not once per retry.
    letters_kept = {kept(value, hub_signer) for value in expected}
    assert len([x for x in letters if x.letter.original in letters_kept]) == len(expected)

    # None of the bad hellos opened a session.
    assert await heartbeat_at(hub, system["id"]) is None

    # The consumer carries on: the good system's hello, then a heartbeat, are applied.
    session_id = uuid.uuid4()
    good_hello = signer.seal(Hello(system=code, session_id=session_id))
    await producer.send_and_wait(topics.connectivity, good_hello, key=code.encode())
    after_hello = await wait_heartbeat_after(hub, system["id"], None)
    await asyncio.sleep(0.01)
    await producer.send_and_wait(
        topics.connectivity, signer.seal(Heartbeat(system=code, session_id=session_id)), key=code.encode()
    )
    await wait_heartbeat_after(hub, system["id"], after_hello)

    # The same signed hello written again (a copy taken off the bus): refused as a replay, once.
    await producer.send_and_wait(topics.connectivity, good_hello, key=code.encode())
    letters = await read_dead_letters(broker.bootstrap, topics, has_all([good_hello], hub_signer))
    copy = kept(good_hello, hub_signer)
    assert [x.letter.reason for x in letters if x.letter.original == copy] == ["replayed"]


async def test_heartbeat_without_hello_is_dead_lettered_and_session_reset(
    hub: Hub, broker: Broker, producer: AIOKafkaProducer
) -> None:
    topics = Topics(hub.settings.topic_prefix)
    await make_agency(hub.client)
    system = await make_system(hub.client, "HO-TICH")
    code = system["code"]
    inbox = AIOKafkaConsumer(
        topics.inbox(code), bootstrap_servers=broker.bootstrap, auto_offset_reset="earliest", group_id=None
    )
    value = system_signer(system).seal(Heartbeat(system=code, session_id=uuid.uuid4()))
    await producer.send_and_wait(topics.connectivity, value, key=code.encode())

    hub_signer = hub_signer_of(hub.settings)
    letters = await read_dead_letters(broker.bootstrap, topics, has_all([value], hub_signer))
    letter = kept(value, hub_signer)
    assert [x.letter.reason for x in letters if x.letter.original == letter] == ["unknown_session"]
    await inbox.start()
    try:
        resets: list[bytes] = []
        deadline = asyncio.get_running_loop().time() + 10
        while not resets:
            assert asyncio.get_running_loop().time() < deadline, "no session_reset reached the inbox"
            for records in (await inbox.getmany(timeout_ms=200)).values():
                resets += [
                    r.value for r in records if r.value and json.loads(r.value)["type"] == "session_reset"
                ]
        assert json.loads(resets[0])["system"] == code
        # Signed by the hub, with a key the system's trust anchor holds: its connector takes it.
        trust = Trust.parse(system["bus_trust"])
        assert refusal(INBOX, resets[0], *trust.keys.values()) is None
    finally:
        await inbox.stop()
    assert await heartbeat_at(hub, system["id"]) is None


async def test_dead_letters_are_counted_in_metrics(
    hub: Hub, broker: Broker, producer: AIOKafkaProducer
) -> None:
    topics = Topics(hub.settings.topic_prefix)
    response = await hub.client.get("/metrics")
    assert response.status_code == 200
    before = dead_letter_counts(response.text)

    nonce = uuid.uuid4().hex
    malformed = f"{{{nonce}".encode()
    invalid = json.dumps({"type": "heartbeat", "nonce": nonce}).encode()
    hello = Hello(system="KHONG-CO", session_id=uuid.uuid4())
    unsigned = encode(hello)
    unknown = Signer.for_system("KHONG-CO", made_up_api_key(nonce)).seal(hello)  # a key never issued
    for value in (malformed, invalid, unsigned, unknown):
        await producer.send_and_wait(topics.connectivity, value)
    done = has_all([malformed, invalid, unsigned, unknown], hub_signer_of(hub.settings))
    await read_dead_letters(broker.bootstrap, topics, done)

    after = dead_letter_counts((await hub.client.get("/metrics")).text)
    for reason in ("malformed", "invalid", "unsigned", "unknown_signer"):
        assert after.get(reason, 0) >= before.get(reason, 0) + 1, (reason, before, after)
