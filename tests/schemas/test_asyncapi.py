"""The published bus contract (schemas/contract/): in step with the models, a valid AsyncAPI 3.0.0
document that holds together, the topics and keys the code really uses, and JSON Schemas that accept what
the bus carries and refuse what it must not."""

import hashlib
import json
import re
import typing
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator, FormatChecker
from referencing import Registry
from referencing.jsonschema import DRAFT7

from buscore.signing import sender_of
from lgsp.bus import shared_topics
from lgsp.settings import Settings
from schemas import asyncapi
from schemas.asyncapi import CHANNELS, CONTRACT, KEYS, OPERATIONS, drift, examples, main, message_models
from schemas.messages import (
    CONNECTIVITY,
    DOSSIERS,
    INBOX,
    NGSP_EVENTS,
    NGSP_REQUESTS,
    NGSP_RESULTS,
    PROBE_REPLIES,
    REQUESTS,
    RESPONSES,
    Codec,
    DeadLetter,
    DecodeError,
    Message,
    encode,
)
from schemas.topics import Topics
from tests.support.signing import made_up_signer, unsigned

ROOT = Path(__file__).resolve().parents[2]
#: The official AsyncAPI 3.0.0 JSON Schema, vendored (tests run without network): where it comes from, its
#: license and how to update it are in asyncapi-3.0.0.NOTICE beside it.
META_SCHEMA = Path(__file__).with_name("asyncapi-3.0.0.json")
#: sha256 of `package/schemas/3.0.0-without-$id.json` in the npm package @asyncapi/specs 6.11.1.
META_SCHEMA_SHA256 = "abe96881dbfaad495ccbb6bd8d3fb43ca18a13b9d7564849ccb66f39d5e5b20f"
GUIDE = ROOT / "docs" / "integrators" / "bus-contract.md"

#: The codec each channel's consumers decode it with.
CODECS: dict[str, Codec[Any]] = {
    "connectivity": CONNECTIVITY,
    "requests": REQUESTS,
    "responses": RESPONSES,
    "dossiers": DOSSIERS,
    "inbox": INBOX,
    "probeReply": PROBE_REPLIES,
    "ngspProbeReplies": PROBE_REPLIES,
    "ngspRequests": NGSP_REQUESTS,
    "ngspEvents": NGSP_EVENTS,
    "ngspResults": NGSP_RESULTS,
    "deadLetters": Codec(DeadLetter),
    "deadLettersRaw": Codec(DeadLetter),
}

_RFC3339 = re.compile(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(?:\.\d+)?(?:[Zz]|[+-]\d\d:\d\d)")
#: The formats of the schemas checked, date-time as RFC 3339 has it (an offset is required).
FORMATS = FormatChecker()


@FORMATS.checks("date-time", raises=ValueError)
def _rfc3339(value: object) -> bool:
    return not isinstance(value, str) or bool(_RFC3339.fullmatch(value) and datetime.fromisoformat(value))


def contract() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CONTRACT / "asyncapi.yaml").read_text(encoding="utf-8"))
    return loaded


def json_schema(name: str) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads((CONTRACT / "json" / f"{name}.json").read_text(encoding="utf-8"))
    return loaded


def sealed(message: Message) -> bytes:
    """A message's record value exactly as the bus carries it: signed by the party it comes from."""
    return made_up_signer(sender_of(message)).seal(message)


def wire(message: Message) -> dict[str, Any]:
    """A message's record value exactly as the bus carries it (signed), parsed."""
    parsed: dict[str, Any] = json.loads(sealed(message))
    assert isinstance(parsed["signature"], dict), "what the bus carries is signed"
    return parsed


def unsigned_wire(message: Message) -> dict[str, Any]:
    """A message's JSON as the models write it, without signing it (the published examples)."""
    parsed: dict[str, Any] = json.loads(encode(message))
    return parsed


def schema_errors(schema: dict[str, Any], record: object) -> list[str]:
    validator = Draft202012Validator(schema, format_checker=FORMATS)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(record)]


