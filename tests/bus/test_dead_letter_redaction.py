"""No API key in clear in dead letters (nor in the hub's log): a bad hello's letter keeps its envelope,
with an API key's lookup part but never its secret part.

Hellos carry no API key any more (SDK 0.2: they are signed), but a connector of an older SDK still sends
its key in its hello's `api_key` field: the hub refuses such a hello as invalid, and its letter must not
keep the key. A signed hello refused for its signature has no secret to keep."""

import json
import logging
import uuid

import pytest
from aiokafka import AIOKafkaProducer
from pydantic import ValidationError

from lgsp.bus.redact import REDACTED, redact_record, redact_text
from schemas.messages import CONNECTIVITY, DecodeError, Hello, encode
from schemas.topics import Topics
from tests.bus.test_dead_letters import has_all, kept, read_dead_letters
from tests.support import Broker, Hub, make_agency, make_system
from tests.support.signing import hub_signer_of, system_signer

KEY = "lgsp_0123456789ab_" + "Zx9-_" * 8 + "abc"  # an issued key's shape: lookup, then 43 secret characters
SECRET = KEY.split("_", 2)[2]  # the secret part may hold "_" itself


def old_hello(api_key: str, system: str = "HO-TICH", session_id: uuid.UUID | None = None) -> bytes:
    """A hello as an SDK before 0.2 sent it: with the system's API key in clear."""
    hello = Hello(system=system, session_id=session_id or uuid.uuid4(), sdk_version="0.1.0")
    body = json.loads(encode(hello)) | {"api_key": api_key}
    del body["signature"]
    return json.dumps(body, separators=(",", ":")).encode()


def hello_bytes(api_key: str, system: str = "HO-TICH") -> bytes:
    return old_hello(api_key, system)


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


def test_an_old_hello_is_refused_without_its_key_in_the_reason() -> None:
    """The reason a consumer gives (and the hub logs) names the field, never its value."""
    bad_code = old_hello(KEY + "x" * 200).replace(b'"HO-TICH"', b'"HO TICH"')  # two fields wrong
    for raw in (old_hello(KEY), bad_code):
        with pytest.raises(DecodeError) as refused:
            CONNECTIVITY.decode(raw)
        assert refused.value.reason == "invalid" and "api_key" in refused.value.detail
        assert SECRET not in str(refused.value) and SECRET not in refused.value.detail
    with pytest.raises(ValidationError):  # a hello cannot be made with a key at all
        Hello.model_validate({"system": "HO-TICH", "session_id": str(uuid.uuid4()), "api_key": "x" * 8})
    hello = Hello(system="HO-TICH", session_id=uuid.uuid4())
    assert "api_key" not in repr(hello) and "api_key" not in hello.model_dump_json()


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
    session = uuid.uuid4()

    def hello(api_key: str, system_code: str = "HO-TICH") -> bytes:
        return old_hello(api_key, system_code, session)

    # (reason, record, whether it holds a key to redact)
    bad = [
        ("invalid", hello(key), True),  # an old SDK: the right key, in clear
        ("invalid", hello(other_key, "KHONG-CO"), True),  # another system's key, a typo in the code
        ("invalid", hello(key).replace(str(session).encode(), b"not-a-uuid"), True),
        ("malformed", hello(key)[:-20], True),  # truncated in flight
        # Signed hellos refused for their signature: they hold no key, their letters none either.
        ("wrong_signer", system_signer(other).seal(Hello(system="HO-TICH", session_id=session)), False),
        ("wrong_signer", system_signer(system).seal(Hello(system="KHONG-CO", session_id=session)), False),
    ]
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        for _, value, _ in bad:
            await producer.send_and_wait(topics.connectivity, value, key=b"HO-TICH")
    finally:
        await producer.stop()
    hub_signer = hub_signer_of(hub.settings)
    letters = await read_dead_letters(
        broker.bootstrap, topics, has_all([value for _, value, _ in bad], hub_signer)
    )

    ours = {x.letter.original: x.letter for x in letters}
    for reason, value, keyed in bad:
        letter = ours[kept(value, hub_signer)]
        assert letter.reason == reason
        original = letter.original.decode(errors="replace")
        for secret in secrets:
            assert secret not in original and secret not in letter.model_dump_json(), (reason, original)
            assert secret not in letter.detail
        if reason == "malformed":  # not JSON: kept as its size and a keyed hash (of the redacted bytes)
            assert original.startswith("[removed: ") and "hmac:" in original
            continue
        # The rest of the envelope is kept: who, which session, and which key was tried (its lookup).
        envelope = json.loads(original)
        assert envelope["system"] in ("HO-TICH", "KHONG-CO")
        assert envelope["session_id"] in (str(session), "not-a-uuid")
        if keyed:
            lookups = ["_".join(k.split("_", 2)[:2]) for k in (key, other_key)]  # the secret may hold "_"
            assert envelope["api_key"] in [f"{lookup}_{REDACTED}" for lookup in lookups]
        else:  # a hello holds neither a key nor personal data: its envelope is all of it
            assert envelope == json.loads(value) and "api_key" not in envelope

    # Nor did any log line say a key.
    for record in caplog.records:
        for secret in secrets:
            assert secret not in record.getMessage(), record.getMessage()
