"""The bus contract as an AsyncAPI 3.0 document and one JSON Schema per message, generated from the
pydantic models and topic names of this package, so an integrator who does not write Python can connect
from the description alone.

    python -m schemas.asyncapi                 # (re)write schemas/contract/
    python -m schemas.asyncapi --check         # exit 1, with a diff, if the files differ from the models
    python -m schemas.asyncapi --out DIR       # write (or with --check, compare) another directory

The envelope: a record's value is one message, the UTF-8 JSON of its model (`encode`), with `type` naming
the message, `message_id` (a UUID, what makes consumers idempotent) and `sent_at` (an RFC 3339 instant
in UTC). The record's key is the value of one payload field per message (KEYS): a system code (the
sender's, or the client's for the records of an exchange) or, for dossiers, the applicant, so one
system's records stay in order on one partition. No record headers.

Bump VERSION when a message or a topic changes; the output is deterministic (sorted keys, fixed examples),
so `--check` compares text.
"""

import argparse
import base64
import difflib
import inspect
import json
import re
import sys
import typing
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal
from uuid import UUID

import yaml
from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from schemas.messages import (
    AuditAnchor,
    ConnectivityMessage,
    DeadLetter,
    DossierComponent,
    DossierReport,
    Fault,
    Heartbeat,
    Hello,
    InboxMessage,
    Message,
    NgspAck,
    NgspEvent,
    NgspProbeRequest,
    NgspProbeResult,
    NgspRegistration,
    NgspRequest,
    NgspServiceCall,
    NgspServiceResult,
    Probe,
    ProbeReply,
    ServiceCall,
    ServiceRequest,
    ServiceResponse,
    ServiceResult,
    SessionReset,
    encode,
)
from schemas.onceonly import Document
from schemas.topics import Topics

CONTRACT = Path(__file__).resolve().parent / "contract"
#: The contract's version (AsyncAPI `info.version`): bump it when a message or a topic changes.
VERSION = "2.3.0"
DIALECT = "https://json-schema.org/draft/2020-12/schema"
SCHEMA_ID = "https://lgsp.invalid/contract/json/{name}.json"
KAFKA_BINDING = "0.5.0"
#: Fields every message carries. The models fill them in when a message is built in Python, so pydantic
#: calls them optional; on the wire they are required (a record without `message_id` would get a new one
#: at every decode, and a replay would no longer be recognised).
ENVELOPE = ("type", "message_id", "sent_at")
#: Topic names with the deployment's prefix (and a system's code) left as AsyncAPI parameters.
ADDRESSES = Topics("{prefix}")

Role = Literal["connector", "hub", "ngsp", "operators"]


def members(carried: Any) -> tuple[type[Message], ...]:
    """The message classes a topic's codec takes: one class, or the classes of a (discriminated) union."""
    if typing.get_origin(carried) is typing.Annotated:
        carried = typing.get_args(carried)[0]
    classes = typing.get_args(carried) or (carried,)
    for cls in classes:
        if not (isinstance(cls, type) and issubclass(cls, Message)):
            raise TypeError(f"{cls!r} is not a bus message")
    return tuple(classes)


@dataclass(frozen=True, slots=True)
class Channel:
    """A topic family: its address (None: named at run time), what it carries, who sends and receives."""

    id: str
    address: str | None
    description: str
    messages: tuple[type[Message], ...]
    senders: tuple[Role, ...]
    receivers: tuple[Role, ...]
    partitions: int | None = None  # a fixed count; otherwise the hub's setting below decides
    partitions_setting: str | None = "LGSP_CONNECTIVITY_PARTITIONS"