def document_errors(document: dict[str, Any], name: str, record: object) -> list[str]:
    """Errors of `record` against the payload schema the AsyncAPI document itself gives message `name`."""
    registry = Registry().with_resource("urn:lgsp:asyncapi", DRAFT7.create_resource(document))
    validator = Draft7Validator(
        {"$ref": f"urn:lgsp:asyncapi#/components/schemas/{name}"}, registry=registry, format_checker=FORMATS
    )
    return [e.message for e in validator.iter_errors(record)]


# -- in step with the models --------------------------------------------------------------------------


def test_the_committed_contract_is_what_the_models_generate() -> None:
    stale = drift()
    assert not stale, "".join(stale.values()) + "\nrun: python -m schemas.asyncapi"


def test_the_drift_check_shows_changed_missing_and_left_over_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["--out", str(tmp_path)]) == 0 and drift(tmp_path) == {}
    hello = tmp_path / "json" / "Hello.json"
    hello.write_text(hello.read_text().replace('"maxLength": 40,', '"maxLength": 41,'))
    (tmp_path / "json" / "Probe.json").unlink()
    (tmp_path / "json" / "Gone.json").write_text("{}")
    capsys.readouterr()

    assert main(["--check", "--out", str(tmp_path)]) == 1
    stale = drift(tmp_path)
    assert sorted(stale) == ["json/Gone.json", "json/Hello.json", "json/Probe.json"]
    report = capsys.readouterr().err
    assert '-      "maxLength": 41,' in report and '+      "maxLength": 40,' in report
    assert "Probe.json: missing" in report and "Gone.json: left over" in report
    assert "python -m schemas.asyncapi" in report

    assert main(["--out", str(tmp_path)]) == 0  # writing repairs all three
    assert drift(tmp_path) == {}


def test_the_yaml_reads_back_as_the_document_and_the_output_is_stable() -> None:
    assert contract() == asyncapi.document()
    assert asyncapi.rendered() == asyncapi.rendered()
    # A YAML 1.2 reader takes an unquoted 079203001234 for a number: every such string is quoted.
    assert "applicant: '079203001234'" in (CONTRACT / "asyncapi.yaml").read_text()


# -- a valid AsyncAPI 3.0.0 document ---------------------------------------------------------------------


def test_the_vendored_meta_schema_is_the_official_one() -> None:
    assert hashlib.sha256(META_SCHEMA.read_bytes()).hexdigest() == META_SCHEMA_SHA256
    meta = json.loads(META_SCHEMA.read_text())
    assert meta["properties"]["asyncapi"]["const"] == "3.0.0"
    Draft7Validator.check_schema(meta)


def test_the_document_is_valid_asyncapi_3() -> None:
    validator = Draft7Validator(json.loads(META_SCHEMA.read_text()))
    document = contract()
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []
    # The check can fail: an AsyncAPI 2 verb, a Kafka binding's impossible partition count.
    wrong_verb = json.loads(json.dumps(document))
    wrong_verb["operations"]["sendHello"]["action"] = "publish"
    assert not validator.is_valid(wrong_verb)
    no_partitions = json.loads(json.dumps(document))
    no_partitions["channels"]["deadLetters"]["bindings"]["kafka"]["partitions"] = 0
    assert not validator.is_valid(no_partitions)


