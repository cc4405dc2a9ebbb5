"""Property-based tests of the wire contract: every codec survives any bytes, every message round-trips,
signed or not, and a signed one altered in any way no longer checks.

Strategies for valid messages are derived from the pydantic models' own field declarations (types,
patterns, lengths, bounds), so a new field is fuzzed without touching this file, and a new message
class fails `test_every_message_model_is_fuzzed` until it is listed in `CODECS`.
"""

import asyncio
import enum
import json
import logging
import random
import string
import types
import typing
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any, Literal
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaProducer
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from buscore.signing import Signer, SignerKey, sender_of
from schemas import messages
from schemas.common import Link
from schemas.messages import Codec, DeadLetter, DecodeError, Message, encode
from schemas.onceonly import load_catalogue
from schemas.topics import Topics
from tests.bus.test_dead_letters import Letter, has_all, kept, read_dead_letters, wait_heartbeat_after
from tests.support import Broker, Hub, eventually, make_agency, make_system
from tests.support.signing import hub_signer_of, key_of, made_up_signer, refusal, system_signer, unsigned

#: Every codec of the bus, with the models it carries.
CODECS: dict[str, tuple[Codec[Any], tuple[type[Message], ...]]] = {
    "CONNECTIVITY": (messages.CONNECTIVITY, (messages.Hello, messages.Heartbeat, messages.ProbeReply)),
    "INBOX": (
        messages.INBOX,
        (messages.Probe, messages.SessionReset, messages.ServiceCall, messages.ServiceResult),
    ),
    "REQUESTS": (messages.REQUESTS, (messages.ServiceRequest,)),
    "RESPONSES": (messages.RESPONSES, (messages.ServiceResponse,)),
    "NGSP_REQUESTS": (
        messages.NGSP_REQUESTS,
        (
            messages.NgspRegistration,
            messages.NgspProbeRequest,
            messages.NgspServiceCall,
            messages.AuditAnchor,
        ),
    ),
    "NGSP_EVENTS": (messages.NGSP_EVENTS, (messages.NgspAck, messages.NgspProbeResult)),
    "NGSP_RESULTS": (messages.NGSP_RESULTS, (messages.NgspServiceResult,)),
    "PROBE_REPLIES": (messages.PROBE_REPLIES, (messages.ProbeReply,)),
    "DOSSIERS": (messages.DOSSIERS, (messages.DossierReport,)),
    # Not a codec of the module, but a bus message all the same: the dead-letter topic's.
    "DEAD_LETTERS": (Codec(DeadLetter), (DeadLetter,)),
}

#: Moderate example counts and no deadline (the machine is shared): the file runs in seconds. No example
#: database either, so nothing is left in the work tree (a failure prints its reproducer).
FUZZ = settings(max_examples=200, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
#: For properties that are cheaper to convince of: ten codecs times 200 examples add up.
FUZZ_LIGHT = settings(FUZZ, max_examples=60)

#: Why a receiver refuses a record for its signature (lgsp.bus.authentication): dead-letter reasons.
AUTH_REASONS = (
    "unsigned",
    "unknown_signer",
    "wrong_signer",
    "revoked_key",
    "bad_signature",
    "stale",
    "replayed",
)


def sealed(message: Message) -> bytes:
    """`message` signed by a (made-up) key of the party it comes from, as that party sends it."""
    return made_up_signer(sender_of(message)).seal(message)


def sender_key(message: Message) -> SignerKey:
    """The key a receiver knows the sender of `message` by (made-up, as in `sealed`)."""
    return key_of(made_up_signer(sender_of(message)))


# --- valid messages, derived from the models ---------------------------------------------------------

#: JSON as a connector could send it: finite floats only (JSON has no NaN or Infinity), any ints.
json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=12,
)
json_objects = st.dictionaries(st.text(max_size=10), json_values, max_size=5)

#: Timestamps as senders make them: naive, UTC or a fixed offset of whole minutes (pydantic writes offsets
#: to the minute; see test_offsets_with_seconds_keep_the_instant).
offsets = st.builds(
    lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(min_value=-23 * 60, max_value=23 * 60)
)
zones: st.SearchStrategy[tzinfo] = st.one_of(st.just(UTC), offsets)
EARLIEST, LATEST = datetime(1900, 1, 1), datetime(2200, 1, 1)
datetimes = st.datetimes(EARLIEST, LATEST) | st.datetimes(EARLIEST, LATEST, timezones=zones)

