"""Unit tests of the wire contract: round trips and the reasons bad records are refused."""

from uuid import uuid4

import pytest

from schemas.messages import CONNECTIVITY, INBOX, DecodeError, Heartbeat, Hello, Probe, SessionReset, encode
from schemas.topics import Topics
from tests.support.signing import key_of, made_up_signer, refusal, unsigned

SIGNER = made_up_signer("HO-TICH")


def test_every_connectivity_message_round_trips() -> None:
    hello = Hello(system="HO-TICH", session_id=uuid4())
    beat = Heartbeat(system="HO-TICH", session_id=hello.session_id)
    assert CONNECTIVITY.decode(encode(hello)) == hello
    assert CONNECTIVITY.decode(encode(beat)) == beat
    # Signed, as they travel: the same message plus its signature, which checks.
    for message in (hello, beat):
        wire = SIGNER.seal(message)
        decoded = CONNECTIVITY.decode(wire)
        assert decoded.signature is not None and decoded.signature.signer == SIGNER.kid
        assert unsigned(decoded) == message
        assert refusal(CONNECTIVITY, wire, key_of(SIGNER)) is None


def test_a_hello_carries_no_api_key() -> None:
    """The API key never travels: a hello as an SDK before 0.2 sent it (with `api_key`) is invalid."""
    assert "api_key" not in Hello.model_fields
    old = encode(Hello(system="HO-TICH", session_id=uuid4()))[:-1] + b',"api_key":"lgsp_0123456789ab_x"}'
    with pytest.raises(DecodeError) as refused:
        CONNECTIVITY.decode(old)
    assert refused.value.reason == "invalid" and "api_key" in refused.value.detail
    assert "lgsp_0123456789ab_x" not in refused.value.detail, "the refusal does not quote the key"


def test_inbox_carries_probes_and_session_resets() -> None:
    probe = Probe(system="DKKD", probe_id=uuid4(), token="t", reply_to="lgsp.connectivity")
    reset = SessionReset(system="DKKD", reason="unknown session")
    assert isinstance(INBOX.decode(encode(probe)), Probe)
    assert isinstance(INBOX.decode(encode(reset)), SessionReset)


@pytest.mark.parametrize(
    ("raw", "reason", "mentions"),
    [
        (b"\x00\xffnot json", "malformed", "Invalid JSON"),
        (None, "malformed", "empty record"),
        (b'{"type": "heartbeat", "system": "HO-TICH"}', "invalid", "session_id"),
        (b'{"type": "teleport", "system": "HO-TICH"}', "invalid", "teleport"),
        (
            b'{"type": "heartbeat", "system": "bad code!", "session_id": "'
            + b"205308bc-8f1c-45b9-a129-d0e5c1627020"
            + b'"}',
            "invalid",
            "system",
        ),
    ],
)
def test_bad_records_are_refused_with_a_reason(raw: bytes | None, reason: str, mentions: str) -> None:
    with pytest.raises(DecodeError) as refused:
        CONNECTIVITY.decode(raw)
    assert refused.value.reason == reason
    assert mentions in refused.value.detail


def test_unknown_fields_are_refused() -> None:
    body = encode(Heartbeat(system="HO-TICH", session_id=uuid4()))[:-1] + b', "extra": 1}'
    with pytest.raises(DecodeError, match="extra"):
        CONNECTIVITY.decode(body)


def test_topics_derive_from_one_prefix() -> None:
    topics = Topics("p1")
    assert topics.connectivity == "p1.connectivity"
    assert topics.inbox("HO-TICH") == "p1.inbox.HO-TICH"
    assert (
        len(
            {
                topics.connectivity,
                topics.ngsp_requests,
                topics.ngsp_events,
                topics.ngsp_probe_replies,
                topics.dead_letters,
            }
        )
        == 5
    )
