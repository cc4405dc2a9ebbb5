"""Dead letters keep a rejected record's envelope, never its personal data; an operator's raw mode keeps
the whole record on a topic of its own that the broker deletes soon."""

import json
import secrets
import uuid
from collections.abc import Callable

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from buscore.deadletters import envelope_only
from buscore.signing import HUB, Signer
from lgsp.settings import Settings
from schemas.messages import ServiceRequest, encode
from schemas.topics import Topics
from tests.support import Broker, Hub, running_hub
from tests.support.dead_letters import Letter, read_dead_letters

CITIZEN = "079203001234"
SIGNER = Signer.platform(HUB, secrets.token_bytes(32))


def request() -> ServiceRequest:
    """A citizen's request, unsigned: the hub refuses it (`unsigned`) and dead-letters it."""
    return ServiceRequest(
        client="MOT-CUA",
        session_id=uuid.uuid4(),
        provider="HO-TICH",
        service="birth-record.get",
        payload={"citizen_id": CITIZEN, "note": "mẹ: Nguyễn Thị B"},
        subject=CITIZEN,
    )


def test_the_envelope_stays_and_personal_fields_become_keyed_hashes() -> None:
    sent = request()
    kept = envelope_only(encode(sent), SIGNER)
    assert CITIZEN.encode() not in kept
    envelope = json.loads(kept)
    assert envelope["message_id"] == str(sent.message_id) and envelope["client"] == "MOT-CUA"
    assert envelope["service"] == "birth-record.get" and envelope["type"] == "service_request"
    assert envelope["payload"].startswith("[removed hmac:") and envelope["subject"].startswith(
        "[removed hmac:"
    )
    # Equal values have equal hashes under one key (so letters can be matched), other keys differ.
    assert json.loads(envelope_only(encode(sent), SIGNER))["payload"] == envelope["payload"]
    other = Signer.platform(HUB, secrets.token_bytes(32))
    assert json.loads(envelope_only(encode(sent), other))["payload"] != envelope["payload"]


def test_a_record_that_is_not_a_json_object_is_kept_as_its_size_and_hash() -> None:
    for raw in (b'{"citizen_id": "' + CITIZEN.encode() + b'"', CITIZEN.encode(), b"[1, 2]", b"\xff\xfe"):
        kept = envelope_only(raw, SIGNER)
        assert CITIZEN.encode() not in kept
        assert kept.startswith(b"[removed: ") and b"hmac:" in kept


async def send_rejected(bootstrap: str, topics: Topics) -> ServiceRequest:
    sent = request()
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topics.requests, encode(sent), key=b"MOT-CUA")
    finally:
        await producer.stop()
    return sent


def about(sent: ServiceRequest) -> Callable[[list[Letter]], bool]:
    """`done` for read_dead_letters: the letter of `sent` is there."""
    return lambda letters: any(str(sent.message_id).encode() in x.letter.original for x in letters)


async def test_a_rejected_request_leaves_no_citizen_id_on_the_dead_letter_topic(
    hub: Hub, broker: Broker
) -> None:
    topics = Topics(hub.settings.topic_prefix)
    sent = await send_rejected(broker.bootstrap, topics)
    letters = await read_dead_letters(broker.bootstrap, topics, about(sent))
    (letter,) = [x for x in letters if str(sent.message_id).encode() in x.letter.original]
    assert letter.letter.reason == "unsigned"
    assert CITIZEN.encode() not in letter.letter.original and CITIZEN not in letter.letter.detail
    assert json.loads(letter.letter.original)["client"] == "MOT-CUA"


async def test_raw_mode_keeps_the_whole_record_on_a_short_lived_topic(
    settings: Settings, broker: Broker
) -> None:
    raw_settings = settings.model_copy(update={"dead_letter_raw": True, "dead_letter_raw_hours": 2.0})
    topics = Topics(raw_settings.topic_prefix)
    async with running_hub(raw_settings, broker.bootstrap):
        sent = await send_rejected(broker.bootstrap, topics)
        letters = await read_dead_letters(broker.bootstrap, topics, about(sent))
        raw = await read_dead_letters(broker.bootstrap, topics, about(sent), raw=True)
    raw_topic = topics.dead_letters_raw
    assert all(CITIZEN.encode() not in x.letter.original for x in letters)
    (whole,) = [x for x in raw if str(sent.message_id).encode() in x.letter.original]
    assert CITIZEN.encode() in whole.letter.original  # the whole record, for the operator who asked
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        (described,) = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, raw_topic)])
        entries = {name: value for name, value, *_ in described.resources[0][4]}
    finally:
        await admin.close()
    assert entries.get("retention.ms") == str(2 * 3_600_000)
