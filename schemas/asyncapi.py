"""The bus contract as an AsyncAPI 3.0 document and JSON Schemas, generated from the pydantic models, so
an integrator who does not write Python connects from the description alone.

    python -m schemas.asyncapi            # write schemas/contract/
    python -m schemas.asyncapi --check    # fail if the committed files differ from the models

Every message is one JSON object (UTF-8) with a `type` discriminator; the record key is a system code
(the sender's, or the client's for exchanges), so one system's records stay in order on one partition.
"""

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from schemas.messages import (
    DeadLetter,
    DossierReport,
    Heartbeat,
    Hello,
    NgspAck,
    NgspProbeRequest,
    NgspProbeResult,
    NgspRegistration,
    NgspServiceCall,
    NgspServiceResult,
    Probe,
    ProbeReply,
    ServiceCall,
    ServiceRequest,
    ServiceResponse,
    ServiceResult,
    SessionReset,
)

CONTRACT = Path(__file__).resolve().parent / "contract"
VERSION = "1.0.0"


@dataclass(frozen=True, slots=True)
class Channel:
    """A topic family: its address under the deployment's prefix, what it carries, and who sends."""

    name: str
    address: str
    description: str
    key: str
    messages: tuple[type[BaseModel], ...]
    connector_sends: bool  # the connector's point of view: it sends here, or receives from here


#: Every topic a connector deals with, and the hub's and the NGSP stub's own.
CHANNELS = (
    Channel(
        "connectivity",
        "{prefix}.connectivity",
        "Systems to hub: hello (opens a session), heartbeats, replies to the hub's probes.",
        "the sending system's code",
        (Hello, Heartbeat, ProbeReply),
        True,
    ),
    Channel(
        "requests",
        "{prefix}.requests",
        "Clients to hub: service requests, to a provincial system (`CODE`) or beyond (`AREA/CODE`).",
        "the client system's code",
        (ServiceRequest,),
        True,
    ),
    Channel(
        "responses",
        "{prefix}.responses",
        "Providers to hub: answers to the service calls they received.",
        "the client system's code",
        (ServiceResponse,),
        True,
    ),
    Channel(
        "dossiers",
        "{prefix}.dossiers",
        "One-stop shops to hub: completed dossiers for the once-only ledger.",
        "the applicant's keyed hash, or the office's code",
        (DossierReport,),
        True,
    ),
    Channel(
        "inbox",
        "{prefix}.inbox.{system}",
        "Hub to one system: probes, session resets, service calls to serve, results of its requests.",
        "the system's code (or the client's, for calls and results)",
        (Probe, SessionReset, ServiceCall, ServiceResult),
        False,
    ),
    Channel(
        "ngspProbeReplies",
        "{prefix}.ngsp.probe-replies",
        "Systems to the NGSP: replies to probes the NGSP sent through the axis (`via: ngsp`).",
        "the sending system's code",
        (ProbeReply,),
        True,
    ),
    Channel(
        "ngspRequests",
        "{prefix}.ngsp.requests",
        "Hub to NGSP: catalogue registrations, probe requests, service calls beyond the province.",
        "the system's code",
        (NgspRegistration, NgspProbeRequest, NgspServiceCall),
        False,
    ),
    Channel(
        "ngspEvents",
        "{prefix}.ngsp.events",
        "NGSP to hub: catalogue acknowledgements and probe results.",
        "the system's code",
        (NgspAck, NgspProbeResult),
        False,
    ),
    Channel(
        "ngspResults",
        "{prefix}.ngsp.results",
        "NGSP to hub: answers to service calls beyond the province.",
        "the client system's code",
        (NgspServiceResult,),
        False,
    ),
    Channel(
        "deadLetters",
        "{prefix}.dead-letters",
        "Records a consumer could not parse, validate or authenticate, with the reason (secrets redacted).",
        "the original record's key",
        (DeadLetter,),
        False,
    ),
)


