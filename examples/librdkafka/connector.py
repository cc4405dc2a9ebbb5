"""A connector written from the published bus contract alone (schemas/contract/), on librdkafka through
confluent-kafka: it imports nothing of this project. It registers its system over the hub's REST API,
says hello and heartbeats, answers the hub's and the NGSP's probes, serves one service and calls
another through the hub, then prints what happened as one JSON line.

    python connector.py --hub http://127.0.0.1:8000 --bootstrap HOST:PORT --prefix lgsp \
        --system RDK-DEMO --agency SO-TP --serve echo.get --call RDK-DEMO/echo.get --duration 30

Every message it sends is signed as docs/integrators/bus-contract.md says (Ed25519, with PyNaCl, on a key
pair derived from the API key, which never leaves the process), and it serves only calls the hub signed
(the trust anchor comes with the registration).

The admin token comes from LGSP_ADMIN_TOKEN. Needs Apache Kafka (librdkafka fails the embedded
broker's version handshake).
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any

import nacl.exceptions
import nacl.signing
from confluent_kafka import Consumer, Producer

#: The contract's signing rules (docs/integrators/bus-contract.md, "Signatures").
DOMAIN = b"lgsp.bus.v1\n"
BODY_FIELDS = ("payload", "fault", "subject", "applicant", "components", "outputs")


def now() -> str:
    return datetime.now(UTC).isoformat()


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def statement(document: dict[str, Any], nonce: bytes) -> bytes:
    """What is signed: the message without its signature, its personal fields as a salted hash."""
    header = {k: v for k, v in document.items() if k not in BODY_FIELDS and k != "signature"}
    body = {k: document[k] for k in BODY_FIELDS if k in document}
    body["nonce"] = base64.b64encode(nonce).decode()
    header["body_sha256"] = hashlib.sha256(canonical(body)).hexdigest()
    return canonical(header)


class Identity:
    """The system's bus key pair, derived from its API key; the key id is the key's lookup part."""

    def __init__(self, api_key: str) -> None:
        self.key = nacl.signing.SigningKey(hmac.digest(api_key.encode(), b"lgsp.bus.system.v1", "sha256"))
        self.kid = api_key.split("_", 2)[1]

    def envelope(self, kind: str, **fields: Any) -> bytes:
        """A message as the contract has it (`type`, `message_id`, `sent_at`, fields), signed."""
        document = {"type": kind, "message_id": str(uuid.uuid4()), "sent_at": now(), **fields}
        nonce = os.urandom(16)
        value = self.key.sign(DOMAIN + statement(document, nonce)).signature
        document["signature"] = {
            "signer": self.kid,
            "nonce": base64.b64encode(nonce).decode(),
            "value": base64.b64encode(value).decode(),
        }
        return json.dumps(document).encode()


def trusted(anchor: str) -> dict[str, tuple[str, bytes]]:
    """The trust anchor `@hub:<key>,@ngsp:<key>` by key id (`owner:` + 16 hex digits of its SHA-256)."""
    keys = {}
    for entry in anchor.split(","):
        owner, _, encoded = entry.partition(":")
        public = base64.b64decode(encoded)
        keys[f"{owner}:{hashlib.sha256(public).hexdigest()[:16]}"] = (owner, public)
    return keys


def signed_by(raw: bytes, message: dict[str, Any], owner: str, keys: dict[str, tuple[str, bytes]]) -> bool:
    """Whether `message` (received as `raw`) carries a valid signature by `owner`'s trusted key."""
    signature = message.get("signature") or {}
    known = keys.get(signature.get("signer", ""))
    if known is None or known[0] != owner:
        return False
    document = json.loads(raw)
    document.pop("signature", None)
    signed = statement(document, base64.b64decode(signature["nonce"]))
    try:
        nacl.signing.VerifyKey(known[1]).verify(DOMAIN + signed, base64.b64decode(signature["value"]))
    except nacl.exceptions.BadSignatureError:
        return False
    return True