CHANNELS = (
    Channel(
        "connectivity",
        ADDRESSES.connectivity,
        "Systems to hub: `Hello` (opens a session), `Heartbeat`s, and `ProbeReply`s to the hub's probes.",
        members(ConnectivityMessage),
        ("connector",),
        ("hub",),
    ),
    Channel(
        "requests",
        ADDRESSES.requests,
        "Clients to hub: service requests, to a provincial system (`CODE`) or beyond it (`AREA/CODE`).",
        (ServiceRequest,),
        ("connector",),
        ("hub",),
    ),
    Channel(
        "responses",
        ADDRESSES.responses,
        "Providers to hub: the answers to the service calls they received in their inbox.",
        (ServiceResponse,),
        ("connector",),
        ("hub",),
    ),
    Channel(
        "dossiers",
        ADDRESSES.dossiers,
        "One-stop shops to hub: completed dossiers, for the once-only ledger.",
        (DossierReport,),
        ("connector",),
        ("hub",),
    ),
    Channel(
        "inbox",
        ADDRESSES.inbox("{system}"),
        "The hub (and the NGSP) to one system: probes, session resets, service calls to serve, and the"
        " results of the system's own requests. The hub creates it once the system is registered.",
        members(InboxMessage),
        ("hub", "ngsp"),
        ("connector",),
        partitions_setting="LGSP_INBOX_PARTITIONS",
    ),
    Channel(
        "probeReply",
        None,
        "Wherever a probe's `reply_to` says: `{prefix}.connectivity` for the hub's probes (`via: lgsp`),"
        " `{prefix}.ngsp.probe-replies` for the NGSP's (`via: ngsp`).",
        (ProbeReply,),
        ("connector",),
        ("hub", "ngsp"),
        partitions_setting=None,
    ),
    Channel(
        "ngspProbeReplies",
        ADDRESSES.ngsp_probe_replies,
        "Systems to the NGSP: replies to the probes the NGSP sent through the axis (`via: ngsp`).",
        (ProbeReply,),
        ("connector",),
        ("ngsp",),
    ),
    Channel(
        "ngspRequests",
        ADDRESSES.ngsp_requests,
        "Hub to NGSP: national-catalogue registrations, probe requests, service calls beyond the province,"
        " and the hub's signed audit anchors (the NGSP keeps them).",
        members(NgspRequest),
        ("hub",),
        ("ngsp",),
    ),
    Channel(
        "ngspEvents",
        ADDRESSES.ngsp_events,
        "NGSP to hub: national-catalogue acknowledgements and the outcomes of NGSP probes.",
        members(NgspEvent),
        ("ngsp",),
        ("hub",),
    ),
    Channel(
        "ngspResults",
        ADDRESSES.ngsp_results,
        "NGSP to hub: the answers to service calls beyond the province.",
        (NgspServiceResult,),
        ("ngsp",),
        ("hub",),
    ),
    Channel(
        "deadLetters",
        ADDRESSES.dead_letters,
        "Records a consumer of the hub, the NGSP or a connector could not parse, validate or"
        " authenticate (or too large), with the reason: their envelope, personal fields only as keyed"
        " hashes, API keys never.",
        (DeadLetter,),
        ("hub", "ngsp"),
        ("operators",),
        partitions=1,
        partitions_setting=None,
    ),
    Channel(
        "deadLettersRaw",
        ADDRESSES.dead_letters_raw,
        "Raw mode only (LGSP_DEAD_LETTER_RAW, for debugging): the same records whole, personal data"
        " included, API keys redacted; the broker deletes them after LGSP_DEAD_LETTER_RAW_HOURS.",
        (DeadLetter,),
        ("hub", "ngsp"),
        ("operators",),
        partitions=1,
        partitions_setting=None,
    ),
)

#: Each message's record key: the payload field it equals, and why.
KEYS: dict[type[Message], tuple[str, str]] = {
    Hello: ("system", "The sending system's code."),
    Heartbeat: ("system", "The sending system's code."),
    ProbeReply: ("system", "The sending system's code."),
    ServiceRequest: (
        "client",
        "The client's code: one client's requests stay in order and reach the one hub process that"
        " rate-limits it.",
    ),
    ServiceResponse: ("client", "The client's code (not the provider's)."),
    DossierReport: ("applicant", "The applicant (citizen id or tax code): their dossiers stay in order."),
    Probe: ("system", "The probed system's code (the inbox's owner)."),
    SessionReset: ("system", "The system's code (the inbox's owner)."),
    ServiceCall: ("client", "The client's code (the inbox is the provider's)."),
    ServiceResult: ("system", "The client's code (the inbox's owner)."),
    NgspRegistration: ("system", "The registered system's code."),
    NgspProbeRequest: ("system", "The probed system's code."),
    NgspServiceCall: ("client", "The client's code."),
    NgspAck: ("system", "The registered system's code."),
    NgspProbeResult: ("system", "The probed system's code."),
    NgspServiceResult: ("client", "The client's code."),
    AuditAnchor: ("province", "The hub's province: its anchors stay in order."),
}
DEAD_LETTER_KEY = "The rejected record's key as it was received (none if it had none)."