#: Lists of nested models are kept short: their constraints are the same for the 1st and the 50th item.
MAX_LIST = 3


def _constraints(metadata: list[Any]) -> dict[str, Any]:
    """Pattern, lengths and bounds from a field's metadata (annotated-types and pydantic's own kinds)."""
    found: dict[str, Any] = {}
    for item in metadata:
        for name in ("pattern", "min_length", "max_length", "ge", "le", "gt", "lt"):
            value = getattr(item, name, None)
            if value is not None:
                found[name] = value
    return found


_ALNUM = string.ascii_letters + string.digits
_LOWER = string.ascii_lowercase + string.digits


def _joined(*parts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    return st.tuples(*parts).map("".join)


_SYSTEM_CODE = _joined(st.sampled_from(_ALNUM), st.text(_ALNUM + "_-", min_size=1, max_size=63))

#: Hand-made strategies for the patterns of schemas.common and schemas.onceonly: st.from_regex gets there
#: too, but several times slower (it overshoots the length limits and retries). Each is checked by the
#: model it builds, which validates what it is given.
PATTERNS: dict[str, st.SearchStrategy[str]] = {
    r"^[A-Za-z0-9][A-Za-z0-9_-]{1,63}$": _SYSTEM_CODE,
    r"^(?:[A-Z0-9]{2,8}/)?[A-Za-z0-9][A-Za-z0-9_-]{1,63}$": _joined(
        st.just("")
        | st.text(string.ascii_uppercase + string.digits, min_size=2, max_size=8).map(lambda a: a + "/"),
        _SYSTEM_CODE,
    ),
    r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$": _joined(
        st.sampled_from(_ALNUM), st.text(_ALNUM + "_.-", max_size=63)
    ),
    r"^[a-z][a-z0-9_.-]{1,63}$": _joined(
        st.sampled_from(string.ascii_lowercase), st.text(_LOWER + "_.-", min_size=1, max_size=63)
    ),
    r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$": _joined(
        st.sampled_from(string.ascii_lowercase),
        st.text(_LOWER, max_size=10),
        st.lists(st.text(_LOWER, min_size=1, max_size=8), max_size=5).map(
            lambda ps: "".join("-" + p for p in ps)
        ),
    ),
    r"^[0-9a-f]{64}$": st.binary(min_size=32, max_size=32).map(bytes.hex),
}


def _strings(found: dict[str, Any]) -> st.SearchStrategy[str]:
    low, high = found.get("min_length", 0), found.get("max_length")
    if found.get("pattern") in PATTERNS:
        return PATTERNS[found["pattern"]]
    if "pattern" in found:
        # Patterns are anchored and checked by the Rust regex engine: fullmatch, no trailing newline.
        return st.from_regex(found["pattern"], fullmatch=True).filter(
            lambda s: low <= len(s) and (high is None or len(s) <= high)
        )
    return st.text(min_size=low, max_size=min(high, 80) if high is not None else 80)


def strategy_for(annotation: Any, metadata: list[Any]) -> st.SearchStrategy[Any]:
    """A strategy for values valid for a field of type `annotation` with constraints `metadata`."""
    found = _constraints(metadata)
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*(st.none() if arg is type(None) else strategy_for(arg, metadata) for arg in args))
    if origin is Literal:
        return st.sampled_from(args)
    if origin is list:
        low = found.get("min_length", 0)
        return st.lists(
            strategy_for(args[0], []),
            min_size=low,
            max_size=max(low, min(found.get("max_length", 5), MAX_LIST)),
        )
    if origin is dict:
        if args == (str, Any):
            return json_objects
        assert args[0] is str, f"only objects with string keys are supported, not {annotation}"
        return st.dictionaries(  # e.g. a registration's bus keys, by key id
            strategy_for(args[0], []),
            strategy_for(args[1], []),
            max_size=min(found.get("max_length", 5), MAX_LIST),
        )
    if isinstance(annotation, type):
        if issubclass(annotation, BaseModel):
            return model_strategy(annotation)
        if issubclass(annotation, enum.Enum):
            return st.sampled_from(list(annotation))
        simple: dict[type, Callable[[], st.SearchStrategy[Any]]] = {
            bool: st.booleans,
            UUID: st.uuids,
            datetime: lambda: datetimes,
            date: st.dates,
            str: lambda: _strings(found),
            int: lambda: st.integers(
                min_value=found.get("ge", found["gt"] + 1 if "gt" in found else None),
                max_value=found.get("le", found["lt"] - 1 if "lt" in found else None),
            ),
        }
        for kind, make in simple.items():
            if issubclass(annotation, kind) and not (kind is int and issubclass(annotation, bool)):
                return make()
    raise TypeError(f"no strategy for {annotation!r}: teach strategy_for about it")