def message_schemas() -> dict[str, dict[str, Any]]:
    """Each message's JSON Schema (draft 2020-12), self-contained, by message name."""
    schemas: dict[str, dict[str, Any]] = {}
    for channel in CHANNELS:
        for model in channel.messages:
            schema = model.model_json_schema(ref_template="#/$defs/{model}")
            schemas[model.__name__] = {
                "$schema": "https://json-schema.org/draft/2020-12/schema",
                "$id": f"https://lgsp.invalid/contract/json/{model.__name__}.json",
                **schema,
            }
    return schemas


def document() -> dict[str, Any]:
    """The AsyncAPI 3.0 document."""
    channels: dict[str, Any] = {}
    operations: dict[str, Any] = {}
    messages: dict[str, Any] = {}
    for channel in CHANNELS:
        parameters = {"prefix": {"description": "The deployment's topic prefix (LGSP_TOPIC_PREFIX)."}}
        if "{system}" in channel.address:
            parameters["system"] = {"description": "The system's code."}
        channels[channel.name] = {
            "address": channel.address,
            "description": channel.description,
            "parameters": parameters,
            "messages": {
                m.__name__: {"$ref": f"#/components/messages/{m.__name__}"} for m in channel.messages
            },
            "bindings": {"kafka": {"bindingVersion": "0.5.0"}},
        }
        action = "send" if channel.connector_sends else "receive"
        operations[f"{action}{channel.name[0].upper()}{channel.name[1:]}"] = {
            "action": action,
            "channel": {"$ref": f"#/channels/{channel.name}"},
            "summary": f"A connector {'sends to' if channel.connector_sends else 'receives from'} the topic.",
            "messages": [
                {"$ref": f"#/channels/{channel.name}/messages/{m.__name__}"} for m in channel.messages
            ],
        }
        for model in channel.messages:
            messages[model.__name__] = {
                "name": model.__name__,
                "title": model.__name__,
                "summary": (model.__doc__ or "").strip().split("\n")[0],
                "contentType": "application/json",
                "payload": {
                    "schemaFormat": "application/schema+json;version=draft-07",
                    "schema": {"$ref": f"json/{model.__name__}.json"},
                },
                "bindings": {
                    "kafka": {
                        "bindingVersion": "0.5.0",
                        "key": {"type": "string", "description": channel.key},
                    }
                },
            }
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "LGSP axis bus contract",
            "version": VERSION,
            "description": (
                "Messages between provincial systems, the LGSP hub and the NGSP stub on Kafka. Every record"
                " value is one JSON object with a `type` discriminator; no secret but the hello's API key"
                " travels on the bus. Generated from schemas/ by `python -m schemas.asyncapi`."
            ),
        },
        "defaultContentType": "application/json",
        "servers": {
            "province": {
                "host": "{bootstrap}",
                "protocol": "kafka",
                "description": "The province's Kafka cluster (LGSP_KAFKA_BOOTSTRAP).",
                "variables": {"bootstrap": {"default": "127.0.0.1:9092"}},
            }
        },
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages},
    }


def rendered() -> dict[str, str]:
    """Every contract file's text, by path relative to schemas/contract/ (deterministic)."""
    files = {"asyncapi.yaml": yaml.safe_dump(document(), sort_keys=True, allow_unicode=True, width=110)}
    for name, schema in message_schemas().items():
        files[f"json/{name}.json"] = json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
    return files


def drift(directory: Path = CONTRACT) -> list[str]:
    """The contract files that differ from what the models generate (missing, changed or left over)."""
    wanted = rendered()
    present = (
        {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}
        if directory.exists()
        else set()
    )
    changed = [
        name
        for name, text in wanted.items()
        if not (directory / name).exists() or (directory / name).read_text() != text
    ]
    return sorted(changed + sorted(present - set(wanted)))


def main(argv: list[str] | None = None) -> int:
    """Write the contract, or with --check say which files drifted from the models."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    parser.add_argument("--out", type=Path, default=CONTRACT, help="where the contract goes")
    args = parser.parse_args(argv)
    if args.check:
        stale = drift(args.out)
        for name in stale:
            print(
                f"schemas/contract/{name} differs from the models: run python -m schemas.asyncapi",
                file=sys.stderr,
            )
        return 1 if stale else 0
    for name, text in rendered().items():
        path = args.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