def _refs(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            yield node["$ref"]
        for child in node.values():
            yield from _refs(child)
    elif isinstance(node, list):
        for child in node:
            yield from _refs(child)


def _resolve(document: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), f"{ref} leaves the document"
    node: Any = document
    for part in ref[2:].split("/"):
        node = node[part.replace("~1", "/").replace("~0", "~")]
    return node


def test_the_document_holds_together() -> None:
    """What the meta-schema cannot see: references resolve, operations use their channels' messages,
    parameters match the addresses, and a reply to a dynamic address has a channel without one."""
    document = contract()
    for ref in _refs(document):
        _resolve(document, ref)
    channels = document["channels"]
    for name, channel in channels.items():
        placeholders = set(re.findall(r"{(\w+)}", channel["address"] or ""))
        assert set(channel.get("parameters", {})) == placeholders, name
    for name, operation in document["operations"].items():
        channel = operation["channel"]["$ref"]
        assert all(m["$ref"].startswith(f"{channel}/messages/") for m in operation["messages"]), name
        reply = operation.get("reply")
        if reply:
            into = reply["channel"]["$ref"]
            assert all(m["$ref"].startswith(f"{into}/messages/") for m in reply["messages"]), name
            if "address" in reply:
                assert _resolve(document, reply["channel"]["$ref"])["address"] is None, name
    used = {ref for ref in _refs(document["channels"])}
    assert used == {f"#/components/messages/{m}" for m in document["components"]["messages"]}


# -- everything the wire carries, where the code puts it -----------------------------------------------


def _leaves(cls: type) -> set[type]:
    subclasses: set[type] = set(cls.__subclasses__())
    return subclasses | {leaf for sub in subclasses for leaf in _leaves(sub)}


def test_every_message_model_is_published() -> None:
    models = {m for m in _leaves(Message) if m.__module__.startswith("schemas.")}
    assert models == set(message_models())
    document = contract()
    for model in models:
        assert (CONTRACT / "json" / f"{model.__name__}.json").is_file()
        assert model.__name__ in document["components"]["messages"]
        assert model in examples()
        assert model in KEYS or model is DeadLetter, f"{model.__name__} has no record key in KEYS"


@pytest.mark.parametrize("channel", CHANNELS, ids=lambda c: c.id)
def test_each_channel_carries_what_its_consumers_decode(channel: asyncapi.Channel) -> None:
    codec = CODECS[channel.id]
    for model, sample in examples().items():
        if model in channel.messages:
            assert codec.decode(encode(sample)) == sample
            decoded = codec.decode(sealed(sample))
            assert decoded.signature is not None and unsigned(decoded) == unsigned(sample)
        else:
            for raw in (encode(sample), sealed(sample)):
                with pytest.raises(DecodeError):
                    codec.decode(raw)


def test_the_channels_are_the_topics_the_code_uses() -> None:
    addresses = {c.address for c in CHANNELS if c.address is not None}
    template = Topics("{prefix}")
    names = [n for n, v in vars(Topics).items() if isinstance(v, property)]
    assert {getattr(template, n) for n in names} | {template.inbox("{system}")} == addresses
    # The topics the hub creates, with the partition counts the contract states where they are fixed.
    created = shared_topics(Topics("p"), 5)
    fixed = {
        c.address.format(prefix="p"): c.partitions
        for c in CHANNELS
        if c.address is not None and "{system}" not in c.address
    }
    # Raw mode's dead-letter topic is created by the first raw letter, with its short retention.
    assert created.keys() == fixed.keys() - {Topics("p").dead_letters_raw}
    assert {topic: n for topic, n in created.items() if fixed[topic] is not None} == {
        topic: n for topic, n in fixed.items() if n is not None and topic in created
    }
    assert all(n == 5 for topic, n in created.items() if fixed[topic] is None)


def test_the_settings_the_contract_names_exist() -> None:
    named = set(re.findall(r"LGSP_[A-Z_]+", (CONTRACT / "asyncapi.yaml").read_text()))
    assert named, "the document names the hub's settings"
    fields = {f"LGSP_{name.upper()}" for name in Settings.model_fields}
    assert named <= fields, named - fields


def test_every_operation_is_a_connectors() -> None:
    document = contract()
    for operation in OPERATIONS:
        channel = next(c for c in CHANNELS if c.id == operation.channel)
        assert ("connector" in channel.senders) == (operation.action == "send"), operation.id
        assert ("connector" in channel.receivers) == (operation.action == "receive"), operation.id
    # Every channel a connector sends to is an operation's or a reply's; a reply to the topic a message
    # names (a probe's reply_to) may go to any channel that carries it.
    used = {o.channel for o in OPERATIONS} | {o.reply_channel for o in OPERATIONS if o.reply_channel}
    named = {o.reply for o in OPERATIONS if o.reply_field}
    for channel in CHANNELS:
        if "connector" in channel.senders and channel.id not in used:
            assert set(channel.messages) <= named, channel.id
    assert set(document["operations"]) == {o.id for o in OPERATIONS}


# -- what the bus carries validates; what it must not carry does not -----------------------------------


def _fresh(sample: Message) -> Message:
    """The sample rebuilt with the defaults a sender gets: a new message id, the time now."""
    return type(sample).model_validate(sample.model_dump(exclude={"message_id", "sent_at"}))


@pytest.mark.parametrize("model", message_models(), ids=lambda m: m.__name__)
def test_what_the_bus_carries_validates_against_its_schema(model: type[Message]) -> None:
    schema, document = json_schema(model.__name__), contract()
    sample = examples()[model]
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"].endswith(f"/{model.__name__}.json")
    Draft202012Validator.check_schema(schema)
    published = document["components"]["messages"][model.__name__]["examples"][0]["payload"]
    assert published == unsigned_wire(sample)
    for message in (sample, _fresh(sample)):
        record = wire(message)
        assert schema_errors(schema, record) == []
        assert document_errors(document, model.__name__, record) == []


def _broken(model: type[Message], record: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Records of `model` the contract refuses, by what is wrong with them."""
    broken = {
        "another type": record | {"type": "teleport"},
        "no message id": {k: v for k, v in record.items() if k != "message_id"},
        "no type": {k: v for k, v in record.items() if k != "type"},
        "an unknown field": record | {"priority": "high"},
        "a message id that is no UUID": record | {"message_id": "42"},
        "a time without its offset": record | {"sent_at": "2026-03-02T01:30:00"},
        "a signature without its value": record
        | {"signature": {"signer": "0123456789ab", "nonce": "bm9uY2U="}},
        "a signature that is no object": record | {"signature": "forged"},
        "an empty signer": record | {"signature": record["signature"] | {"signer": ""}},
    }
    if model in KEYS:
        broken["an empty key field"] = record | {KEYS[model][0]: ""}
    return broken


@pytest.mark.parametrize("model", message_models(), ids=lambda m: m.__name__)
def test_a_broken_record_is_refused(model: type[Message]) -> None:
    schema, document = json_schema(model.__name__), contract()
    for what, record in _broken(model, wire(examples()[model])).items():
        assert schema_errors(schema, record), f"{model.__name__} with {what} passed its JSON Schema"
        assert document_errors(document, model.__name__, record), f"{model.__name__} with {what} passed"


@pytest.mark.parametrize("model", message_models(), ids=lambda m: m.__name__)
def test_the_record_key_is_a_field_of_the_payload(model: type[Message]) -> None:
    key = contract()["components"]["messages"][model.__name__]["bindings"]["kafka"]["key"]
    if model is DeadLetter:
        assert "x-payload-field" not in key
        return
    field = key["x-payload-field"]
    assert field == KEYS[model][0] and field in model.model_fields
    value = wire(examples()[model])[field]
    assert Draft7Validator(key).is_valid(value)
    assert not Draft7Validator(key).is_valid("")


def _guide_records() -> list[dict[str, Any]]:
    blocks = re.findall(r"^```json\n(.*?)^```", GUIDE.read_text(encoding="utf-8"), re.S | re.M)
    return [record for block in blocks if isinstance(record := json.loads(block), dict) and "type" in record]


def test_the_records_shown_to_integrators_are_valid() -> None:
    by_type = {typing.get_args(m.model_fields["type"].annotation)[0]: m for m in message_models()}
    records = _guide_records()
    assert records, f"{GUIDE} shows records"
    for record in records:
        model = by_type[record["type"]]
        assert schema_errors(json_schema(model.__name__), record) == [], record
        assert CODECS[next(c.id for c in CHANNELS if model in c.messages)].decode(json.dumps(record).encode())