def _field_strategy(info: FieldInfo) -> st.SearchStrategy[Any]:
    return strategy_for(info.annotation, info.metadata)


_MODELS: dict[type[BaseModel], st.SearchStrategy[Any]] = {}


def model_strategy(model: type[BaseModel]) -> st.SearchStrategy[Any]:
    """Valid instances of `model`: every required field, and each defaulted one sometimes left out."""
    if model not in _MODELS:
        fields = model.model_fields
        required = {name: _field_strategy(info) for name, info in fields.items() if info.is_required()}
        optional = {name: _field_strategy(info) for name, info in fields.items() if not info.is_required()}
        _MODELS[model] = st.fixed_dictionaries(required, optional=optional).map(lambda kw: model(**kw))
    return _MODELS[model]


def codec_messages(name: str) -> st.SearchStrategy[Message]:
    """Valid messages of every model `name`'s codec carries."""
    return st.one_of(*(model_strategy(model) for model in CODECS[name][1]))


# --- bytes that may or may not be messages ----------------------------------------------------------

#: JSON of any shape: scalars, arrays and objects nested a few levels.
any_json = st.recursive(
    json_scalars | st.floats(),  # NaN and infinities too: Python's json writes them, as a sloppy sender might
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=5)
    ),
    max_leaves=25,
)


@st.composite
def near_misses(draw: st.DrawFn, name: str) -> bytes:
    """A valid message of codec `name` with one thing wrong: a field dropped, replaced or added."""
    body = json.loads(encode(draw(codec_messages(name))))
    key = draw(st.sampled_from(sorted(body)))
    match draw(st.sampled_from(["drop", "replace", "add", "retype"])):
        case "drop":
            del body[key]
        case "replace":
            body[key] = draw(any_json)
        case "add":
            body[draw(st.text(max_size=12))] = draw(any_json)
        case "retype":
            body["type"] = draw(st.sampled_from([*_all_types(), "", "HELLO", None, 1]))
    return json.dumps(body, ensure_ascii=draw(st.booleans())).encode()


def _all_types() -> list[str]:
    return sorted(
        str(model.model_fields["type"].default) for _, models in CODECS.values() for model in models
    )


def raw_records(name: str) -> st.SearchStrategy[bytes | None]:
    """What a consumer of codec `name` may find in a record: anything, mostly almost right."""
    return st.one_of(
        st.none(),
        st.binary(max_size=300),
        st.binary(min_size=1, max_size=20).map(lambda b: b * 20_000),  # huge (up to 400 kB), cheaply
        st.from_regex(rb"\A[\[\]{}\":,0-9a-z\\ .eE+-]*\Z"),  # JSON-looking junk
        st.text(max_size=200).map(str.encode),
        any_json.map(lambda v: json.dumps(v).encode()),
        st.sampled_from([m for _, ms in CODECS.values() for m in ms]).flatmap(model_strategy).map(encode),
        st.sampled_from([m for _, ms in CODECS.values() for m in ms]).flatmap(model_strategy).map(sealed),
        near_misses(name),
        near_misses(name).flatmap(lambda b: st.integers(0, len(b)).map(lambda n: b[:n])),  # truncated
        near_misses(name).map(lambda b: b.replace(b'"', b"\xff", 1)),  # invalid UTF-8 inside
    )


# --- the properties -------------------------------------------------------------------------------


def test_every_message_model_is_fuzzed() -> None:
    """Adding a message class without listing it here would leave it unfuzzed."""
    covered = {model for _, models in CODECS.values() for model in models}
    assert set(Message.__subclasses__()) <= covered, set(Message.__subclasses__()) - covered
    module_codecs = {name for name, value in vars(messages).items() if isinstance(value, Codec)}
    assert module_codecs <= set(CODECS), module_codecs - set(CODECS)


@pytest.mark.parametrize("name", sorted(CODECS))
@FUZZ
@given(data=st.data())
def test_any_bytes_decode_to_a_message_or_a_decode_error(name: str, data: st.DataObject) -> None:
    codec, models = CODECS[name]
    raw = data.draw(raw_records(name), label="raw")
    try:
        decoded = codec.decode(raw)
    except DecodeError as refused:
        assert refused.reason in ("malformed", "invalid")
        assert refused.detail
    else:
        assert isinstance(decoded, models)