#: The field that ties a message to the one it answers.
CORRELATION: dict[type[Message], tuple[str, str]] = {
    ServiceRequest: (
        "message_id",
        "The exchange id: the call, the response and the result carry it as `exchange_id`.",
    ),
    ServiceCall: ("exchange_id", "The `message_id` of the client's request."),
    ServiceResponse: ("exchange_id", "The `exchange_id` of the call answered."),
    ServiceResult: ("exchange_id", "The `message_id` of the client's request."),
    NgspServiceCall: ("exchange_id", "The `message_id` of the client's request."),
    NgspServiceResult: ("exchange_id", "The `exchange_id` of the call answered."),
    Probe: ("probe_id", "Echoed by the reply."),
    ProbeReply: ("probe_id", "The `probe_id` of the probe answered."),
}


@dataclass(frozen=True, slots=True)
class Operation:
    """What a connector does on a channel; a reply goes to `reply_channel`, or to the topic named by the
    payload field `reply_field` when that is set."""

    id: str
    action: Literal["send", "receive"]
    channel: str
    message: type[Message]
    summary: str
    reply_channel: str | None = None
    reply: type[Message] | None = None
    reply_field: str | None = None


#: A connector's operations (the document is written from its point of view).
OPERATIONS = (
    Operation(
        "sendHello",
        "send",
        "connectivity",
        Hello,
        "Open a session: the system's code, a new session id, the system's API key. Again after a"
        " `SessionReset` and after the bus was away.",
    ),
    Operation(
        "sendHeartbeat",
        "send",
        "connectivity",
        Heartbeat,
        "Say the system is alive, with the session id of its hello, every few seconds (the hub counts it"
        " disconnected after LGSP_HEARTBEAT_TTL seconds without one).",
    ),
    Operation(
        "receiveProbe",
        "receive",
        "inbox",
        Probe,
        "Answer a probe at once, echoing `probe_id`, `token` and `via`, with its `sent_at` as"
        " `probe_sent_at`, on the topic its `reply_to` names.",
        "probeReply",
        ProbeReply,
        "reply_to",
    ),
    Operation(
        "receiveSessionReset",
        "receive",
        "inbox",
        SessionReset,
        "The hub does not know the session (its hello was lost or refused): say hello again.",
    ),
    Operation(
        "receiveServiceCall",
        "receive",
        "inbox",
        ServiceCall,
        "Serve a call the hub authorised, answering before its `deadline` with a response carrying its"
        " `exchange_id`, the provider's own code and session id, and a `payload` or a `fault`.",
        "responses",
        ServiceResponse,
    ),
    Operation(
        "sendServiceRequest",
        "send",
        "requests",
        ServiceRequest,
        "Call a provider's service through the hub; the result (or the hub's fault, `server.timeout` after"
        " `timeout_ms`) comes back to the client's inbox with `exchange_id` equal to the request's"
        " `message_id`.",
        "inbox",
        ServiceResult,
    ),
    Operation(
        "sendDossierReport",
        "send",
        "dossiers",
        DossierReport,
        "Report a completed dossier (one-stop shops) to the once-only ledger.",
    ),
)

#: Fixed ids and times, so the examples (and the files) are the same at every run.
_AT = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
_SESSION = UUID("6f1c2a4e-3b5d-4c8e-9a7f-1d2e3f405162")  # HO-TICH's
_CLIENT_SESSION = UUID("a3b4c5d6-e7f8-4a1b-9c2d-3e4f5a6b7c8d")  # MOT-CUA's
_EXCHANGE = UUID("0c9a8b7d-6e5f-4a3b-8c2d-1e0f9a8b7c6d")
_PROBE = UUID("5e4d3c2b-1a09-4f8e-b7d6-c5b4a3928170")


def _id(n: int) -> UUID:
    return UUID(f"00000000-0000-4000-8000-{n:012d}")


