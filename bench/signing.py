"""Benchmark of bus identity: what signing and checking cost the hub per exchange, on one core.

An exchange costs the hub four messages of its own: it checks the client's request, signs the call to
the provider, checks the provider's response and signs the result to the client (docs/architecture/
bus-identity.md). This measures each step as the hub runs it (`Signer.seal`, and for a received record
the statement rebuilt from its bytes plus the Ed25519 verification, as `Worker` and `Authenticator` do),
against the same messages written and read without signatures (what the hub did before), and prints
one JSON object: microseconds per step, the hub's CPU per exchange before and after, and the exchange
rate one core could sustain on that work alone (an upper bound of what signing leaves; bench/exchange.py
measures the whole hub).

    .venv/bin/python bench/signing.py                 # 20,000 rounds
    .venv/bin/python bench/signing.py --rounds 2000   # quick
"""

import argparse
import json
import secrets
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from buscore.signing import HUB, Signer, SignerKey, check, sender_of, signed_statement
from schemas.common import utcnow
from schemas.messages import (
    INBOX,
    REQUESTS,
    RESPONSES,
    Codec,
    Message,
    ServiceCall,
    ServiceRequest,
    ServiceResponse,
    ServiceResult,
    encode,
)

PAYLOAD = {"citizen_id": "079203001234"}
ANSWER = {
    "citizen_id": "079203001234",
    "full_name": "Nguyễn Văn An",
    "birth_date": "2003-05-14",
    "place": "Quận 1",
}


def per_call(function: Callable[[], object], rounds: int) -> float:
    """Microseconds per call of `function`, best of three runs (the least disturbed)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(rounds):
            function()
        best = min(best, (time.perf_counter() - started) / rounds * 1e6)
    return best


def received(codec: Codec[Any], raw: bytes, key: SignerKey) -> Callable[[], object]:
    """What a worker does with a signed record: decode it, rebuild its statement, check its signature."""

    def run() -> object:
        message = codec.decode(raw)
        assert message.signature is not None
        statement = signed_statement(raw, message.signature)
        assert check(message, statement, key, sender_of(message)) is None
        return message

    return run


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=20_000)
    args = parser.parse_args()

    api_key = f"lgsp_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}"
    client = Signer.for_system("MOT-CUA", api_key)
    provider = Signer.for_system("HO-TICH", f"lgsp_{secrets.token_hex(6)}_{secrets.token_urlsafe(32)}")
    hub = Signer.platform(HUB, secrets.token_bytes(32))
    exchange_id, session = uuid.uuid4(), uuid.uuid4()
    request = ServiceRequest(
        message_id=exchange_id,
        client="MOT-CUA",
        session_id=session,
        provider="HO-TICH",
        service="birth-record.get",
        payload=PAYLOAD,
        subject=PAYLOAD["citizen_id"],
    )
    call = ServiceCall(
        exchange_id=exchange_id,
        system="HO-TICH",
        client="MOT-CUA",
        service="birth-record.get",
        payload=PAYLOAD,
        deadline=utcnow() + timedelta(seconds=5),
    )
    response = ServiceResponse(
        exchange_id=exchange_id, provider="HO-TICH", session_id=session, client="MOT-CUA", payload=ANSWER
    )
    result = ServiceResult(
        exchange_id=exchange_id,
        system="MOT-CUA",
        provider="HO-TICH",
        service="birth-record.get",
        payload=ANSWER,
    )

    def key_of(signer: Signer) -> SignerKey:
        return SignerKey(signer.kid, signer.owner, signer.public_key)

    rounds = args.rounds
    steps: dict[str, dict[str, float]] = {}

    def measure(name: str, codec: Codec[Any], message: Message, signer: Signer | None, sent: bool) -> None:
        """The hub's step on `message`: writing it (sent) or reading it (received), plain and signed."""
        plain = encode(message)
        if sent:
            before = per_call(lambda: encode(message), rounds)
            after = per_call(lambda: (signer or hub).seal(message), rounds)
        else:
            assert signer is not None
            before = per_call(lambda: codec.decode(plain), rounds)
            after = per_call(received(codec, signer.seal(message), key_of(signer)), rounds)
        steps[name] = {"before_us": round(before, 1), "after_us": round(after, 1)}

    measure("request_in", REQUESTS, request, client, sent=False)
    measure("call_out", INBOX, call, None, sent=True)
    measure("response_in", RESPONSES, response, provider, sent=False)
    measure("result_out", INBOX, result, None, sent=True)
    before = sum(step["before_us"] for step in steps.values())
    after = sum(step["after_us"] for step in steps.values())
    report = {
        "rounds": rounds,
        "steps": steps,
        "hub_us_per_exchange": {
            "before": round(before, 1),
            "after": round(after, 1),
            "added": round(after - before, 1),
        },
        # One core doing nothing but this work: the ceiling it sets, far above what the hub reaches.
        "exchanges_per_core_second_on_this_work": {
            "before": round(1e6 / before),
            "after": round(1e6 / after),
        },
        "sdk_us": {
            "sign_request": round(per_call(lambda: client.seal(request), rounds), 1),
            "check_call": round(per_call(received(INBOX, hub.seal(call), key_of(hub)), rounds), 1),
        },
    }
    json.dump(report, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