@pytest.mark.parametrize("name", sorted(CODECS))
@FUZZ
@given(data=st.data())
def test_valid_messages_round_trip(name: str, data: st.DataObject) -> None:
    codec, _ = CODECS[name]
    message = data.draw(codec_messages(name), label="message")
    wire = encode(message)
    decoded = codec.decode(wire)
    assert decoded == message
    assert type(decoded) is type(message)
    assert encode(decoded) == wire, "a decoded message is re-sent unchanged"


@pytest.mark.parametrize("name", sorted(CODECS))
@FUZZ
@given(data=st.data())
def test_signed_messages_round_trip_and_their_signature_checks(name: str, data: st.DataObject) -> None:
    """Whatever a message holds, the statement its receiver recomputes from the record's JSON is the one
    its sender signed."""
    codec, _ = CODECS[name]
    message = data.draw(codec_messages(name), label="message")
    wire = sealed(message)
    decoded = codec.decode(wire)
    assert decoded.signature is not None
    assert unsigned(decoded) == unsigned(message)
    assert refusal(codec, wire, sender_key(message)) is None
    # Only the sender's key checks it: another party's is not the one the message claims.
    other = made_up_signer("KHONG-CO" if sender_of(message) != "KHONG-CO" else "HO-TICH")
    assert refusal(codec, wire, key_of(other)) == "unknown_signer"


@pytest.mark.parametrize("name", sorted(CODECS))
@FUZZ
@given(data=st.data())
def test_a_signed_message_altered_in_any_field_no_longer_checks(name: str, data: st.DataObject) -> None:
    """A field dropped, changed or added after signing (a personal field too: it is signed through its
    hash) makes the signature fail, whenever the altered record is still a valid message."""
    codec, _ = CODECS[name]
    message = data.draw(codec_messages(name), label="message")
    body = json.loads(sealed(message))
    signed = dict(body)
    key = data.draw(st.sampled_from(sorted(k for k in body if k != "signature")), label="field")
    match data.draw(st.sampled_from(["drop", "replace", "add"]), label="change"):
        case "drop":
            del body[key]
        case "replace":
            body[key] = data.draw(any_json, label="value")
        case _:
            body[data.draw(st.text(max_size=12).filter(lambda k: k not in body), label="name")] = data.draw(
                any_json
            )
    assume(body != signed)
    try:
        raw = json.dumps(body, allow_nan=False).encode()
        decoded = codec.decode(raw)
    except (ValueError, DecodeError):
        return  # not a message any more: refused before its signature is looked at
    assert refusal(codec, raw, sender_key(decoded)) in ("bad_signature", "unknown_signer")
    if sender_of(decoded) == sender_of(message):
        assert refusal(codec, raw, sender_key(message)) == "bad_signature"


@pytest.mark.parametrize("name", sorted(CODECS))
@FUZZ_LIGHT
@given(data=st.data())
def test_a_message_of_another_topic_is_refused_as_invalid(name: str, data: st.DataObject) -> None:
    """A record published on the wrong topic is invalid there, not misread as one of its messages."""
    codec, models = CODECS[name]
    others = [m for _, ms in CODECS.values() for m in ms if m not in models]
    message = data.draw(st.sampled_from(others).flatmap(model_strategy), label="message")
    for raw in (encode(message), sealed(message)):
        with pytest.raises(DecodeError) as refused:
            codec.decode(raw)
        assert refused.value.reason == "invalid"


# --- findings: the wire changes these values ----------------------------------------------------------


# Found: 1e400 decoded to inf and was re-encoded as null. Payloads now refuse non-finite numbers.
def test_numbers_beyond_the_double_range_are_not_silently_changed() -> None:
    raw = json.dumps(
        {
            "type": "service_request",
            "client": "MOT-CUA",
            "session_id": "00000000-0000-4000-8000-000000000000",
            "provider": "HO-TICH",
            "service": "evidence.get",
            "payload": {"amount": 1},
        }
    ).replace('"amount": 1', '"amount": 1e400')
    try:
        request = messages.REQUESTS.decode(raw.encode())
    except DecodeError:
        return  # refusing it is fine too
    assert json.loads(encode(request))["payload"]["amount"] is not None


