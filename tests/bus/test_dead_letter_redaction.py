"""No API key in clear in dead letters (nor in the hub's log): a bad hello's letter keeps everything but
the key's secret part."""

import json
import logging
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from lgsp.bus.redact import REDACTED, redact_record, redact_text
from schemas.messages import Hello, encode
from schemas.topics import Topics
from tests.bus.test_dead_letters import has_all, read_dead_letters
from tests.support import Broker, Hub, make_agency, make_system

KEY = "lgsp_0123456789ab_" + "Zx9-_" * 8 + "abc"  # an issued key's shape: lookup, then 43 secret characters
SECRET = KEY.split("_", 2)[2]  # the secret part may hold "_" itself


def hello_bytes(api_key: str, system: str = "HO-TICH") -> bytes:
    return encode(Hello(system=system, session_id=uuid.uuid4(), api_key=api_key))


# --- the redaction itself ----------------------------------------------------------------------------


def test_a_hello_keeps_everything_but_the_secret() -> None:
    raw = hello_bytes(KEY)
    kept = redact_record(raw)
    assert SECRET.encode() not in kept
    assert json.loads(kept) == json.loads(raw) | {"api_key": f"lgsp_0123456789ab_{REDACTED}"}
    assert kept.replace(f"lgsp_0123456789ab_{REDACTED}".encode(), KEY.encode()) == raw, "only the key moved"


@pytest.mark.parametrize(
    "raw",
    [
        hello_bytes("not-even-a-key-but-secret"),  # a mistyped key is still a secret
        hello_bytes(KEY)[:-30],  # cut short: not JSON any more
        hello_bytes(KEY)[: hello_bytes(KEY).index(SECRET.encode()) + 10],  # cut inside the key
        hello_bytes(KEY).replace(b'"', b"\xff", 1),  # not UTF-8
        # The field's name behind an escape: JSON for "api_key", which the byte patterns cannot see.
        b'{"type": "hello", "api\\u005fkey": "not-even-a-key-but-secret"}',
        json.dumps({"payload": {"note": KEY}}).encode(),  # a key pasted anywhere
        ('{"payload": {"note": "\\u006c' + KEY[1:] + '"}}').encode(),  # a key behind an escape
        b"junk " + KEY.encode() + b" junk",
        json.dumps([{"api_key": "abc"}, {"deep": {"api_key": "lgsp_0123456789ab_" + "s" * 43}}]).encode(),
    ],
)
def test_no_secret_survives_in_any_shape_of_record(raw: bytes) -> None:
    kept = redact_record(raw)
    assert SECRET.encode() not in kept
    assert b"not-even-a-key-but-secret" not in kept
    assert b"s" * 43 not in kept
    assert redact_record(kept) == kept, "redacting twice changes nothing"


def test_records_without_a_key_are_kept_byte_for_byte() -> None:
    for raw in (
        b"",
        b"\xff\xfe\x00",
        b'{"type": "heartbeat", "system": "HO-TICH", "note": "lgsp_ is a prefix"}',
        json.dumps({"api_key": 12345678}).encode(),  # not a string: nothing secret to hide
    ):
        assert redact_record(raw) == raw


def test_a_reason_quoting_a_key_is_redacted() -> None:
    assert redact_text(f"IntegrityError: ({KEY!r})") == f"IntegrityError: ('lgsp_0123456789ab_{REDACTED}')"
    assert redact_text("api_key: String should have at least 8 characters") == (
        "api_key: String should have at least 8 characters"
    )


def test_a_hello_shows_its_key_neither_in_repr_nor_in_validation_errors() -> None:
    hello = Hello(system="HO-TICH", session_id=uuid.uuid4(), api_key=KEY)
    assert SECRET not in repr(hello) and SECRET not in str(hello)
    with pytest.raises(ValidationError) as refused:
        Hello(system="HO TICH", session_id=uuid.uuid4(), api_key=KEY + "x" * 200)
    assert SECRET not in str(refused.value)


# --- on the real broker --------------------------------------------------------------------------------


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # the dead-lettering is the same on both
async def test_bad_hellos_are_dead_lettered_without_their_keys(
    hub: Hub, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="lgsp")
    topics = Topics(hub.settings.topic_prefix)
    await make_agency(hub.client)
    system = await make_system(hub.client, "HO-TICH")
    other = await make_system(hub.client, "DAT-DAI")
    key, other_key = system["api_key"], other["api_key"]
    secrets = [k.split("_", 2)[2] for k in (key, other_key)]
    session = str(uuid.uuid4())

    def hello(api_key: str, system_code: str = "HO-TICH") -> bytes:
        return encode(Hello(system=system_code, session_id=uuid.UUID(session), api_key=api_key))

    bad = {
        "unauthenticated": hello(other_key),  # another system's real key
        "unknown_system": hello(key, "KHONG-CO"),  # the right key, a typo in the system code
        "invalid": json.dumps(
            {"type": "hello", "system": "HO-TICH", "session_id": "not-a-uuid", "api_key": key}
        ).encode(),
        "malformed": hello(key)[:-20],  # truncated in flight
    }
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        for value in bad.values():
            await producer.send_and_wait(topics.connectivity, value, key=b"HO-TICH")
    finally:
        await producer.stop()
    letters = await read_dead_letters(broker.bootstrap, topics, has_all(list(bad.values())))

    ours = {x.letter.original: x.letter for x in letters}
    for reason, value in bad.items():
        letter = ours[redact_record(value)]
        assert letter.reason == reason
        original = letter.original.decode(errors="replace")
        for secret in secrets:
            assert secret not in original and secret not in letter.model_dump_json(), (reason, original)
        # The rest is kept: who, which session, and which key was tried (its lookup part).
        assert "HO-TICH" in original or "KHONG-CO" in original
        assert session in original or reason == "invalid"
        assert REDACTED in original

    # Nor did any log line say a key.
    for record in caplog.records:
        for secret in secrets:
            assert secret not in record.getMessage(), record.getMessage()