def examples() -> dict[type[Message], Message]:
    """One message of each kind as the bus carries it, with fixed ids and times."""
    probe = Probe(
        message_id=_id(3),
        sent_at=_AT,
        system="HO-TICH",
        probe_id=_PROBE,
        token="k7Qm2v9XcY4pLw8e1Rz6TnB3uHs5DfGa0JiOqMbVxCk",
        reply_to="lgsp.connectivity",
    )
    deadline = _AT + timedelta(seconds=5)
    cid = {"citizen_id": "079203001234"}
    found = {"full_name": "Nguyễn Văn An", "birth_date": "2003-05-14"}
    bad_record = b'{"type": "heartbeat", "system": "HO-TICH"}'
    messages: list[Message] = [
        Hello(
            message_id=_id(1),
            sent_at=_AT,
            system="HO-TICH",
            session_id=_SESSION,
            sdk_version="0.1.0",
        ),
        Heartbeat(message_id=_id(2), sent_at=_AT, system="HO-TICH", session_id=_SESSION),
        probe,
        ProbeReply(
            message_id=_id(4),
            sent_at=_AT + timedelta(milliseconds=12),
            system="HO-TICH",
            probe_id=_PROBE,
            token=probe.token,
            probe_sent_at=probe.sent_at,
            via=probe.via,
        ),
        SessionReset(message_id=_id(5), sent_at=_AT, system="HO-TICH", reason="unknown session"),
        ServiceRequest(
            message_id=_EXCHANGE,
            sent_at=_AT,
            client="MOT-CUA",
            session_id=_CLIENT_SESSION,
            provider="HO-TICH",
            service="birth-record.get",
            payload=cid,
            timeout_ms=2000,
            subject="079203001234",
            purpose="birth-registration",
        ),
        ServiceCall(
            message_id=_id(6),
            sent_at=_AT,
            exchange_id=_EXCHANGE,
            system="HO-TICH",
            client="MOT-CUA",
            service="birth-record.get",
            payload=cid,
            deadline=deadline,
        ),
        ServiceResponse(
            message_id=_id(7),
            sent_at=_AT,
            exchange_id=_EXCHANGE,
            provider="HO-TICH",
            session_id=_SESSION,
            client="MOT-CUA",
            payload=found,
        ),
        ServiceResult(
            message_id=_id(8),
            sent_at=_AT,
            exchange_id=_EXCHANGE,
            system="MOT-CUA",
            provider="HO-TICH",
            service="birth-record.get",
            payload=found,
        ),
        DossierReport(
            message_id=_id(9),
            sent_at=_AT,
            dossier_id=_id(10),
            office="MOT-CUA",
            session_id=_CLIENT_SESSION,
            procedure="marriage-registration",
            applicant="079203001234",
            received_on=date(2026, 3, 2),
            components=[
                DossierComponent(
                    document_type="identity",
                    source="reused",
                    lookup="held",
                    holder="VN/DAN-CU",
                    content_hash="1" * 64,
                    issued_on=date(2021, 4, 1),
                ),
                DossierComponent(
                    document_type="marital-status-confirmation",
                    source="submitted",
                    lookup="holder_unreachable",
                    reason="server.timeout",
                    holder="HO-TICH",
                    content_hash="2" * 64,
                    issued_on=date(2026, 2, 20),
                    valid_until=date(2026, 8, 19),
                ),
            ],
            outputs=[
                Document(
                    document_type="marriage-certificate",
                    subject="079203001234",
                    issued_on=date(2026, 3, 2),
                    content_hash="3" * 64,
                )
            ],
        ),
        NgspRegistration(
            message_id=_id(11),
            sent_at=_AT,
            system="HO-TICH",
            name="Civil status database",
            agency="SO-TP",
            province="HCM",
        ),
        NgspProbeRequest(message_id=_id(12), sent_at=_AT, system="HO-TICH"),
        NgspServiceCall(
            message_id=_id(13),
            sent_at=_AT,
            exchange_id=_EXCHANGE,
            province="HCM",
            client="MOT-CUA",
            provider="VN/DAN-CU",
            service="citizen.get",
            payload=cid,
            deadline=deadline,
        ),
        NgspServiceResult(
            message_id=_id(14),
            sent_at=_AT,
            exchange_id=_EXCHANGE,
            client="MOT-CUA",
            provider="VN/DAN-CU",
            fault=Fault(code="client.access_denied", message="MOT-CUA is not in the national catalogue"),
        ),
        NgspAck(message_id=_id(15), sent_at=_AT, system="HO-TICH", registered=True),
        NgspProbeResult(message_id=_id(16), sent_at=_AT, system="HO-TICH", ok=False, reason="timeout"),
        DeadLetter(
            message_id=_id(17),
            sent_at=_AT,
            source_topic="lgsp.connectivity",
            partition=3,
            offset=1042,
            reason="invalid",
            detail="heartbeat.session_id: Field required",
            original_b64=base64.b64encode(bad_record).decode(),
        ),
        AuditAnchor(
            message_id=_id(18),
            sent_at=_AT,
            province="HCM",
            links=1042,
            head="5d2c8f0e4b7a9163c2e8d1f0a6b3c9e7d4f1a8b2c5e9d0f3a7b6c1e4d8f2a0b9",
        ),
    ]
    return {type(m): m for m in messages}