# Found: pydantic writes UTC offsets to the minute, so +07:06:40 (a zoneinfo LMT offset) moved the instant
# by 40 s on the wire. Aware timestamps are now held in UTC (schemas.common.Instant).
def test_offsets_with_seconds_keep_the_instant() -> None:
    at = datetime(2025, 1, 1, tzinfo=timezone(timedelta(hours=7, minutes=6, seconds=40)))
    beat = messages.Heartbeat(system="HO-TICH", session_id=UUID(int=1), sent_at=at)
    assert messages.CONNECTIVITY.decode(encode(beat)).sent_at == at


# --- the real broker: a storm of bad records, and the hub's consumers carry on -----------------------

#: Unknown systems (no inbox, no session) and the registered one, so records reach both kinds of path.
KNOWN = "HO-TICH"
UNKNOWN = ("KHONG-CO-1", "KHONG-CO-2", "VN/KHONG-CO")


class Storm:
    """Random records for the hub's inbound topics, from a seeded `random.Random` (reproducible).

    Valid messages are signed mostly by the known system's key (so some get past authentication and go
    deep, those that claim another system as `wrong_signer`), else by a key the hub never issued, or
    by the known system's key then altered (a new message id), or not at all."""

    def __init__(self, seed: int, session_id: UUID, signer: Signer) -> None:
        self.rng = random.Random(seed)
        self.session_id = session_id  # the known system's open session, so some records go deep
        self.signer = signer  # the known system's
        self.stranger = made_up_signer(KNOWN)  # claims to be the known system, with a key never issued
        self.catalogue = load_catalogue()

    def text(self, high: int = 40) -> str:
        """Any text: ASCII, Vietnamese, control characters (NUL included) and astral characters.

        PostgreSQL refuses NUL in text, so there valid records carrying one fail in their handler: they
        must be dead-lettered (handler_failed) without holding up the records behind them.
        """
        alphabet = string.printable + "ăâđêôơưạảấầẩẫậ\x00\x01\x1f\u2028\U0001f600"
        return "".join(self.rng.choice(alphabet) for _ in range(self.rng.randint(0, high)))

    def json_value(self, depth: int = 0) -> Any:
        """A random JSON value, nested a few levels."""
        rng = self.rng
        kinds = ["null", "bool", "int", "float", "str"] + (["list", "dict"] if depth < 3 else [])
        match rng.choice(kinds):
            case "null":
                return None
            case "bool":
                return rng.random() < 0.5
            case "int":
                return rng.choice([0, -1, 2**63, -(2**70), rng.randint(-1000, 1000)])
            case "float":
                return rng.choice([0.5, -1e300, 1e-300, rng.uniform(-1e6, 1e6)])
            case "str":
                return self.text()
            case "list":
                return [self.json_value(depth + 1) for _ in range(rng.randint(0, 4))]
            case _:
                return {self.text(10): self.json_value(depth + 1) for _ in range(rng.randint(0, 4))}

    def system(self) -> str:
        return self.rng.choice([KNOWN, KNOWN, *UNKNOWN[:2]])

    def session(self, system: str) -> UUID:
        return self.session_id if system == KNOWN and self.rng.random() < 0.7 else uuid4()

    def valid(self, topic: str) -> Message:
        """A valid message of `topic`, from the known system (often in its session) or an unknown one."""
        rng, system = self.rng, self.system()
        now = datetime.now(UTC)
        if topic == "connectivity":
            return rng.choice(
                [
                    messages.Hello(system=system, session_id=uuid4(), sdk_version=self.text(40)),
                    messages.Heartbeat(system=system, session_id=self.session(system)),
                    messages.ProbeReply(
                        system=system,
                        probe_id=uuid4(),
                        token=self.text(128),
                        probe_sent_at=now - timedelta(seconds=rng.uniform(-5, 5)),
                        via=rng.choice(list(Link)),
                    ),
                ]
            )
        if topic == "requests":
            return messages.ServiceRequest(
                client=system,
                session_id=self.session(system),
                provider=rng.choice([KNOWN, "hub", *UNKNOWN]),
                service=rng.choice(["evidence.get", "meta.list", "x.y-z"]),
                payload={self.text(10): self.json_value() for _ in range(rng.randint(0, 3))},
                timeout_ms=rng.randint(50, 2000),
                subject=rng.choice([None, self.text(64)]),
            )
        if topic == "responses":
            fault = rng.choice([None, messages.Fault(code=self.text(64), message=self.text(200))])
            return messages.ServiceResponse(
                exchange_id=uuid4(),
                provider=system,
                session_id=self.session(system),
                client=self.system(),
                payload=None if fault else {"x": self.json_value()},
                fault=fault,
            )
        procedure = rng.choice(sorted(self.catalogue.procedures.values(), key=lambda p: p.code))
        today = now.date()
        return messages.DossierReport(
            dossier_id=uuid4(),
            office=system,
            session_id=self.session(system),
            procedure=procedure.code if rng.random() < 0.8 else "khong-co",
            applicant=self.text(63) + "a",
            received_on=today,
            components=[
                messages.DossierComponent(
                    document_type=code,
                    source=rng.choice(["reused", "submitted"]),
                    lookup=rng.choice(["held", "not_held", "holder_unreachable"]),
                    reason=self.text(200),
                    holder=self.catalogue.document_type(code).holder,
                    content_hash=rng.randbytes(32).hex(),
                    issued_on=today - timedelta(days=rng.randint(0, 3000)),
                )
                for code in procedure.requires
            ],
        )

    def signed(self, message: Message) -> bytes:
        """`message` as some sender puts it on the bus: signed by the known system, a stranger, or no one."""
        match self.rng.choice(["known", "known", "known", "stranger", "altered", "unsigned"]):
            case "known":
                return self.signer.seal(message)
            case "stranger":
                return self.stranger.seal(message)
            case "altered":
                body = json.loads(self.signer.seal(message))
                body["message_id"] = str(UUID(int=self.rng.getrandbits(128), version=4))
                return json.dumps(body).encode()
            case _:
                return encode(message)

    def record(self, topic: str) -> bytes | None:
        """One record for `topic`: random bytes, broken or wrong-shaped JSON, or a valid message."""
        rng = self.rng
        match rng.choice(["bytes", "truncated", "json", "other", "broken", "valid", "valid", "empty"]):
            case "bytes":
                return rng.randbytes(rng.choice([1, 7, 64, 500, 50_000]))
            case "truncated":
                whole = self.signed(self.valid(topic))
                return whole[: rng.randrange(len(whole))]
            case "json":
                return json.dumps(self.json_value()).encode()
            case "other":  # a valid message of another topic
                return self.signed(self.valid(rng.choice([t for t in STORM_TOPICS if t != topic])))
            case "broken":  # a valid (signed) message with one field wrong
                body = json.loads(self.signed(self.valid(topic)))
                body[rng.choice(sorted(body))] = self.json_value()
                return json.dumps(body).encode()
            case "valid":
                return self.signed(self.valid(topic))
            case _:
                return rng.choice([None, b"", b" ", b"{}", b"null"])


