"""The published bus contract (schemas/contract/): in step with the models, a valid AsyncAPI 3.0
document, and JSON Schemas that accept what the bus carries and refuse what it must not."""

import json
from pathlib import Path
from uuid import uuid4

import pytest
import yaml
from jsonschema import Draft7Validator, Draft202012Validator

from schemas.asyncapi import CHANNELS, CONTRACT, drift, main
from schemas.common import Link
from schemas.messages import Heartbeat, Hello, Message, Probe, ServiceRequest, encode

#: The official AsyncAPI 3.0.0 JSON Schema, from the npm package @asyncapi/specs 6.11.1
#: (schemas/3.0.0-without-$id.json, Apache-2.0), vendored because tests run without network.
ASYNCAPI_SCHEMA = Path(__file__).with_name("asyncapi-3.0.0.json")


def test_the_committed_contract_is_what_the_models_generate() -> None:
    assert drift() == [], "run: python -m schemas.asyncapi"


def test_the_drift_check_notices_a_changed_file(tmp_path: Path) -> None:
    assert main(["--out", str(tmp_path)]) == 0 and drift(tmp_path) == []
    (tmp_path / "json" / "Hello.json").write_text("{}")
    assert drift(tmp_path) == ["json/Hello.json"]
    assert main(["--check", "--out", str(tmp_path)]) == 1


def test_the_document_is_valid_asyncapi_3() -> None:
    document = yaml.safe_load((CONTRACT / "asyncapi.yaml").read_text())
    validator = Draft7Validator(json.loads(ASYNCAPI_SCHEMA.read_text()))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]
    assert errors == []
    broken = document | {"channels": {"x": {"address": 42}}}
    assert list(validator.iter_errors(broken)), "the meta-schema check can fail"


def test_every_message_of_the_wire_contract_is_published() -> None:
    def leaves(cls: type) -> set[type]:
        subclasses = set(cls.__subclasses__())
        return subclasses | {s for c in subclasses for s in leaves(c)}

    published = {m for channel in CHANNELS for m in channel.messages}
    assert leaves(Message) <= published
    for model in published:
        assert (CONTRACT / "json" / f"{model.__name__}.json").exists()


SAMPLES: list[Message] = [
    Hello(system="HO-TICH", session_id=uuid4(), api_key="lgsp_abcdefgh_0123456789abcdef"),
    Heartbeat(system="HO-TICH", session_id=uuid4()),
    Probe(system="HO-TICH", probe_id=uuid4(), token="t" * 40, reply_to="lgsp.connectivity", via=Link.NGSP),
    ServiceRequest(
        client="MOT-CUA",
        session_id=uuid4(),
        provider="VN/DAN-CU",
        service="citizen.get",
        payload={"citizen_id": "079203001234"},
    ),
]


@pytest.mark.parametrize("message", SAMPLES, ids=lambda m: type(m).__name__)
def test_what_the_bus_carries_validates_against_its_schema(message: Message) -> None:
    schema = json.loads((CONTRACT / "json" / f"{type(message).__name__}.json").read_text())
    record = json.loads(encode(message))
    for validator in (Draft202012Validator(schema), Draft7Validator(schema)):  # both dialects agree
        assert list(validator.iter_errors(record)) == []
        assert list(validator.iter_errors(record | {"type": "something_else"}))
        assert list(
            validator.iter_errors({k: v for k, v in record.items() if k != "system" and k != "client"})
        )