def message_models() -> list[type[Message]]:
    """Every message of the contract, each once, in channel order."""
    return list(dict.fromkeys(m for channel in CHANNELS for m in channel.messages))


def _require_envelope(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema of a message with the envelope's fields required, in the order of its properties."""
    missing = [name for name in ENVELOPE if name not in schema["properties"]]
    if missing:
        raise ValueError(f"{schema['title']} lacks envelope fields {missing}")
    wanted = {*schema.get("required", ()), *ENVELOPE}
    return schema | {"required": [name for name in schema["properties"] if name in wanted]}


def message_schemas() -> dict[str, dict[str, Any]]:
    """Each message's JSON Schema (draft 2020-12, `$defs` inside, so each file stands alone), by name."""
    return {
        model.__name__: {
            "$schema": DIALECT,
            "$id": SCHEMA_ID.format(name=model.__name__),
            **_require_envelope(model.model_json_schema(ref_template="#/$defs/{model}")),
        }
        for model in message_models()
    }


def component_schemas() -> dict[str, dict[str, Any]]:
    """Every message's schema and the types they share, referring to one another within the document."""
    models: list[type[BaseModel]] = [*message_models()]
    _, schema = models_json_schema(
        [(model, "validation") for model in models], ref_template="#/components/schemas/{model}"
    )
    defs: dict[str, dict[str, Any]] = schema["$defs"]
    names = {model.__name__ for model in message_models()}
    return {name: _require_envelope(s) if name in names else s for name, s in defs.items()}


def _key_schema(model: type[Message], schemas: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if model is DeadLetter:
        return {"type": "string", "description": DEAD_LETTER_KEY}
    field, why = KEYS[model]
    constraints = {
        k: v
        for k, v in schemas[model.__name__]["properties"][field].items()
        if k in ("type", "pattern", "minLength", "maxLength")
    }
    return {**constraints, "description": f"`{field}`: {why}", "x-payload-field": field}


def _prose(docstring: str) -> list[str]:
    """A docstring's paragraphs, each on one line."""
    return [" ".join(p.split()) for p in inspect.cleandoc(docstring).split("\n\n") if p.strip()]


def _message(model: type[Message], schemas: dict[str, dict[str, Any]], example: Message) -> dict[str, Any]:
    paragraphs = _prose(model.__doc__ or model.__name__)
    message: dict[str, Any] = {
        "name": model.model_fields["type"].default,
        "title": model.__name__,
        "summary": paragraphs[0],
        "contentType": "application/json",
        "payload": {"$ref": f"#/components/schemas/{model.__name__}"},
        "bindings": {"kafka": {"bindingVersion": KAFKA_BINDING, "key": _key_schema(model, schemas)}},
        "examples": [{"name": model.__name__, "payload": json.loads(encode(example))}],
    }
    if len(paragraphs) > 1:
        message["description"] = "\n\n".join(paragraphs)
    if model in CORRELATION:
        field, why = CORRELATION[model]
        message["correlationId"] = {"location": f"$message.payload#/{field}", "description": why}
    return message


def _channel(channel: Channel) -> dict[str, Any]:
    described = channel.description
    if channel.partitions_setting:
        described += f" Partitions: the hub's {channel.partitions_setting}."
    result: dict[str, Any] = {
        "address": channel.address,
        "description": described,
        "messages": {m.__name__: {"$ref": f"#/components/messages/{m.__name__}"} for m in channel.messages},
        "x-senders": list(channel.senders),
        "x-receivers": list(channel.receivers),
    }
    kafka: dict[str, Any] = {"bindingVersion": KAFKA_BINDING}
    if channel.partitions is not None:
        kafka["partitions"] = channel.partitions
    if channel.address is not None:
        result["bindings"] = {"kafka": kafka}
        result["parameters"] = {
            "prefix": {
                "description": "The deployment's topic prefix (LGSP_TOPIC_PREFIX).",
                "default": Topics().prefix,
            }
        }
        if "{system}" in channel.address:
            result["parameters"]["system"] = {
                "description": "The code of the system the inbox belongs to.",
                "examples": ["HO-TICH"],
            }
    return result


def _operation(operation: Operation) -> dict[str, Any]:
    result: dict[str, Any] = {
        "action": operation.action,
        "channel": {"$ref": f"#/channels/{operation.channel}"},
        "messages": [{"$ref": f"#/channels/{operation.channel}/messages/{operation.message.__name__}"}],
        "summary": operation.summary,
    }
    if operation.action == "receive":
        group = {
            "type": "string",
            "description": "The system's own consumer group, one per system (the Python SDK uses"
            " `{prefix}.connector.{system}`): with one group, each record is handled once.",
        }
        result["bindings"] = {"kafka": {"bindingVersion": KAFKA_BINDING, "groupId": group}}
    if operation.reply is not None and operation.reply_channel is not None:
        reply: dict[str, Any] = {
            "channel": {"$ref": f"#/channels/{operation.reply_channel}"},
            "messages": [
                {"$ref": f"#/channels/{operation.reply_channel}/messages/{operation.reply.__name__}"}
            ],
        }
        if operation.reply_field is not None:
            reply["address"] = {
                "location": f"$message.payload#/{operation.reply_field}",
                "description": f"The topic the message's `{operation.reply_field}` names.",
            }
        result["reply"] = reply
    return result


DESCRIPTION = """\
Messages between provincial systems, the LGSP hub and the NGSP on Kafka, written from the point of view \
of a connector (a system on the bus).

Every record's value is one message: a UTF-8 JSON object whose `type` names it, with `message_id` (a \
UUID, new for each message and kept when a record is sent again: a request's is its exchange id, so a \
replay adds nothing) and `sent_at` (an RFC 3339 date-time with its offset; the hub writes UTC). Fields \
not in a message's schema are refused, as are values outside it. Records carry no headers. The key \
(`bindings.kafka.key` of each message) is a system code, or the applicant for dossiers, so the records \
of one system stay in order on one partition. A record that cannot be parsed, validated or \
authenticated, or is over LGSP_MAX_MESSAGE_BYTES, goes to `{prefix}.dead-letters` with the reason.

Generated from the pydantic models in `schemas/` by `python -m schemas.asyncapi`; each payload's JSON \
Schema (draft 2020-12) is also in `json/<Message>.json` beside this file."""


def document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document."""
    schemas = component_schemas()
    samples = examples()
    bootstrap = {
        "default": "localhost:9092",
        "description": "The province's bootstrap servers, host:port[,host:port] (LGSP_KAFKA_BOOTSTRAP).",
    }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "LGSP axis bus",
            "version": VERSION,
            "description": DESCRIPTION,
            "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
        },
        "defaultContentType": "application/json",
        "servers": {
            "plaintext": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": "A cluster without TLS (LGSP_KAFKA_SECURITY_PROTOCOL PLAINTEXT, the default"
                " and the embedded broker's; or SASL_PLAINTEXT, with a SASL user from the operators).",
                "variables": {"bootstrap": bootstrap},
            },
            "tls": {
                "host": "{bootstrap}",
                "protocol": "kafka-secure",
                "description": "A cluster over TLS (SSL, or SASL_SSL with a SASL user from the operators).",
                "variables": {"bootstrap": bootstrap},
                "security": [
                    {"$ref": f"#/components/securitySchemes/{name}"}
                    for name in ("scramSha512", "scramSha256", "plain", "certificate")
                ],
            },
        },
        "channels": {channel.id: _channel(channel) for channel in CHANNELS},
        "operations": {operation.id: _operation(operation) for operation in OPERATIONS},
        "components": {
            "schemas": schemas,
            "messages": {m.__name__: _message(m, schemas, samples[m]) for m in message_models()},
            "securitySchemes": {
                "scramSha512": {"type": "scramSha512", "description": "SASL SCRAM-SHA-512."},
                "scramSha256": {"type": "scramSha256", "description": "SASL SCRAM-SHA-256."},
                "plain": {"type": "plain", "description": "SASL PLAIN (over TLS only)."},
                "certificate": {"type": "X509", "description": "A TLS client certificate."},
            },
        },
    }


#: Strings a YAML 1.2 reader would take for a number, a boolean or null (PyYAML, YAML 1.1, leaves some of
#: them unquoted: `079203001234` is no octal number to it, but an integer to a YAML 1.2 parser).
_NOT_A_STRING = re.compile(
    r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?(?:[eE][-+]?[0-9]+)?|\.[0-9]+(?:[eE][-+]?[0-9]+)?|\.inf)"
    r"|0x[0-9a-fA-F]+|0o[0-7]+|\.nan|true|false|null|yes|no|on|off|y|n|~",
    re.IGNORECASE,
)


class _Dumper(yaml.SafeDumper):
    """Quotes every string a YAML 1.2 reader could mistake for something else, writes text in blocks, and
    repeats a value used twice instead of writing an anchor and an alias."""

    def ignore_aliases(self, data: Any) -> bool:
        """Never write aliases."""
        return True


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    if "\n" in value:
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")
    if _NOT_A_STRING.fullmatch(value):
        return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="'")
    return dumper.represent_str(value)


_Dumper.add_representer(str, _represent_str)


def rendered() -> dict[str, str]:
    """Every contract file's text, by path relative to the contract directory (deterministic)."""
    files = {
        "asyncapi.yaml": yaml.dump(document(), Dumper=_Dumper, sort_keys=True, allow_unicode=True, width=110),
    }
    for name, schema in message_schemas().items():
        files[f"json/{name}.json"] = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return files


def _present(directory: Path) -> set[str]:
    if not directory.is_dir():
        return set()
    return {p.relative_to(directory).as_posix() for p in directory.rglob("*") if p.is_file()}


def drift(directory: Path = CONTRACT) -> dict[str, str]:
    """What differs between `directory` and what the models generate: file name -> a unified diff (or a
    line saying the file is missing or left over); empty when they agree."""
    wanted = rendered()
    found: dict[str, str] = {}
    for name in sorted(wanted.keys() | _present(directory)):
        path = directory / name
        if name not in wanted:
            found[name] = f"{path}: left over (no message generates it); delete it\n"
        elif not path.is_file():
            found[name] = f"{path}: missing\n"
        elif (text := path.read_text(encoding="utf-8")) != wanted[name]:
            found[name] = "".join(
                difflib.unified_diff(
                    text.splitlines(keepends=True),
                    wanted[name].splitlines(keepends=True),
                    f"{path} (committed)",
                    f"{path} (generated from the models)",
                )
            )
    return found


def write(directory: Path = CONTRACT) -> list[str]:
    """Write the contract into `directory`, removing the schemas of messages that are gone; the names
    written."""
    wanted = rendered()
    for name in _present(directory) - wanted.keys():
        if name.startswith("json/") and name.endswith(".json"):
            (directory / name).unlink()
    for name, text in wanted.items():
        path = directory / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8", newline="\n")
    return sorted(wanted)


def main(argv: list[str] | None = None) -> int:
    """Write the contract, or with --check report how the files drifted from the models."""
    parser = argparse.ArgumentParser(
        prog="python -m schemas.asyncapi",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--check", action="store_true", help="compare with the files instead of writing")
    parser.add_argument("--out", type=Path, default=CONTRACT, help="the contract directory")
    args = parser.parse_args(argv)
    if not args.check:
        written = write(args.out)
        print(f"wrote {len(written)} files to {args.out}")
        return 0
    stale = drift(args.out)
    if not stale:
        print(f"{args.out}: the bus contract matches the models")
        return 0
    for diff in stale.values():
        sys.stderr.write(diff if len(diff) < 20_000 else diff[:20_000] + "\n[... diff cut]\n")
    print(
        f"{args.out}: {len(stale)} file(s) differ from the models: {', '.join(stale)}.\n"
        "Regenerate with `python -m schemas.asyncapi` (and bump schemas.asyncapi.VERSION if a message or"
        " a topic changed).",
        file=sys.stderr,
    )
    return 1


if __name__ == "__main__":
    sys.exit(main())