#: The hub's inbound topics the storm hits, with the codec their consumer decodes with.
STORM_TOPICS: dict[str, Codec[Any]] = {
    "requests": messages.REQUESTS,
    "responses": messages.RESPONSES,
    "connectivity": messages.CONNECTIVITY,
    "dossiers": messages.DOSSIERS,
}
STORM_SIZE = 400


async def test_a_storm_of_random_records_is_dead_lettered_and_the_hub_carries_on(
    hub: Hub, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="lgsp")
    topics = Topics(hub.settings.topic_prefix)
    await make_agency(hub.client)
    system = await make_system(hub.client, KNOWN)
    signer = system_signer(system)
    known_key = key_of(signer)
    hub_signer = hub_signer_of(hub.settings)  # letters keep envelopes with fields hashed under its key
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all", max_request_size=2_000_000)
    await producer.start()
    try:
        # The known system opens a session first, so the storm's valid records reach the handlers' depths.
        session_id = uuid4()
        hello = messages.Hello(system=KNOWN, session_id=session_id)
        await producer.send_and_wait(topics.connectivity, signer.seal(hello), key=KNOWN.encode())
        opened = await wait_heartbeat_after(hub, system["id"], None)

        storm = Storm(seed=20250601, session_id=session_id, signer=signer)
        expected: Counter[tuple[str, bytes, str]] = Counter()  # refused as undecodable
        unauthentic: Counter[tuple[str, bytes, str]] = Counter()  # refused for their signature
        sent_as: dict[tuple[str, bytes], bytes | None] = {}  # what a letter keeps -> the record sent
        sent: list[asyncio.Future[Any]] = []
        for _ in range(STORM_SIZE):
            name = storm.rng.choice(sorted(STORM_TOPICS))
            topic = getattr(topics, name)
            value = storm.record(name)
            letter = kept(value, hub_signer)  # as a letter keeps it: keys redacted, personal fields hashed
            sent_as[(topic, letter)] = value
            try:
                STORM_TOPICS[name].decode(value)
            except DecodeError as refused:
                expected[(topic, letter, refused.reason)] += 1
            else:
                assert value is not None
                reason = refusal(STORM_TOPICS[name], value, known_key)  # the hub knows the known key only
                if reason is not None:
                    unauthentic[(topic, letter, reason)] += 1
            key = storm.rng.choice([KNOWN, *UNKNOWN, None]) or (KNOWN if value is None else None)
            sent.append(await producer.send(topic, value, key=key.encode() if key else None))
        await asyncio.gather(*sent)
        assert len(expected) > STORM_SIZE // 3, "the storm is mostly bad records"
        reasons = Counter(reason for _, _, reason in unauthentic)
        assert {"unsigned", "unknown_signer", "wrong_signer", "bad_signature"} <= set(reasons), reasons

        def all_arrived(letters: list[Letter]) -> bool:
            return not (expected + unauthentic) - Counter(
                (x.letter.source_topic, x.letter.original, x.letter.reason) for x in letters
            )

        letters = await read_dead_letters(broker.bootstrap, topics, all_arrived, within=60)
        decode_failures = Counter(
            (x.letter.source_topic, x.letter.original, x.letter.reason)
            for x in letters
            if x.letter.reason in ("malformed", "invalid")
        )
        # Nothing else was refused as undecodable (the ledger refuses dossiers that contradict the catalogue
        # as `invalid` too, but those decode), and each bad record was dead-lettered once.
        extra = decode_failures - expected
        assert all(
            topic == topics.dossiers
            and reason == "invalid"
            and messages.DOSSIERS.decode(sent_as[(topic, letter)])
            for topic, letter, reason in extra
        ), extra
        assert all(x.letter.detail for x in letters)
        # Refused for its signature: exactly the records not signed by the party they claim, each once;
        # nothing the known system signed (no replay, nothing stale).
        refused = Counter(
            (x.letter.source_topic, x.letter.original, x.letter.reason)
            for x in letters
            if x.letter.reason in AUTH_REASONS
        )
        assert refused == unauthentic, (refused - unauthentic, unauthentic - refused)

        # The consumers are alive: ready, no worker restarted, and a new session's hello and heartbeat apply.
        # (A worker that has had no record yet proves itself by a health check every couple of seconds.)
        async def ready() -> bool:
            return (await hub.client.get("/readyz")).status_code == 200

        await eventually(ready, timeout=15, what="/readyz to report every worker consuming")
        runtime = hub.app.state.runtime
        assert all(worker.healthy for worker in runtime.workers), [
            w.name for w in runtime.workers if not w.healthy
        ]
        session_id = uuid4()
        hello = messages.Hello(system=KNOWN, session_id=session_id)
        await producer.send_and_wait(topics.connectivity, signer.seal(hello), key=KNOWN.encode())
        after_hello = await wait_heartbeat_after(hub, system["id"], opened)
        await asyncio.sleep(0.01)
        beat = messages.Heartbeat(system=KNOWN, session_id=session_id)
        await producer.send_and_wait(topics.connectivity, signer.seal(beat), key=KNOWN.encode())
        await wait_heartbeat_after(hub, system["id"], after_hello)
    finally:
        await producer.stop()
    restarts = [r.getMessage() for r in caplog.records if "restarting" in r.getMessage()]
    assert not restarts, restarts


