"""A connector written from the published bus contract alone (schemas/contract/), on librdkafka through
confluent-kafka: it imports nothing of this project. It registers its system over the hub's REST API,
says hello and heartbeats, answers the hub's and the NGSP's probes, serves one service and calls
another through the hub, then prints what happened as one JSON line.

    python connector.py --hub http://127.0.0.1:8000 --bootstrap HOST:PORT --prefix lgsp \
        --system RDK-DEMO --agency SO-TP --serve echo.get --call RDK-DEMO/echo.get --duration 30

The admin token comes from LGSP_ADMIN_TOKEN. Needs Apache Kafka (librdkafka fails the embedded
broker's version handshake).
"""

import argparse
import json
import os
import sys
import time
import urllib.request
import uuid
from datetime import UTC, datetime
from typing import Any

from confluent_kafka import Consumer, Producer


def now() -> str:
    return datetime.now(UTC).isoformat()


def envelope(kind: str, **fields: Any) -> bytes:
    """A message as the contract has it: one JSON object with `type`, `message_id` and `sent_at`."""
    return json.dumps({"type": kind, "message_id": str(uuid.uuid4()), "sent_at": now(), **fields}).encode()


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
    api_key, system_id = system["api_key"], system["id"]
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
    seen = {"probes_lgsp": 0, "probes_ngsp": 0, "calls_served": 0, "results": [], "resets": 0}

    def send(topic: str, value: bytes, key: str = args.system) -> None:
        producer.produce(topic, value, key=key.encode())
        producer.poll(0)

    def hello() -> None:
        send(
            f"{args.prefix}.connectivity",
            envelope("hello", system=args.system, session_id=session, api_key=api_key),
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
            if kind == "probe":
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