def rest(hub: str, token: str, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
    request = urllib.request.Request(
        hub + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=15) as answer:
        result: dict[str, Any] = json.loads(answer.read() or b"{}")
        return result


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--hub", required=True)
    parser.add_argument("--bootstrap", required=True)
    parser.add_argument("--prefix", default="lgsp")
    parser.add_argument("--system", required=True)
    parser.add_argument("--agency", required=True)
    parser.add_argument("--serve", required=True, help="the service this system offers (it echoes)")
    parser.add_argument("--call", required=True, help="PROVIDER/SERVICE to call once connected")
    parser.add_argument("--duration", type=float, default=30.0)
    args = parser.parse_args()
    token = os.environ["LGSP_ADMIN_TOKEN"]

    # Registration over REST: the system, its service, and a grant to itself (so it may call it too).
    system = rest(
        args.hub,
        token,
        "POST",
        "/api/v1/systems",
        {"code": args.system, "name": "librdkafka connector", "agency_code": args.agency},
    )
    system_id = system["id"]
    me, keys = Identity(system["api_key"]), trusted(system["bus_trust"])
    envelope = me.envelope
    rest(args.hub, token, "POST", f"/api/v1/systems/{system_id}/services", {"code": args.serve})
    rest(
        args.hub,
        token,
        "POST",
        f"/api/v1/systems/{system_id}/grants",
        {"service": args.serve, "client_system": args.system},
    )

    producer = Producer({"bootstrap.servers": args.bootstrap, "acks": "all", "enable.idempotence": True})
    inbox = f"{args.prefix}.inbox.{args.system}"
    consumer = Consumer(
        {
            "bootstrap.servers": args.bootstrap,
            "group.id": f"librdkafka-{args.system}",
            "auto.offset.reset": "earliest",
            "enable.auto.commit": True,
            "topic.metadata.refresh.interval.ms": 1000,
        }
    )
    consumer.subscribe([inbox])
    session = str(uuid.uuid4())
    seen = {"probes_lgsp": 0, "probes_ngsp": 0, "calls_served": 0, "results": [], "resets": 0, "refused": 0}

    def send(topic: str, value: bytes, key: str = args.system) -> None:
        producer.produce(topic, value, key=key.encode())
        producer.poll(0)

    def hello() -> None:
        send(
            f"{args.prefix}.connectivity",
            envelope("hello", system=args.system, session_id=session),
        )

    hello()
    called = connected = False
    last_check = 0.0
    started = last_beat = time.monotonic()
    while time.monotonic() - started < args.duration:
        if time.monotonic() - last_beat >= 0.5:
            send(f"{args.prefix}.connectivity", envelope("heartbeat", system=args.system, session_id=session))
            last_beat = time.monotonic()
        record = consumer.poll(0.1)
        if record is not None and record.error() is None and record.value():
            message = json.loads(record.value())
            kind = message.get("type")
            signer = "@ngsp" if kind == "probe" and message.get("via") == "ngsp" else "@hub"
            if not signed_by(record.value(), message, signer, keys):
                seen["refused"] += 1  # not from the hub (or the NGSP): never acted upon
            elif kind == "probe":
                seen[f"probes_{message['via']}"] += 1
                send(
                    message["reply_to"],
                    envelope(
                        "probe_reply",
                        system=args.system,
                        probe_id=message["probe_id"],
                        token=message["token"],
                        probe_sent_at=message["sent_at"],
                        via=message["via"],
                    ),
                )
            elif kind == "session_reset":
                seen["resets"] += 1
                hello()
            elif kind == "service_call":
                seen["calls_served"] += 1
                send(
                    f"{args.prefix}.responses",
                    envelope(
                        "service_response",
                        exchange_id=message["exchange_id"],
                        provider=args.system,
                        session_id=session,
                        client=message["client"],
                        payload={"echo": message["payload"]},
                    ),
                    key=message["client"],  # responses are keyed by the client, as the contract says
                )
            elif kind == "service_result":
                seen["results"].append({"payload": message.get("payload"), "fault": message.get("fault")})
        if not called and seen["probes_lgsp"] and time.monotonic() - last_check >= 1.0:
            # The hub routes to a provider once it counts it connected: ask before calling.
            last_check = time.monotonic()
            connected = rest(args.hub, token, "GET", f"/api/v1/systems/{system_id}/status")["lgsp_connected"]
        if not called and connected:
            provider, service = args.call.split("/", 1)
            send(
                f"{args.prefix}.requests",
                envelope(
                    "service_request",
                    client=args.system,
                    session_id=session,
                    provider=provider,
                    service=service,
                    payload={"from": "librdkafka"},
                    timeout_ms=10_000,
                ),
            )
            called = True
    producer.flush(10)
    status = rest(args.hub, token, "GET", f"/api/v1/systems/{system_id}/status")
    consumer.close()
    print(json.dumps({"seen": seen, "status": status}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