# --- valid records their handler can never take: found by the storm, they used to jam their partition ----


def _poison_dossier(session_id: UUID) -> Message:
    procedure = load_catalogue().procedure("birth-registration")
    return messages.DossierReport(
        dossier_id=uuid4(),
        office=KNOWN,
        session_id=session_id,
        procedure=procedure.code,
        applicant="012345678901",
        received_on=date(2025, 6, 1),
        components=[
            messages.DossierComponent(
                document_type=code,
                source="submitted",
                lookup="holder_unreachable",
                reason="server.timeout\x00",
                holder=load_catalogue().document_type(code).holder,
                content_hash="0" * 64,
                issued_on=date(2025, 1, 1),
            )
            for code in procedure.requires
        ],
    )


def _signed(make: Callable[[UUID], Message]) -> Callable[[UUID, Signer], bytes]:
    """A poison made from the known system's session, signed by the known system."""
    return lambda session_id, signer: signer.seal(make(session_id))


def _hello_signed_by_a_key_id_with_nul(_: UUID, signer: Signer) -> bytes:
    """A hello signed under a key id holding a NUL, which PostgreSQL refuses in text: the keys are looked
    up before any handler runs, so anyone can send this, without a key."""
    forged = Signer(KNOWN, "\x00" + "A" * 11, signer.key)
    return forged.seal(messages.Hello(system=KNOWN, session_id=uuid4()))


#: name -> (database, topic, the poison record given the known system's session and signer, the reason
#: it is dead-lettered with). Each is a valid message.
POISONS: dict[str, tuple[str, str, Callable[[UUID, Signer], bytes], str]] = {
    # Unauthenticated: any sender could stop the hub's heartbeat processing for a partition (it once did
    # with a NUL in a hello's API key; the key id a signature names is what is looked up now).
    "hello-signed-by-a-key-id-with-nul": (
        "postgresql",
        "connectivity",
        _hello_signed_by_a_key_id_with_nul,
        "invalid",  # a key id has a fixed shape (schemas.messages.Signature): refused at decoding
    ),
    # probe_token() calls datetime.timestamp(), which raises ValueError for 0001-01-01 (naive).
    "probe-reply-sent-in-year-1": (
        "sqlite",
        "connectivity",
        _signed(
            lambda _: messages.ProbeReply(
                system=KNOWN, probe_id=uuid4(), token="t", probe_sent_at=datetime(1, 1, 1)
            )
        ),
        "handler_failed",
    ),
    "response-with-nul-in-fault": (
        "postgresql",
        "responses",
        _signed(
            lambda session_id: messages.ServiceResponse(
                exchange_id=uuid4(),
                provider=KNOWN,
                session_id=session_id,
                client=KNOWN,
                fault=messages.Fault(code="server.oops", message="\x00"),
            )
        ),
        "handler_failed",
    ),
    "dossier-with-nul-in-reason": ("postgresql", "dossiers", _signed(_poison_dossier), "handler_failed"),
}
#: How long the poison and the record behind it may take to be dead-lettered (a second or so when all
#: is well; the margin is for a busy machine).
JAM_WAIT = 15.0


@pytest.mark.parametrize(
    ("poison", "database_url"),
    [pytest.param(name, database) for name, (database, _, _, _) in POISONS.items()],
    indirect=["database_url"],
)
async def test_a_poison_record_does_not_jam_its_consumer(
    poison: str, hub: Hub, broker: Broker, caplog: pytest.LogCaptureFixture
) -> None:
    """A record the hub cannot process is dead-lettered (as handler_failed when its handler fails) and does
    not stop the records behind it (docs/architecture/design.md section 7). Each of these once made its
    worker retry the batch for ever."""
    caplog.set_level(logging.WARNING, logger="lgsp")
    _, topic_name, make, reason = POISONS[poison]
    topics = Topics(hub.settings.topic_prefix)
    await make_agency(hub.client)
    system = await make_system(hub.client, KNOWN)
    signer = system_signer(system)
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
    await producer.start()
    try:
        session_id = uuid4()
        hello = messages.Hello(system=KNOWN, session_id=session_id)
        await producer.send_and_wait(topics.connectivity, signer.seal(hello), key=KNOWN.encode())
        await wait_heartbeat_after(hub, system["id"], None)
        topic = getattr(topics, topic_name)
        poison_value, follow_up = make(session_id, signer), f"not json {uuid4()}".encode()
        await producer.send_and_wait(topic, poison_value, key=KNOWN.encode())
        await producer.send_and_wait(topic, follow_up, key=KNOWN.encode())  # same key: same partition
        hub_signer = hub_signer_of(hub.settings)
        try:
            letters = await read_dead_letters(
                broker.bootstrap, topics, has_all([poison_value, follow_up], hub_signer), within=JAM_WAIT
            )
        except AssertionError:
            restarts = [r.getMessage()[:300] for r in caplog.records if "restarting" in r.getMessage()]
            raise AssertionError(f"{topic_name} consumer jammed by {poison}: {restarts}") from None
        reasons = {x.letter.original: x.letter.reason for x in letters}
        poisoned, behind = kept(poison_value, hub_signer), kept(follow_up, hub_signer)
        assert (reasons[poisoned], reasons[behind]) == (reason, "malformed")
    finally:
        await producer.stop()
