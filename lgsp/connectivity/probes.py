"""Active probes: the keyed token a probe carries, and checking the reply that brings it back."""

from datetime import datetime
from uuid import UUID, uuid4

from lgsp.security import keyed_hash, same_secret
from schemas.common import Link, utcnow
from schemas.messages import Probe, ProbeReply


def probe_token(key: bytes, probe_id: UUID, system: str, via: Link, sent_at: datetime) -> str:
    """An unforgeable token tying a probe reply to the probe the hub (or NGSP) really sent."""
    return keyed_hash(key, f"{probe_id}|{system}|{via.value}|{sent_at.timestamp():.6f}")[:32]


def make_probe(key: bytes, system: str, via: Link, reply_to: str) -> Probe:
    """A probe for `system` whose reply goes to `reply_to`."""
    probe_id, sent_at = uuid4(), utcnow()
    return Probe(
        system=system,
        probe_id=probe_id,
        token=probe_token(key, probe_id, system, via, sent_at),
        reply_to=reply_to,
        via=via,
        sent_at=sent_at,
    )


def check_probe_reply(key: bytes, reply: ProbeReply, received_at: datetime, timeout: float) -> str:
    """`ok`, `bad_token` or `late` for a probe reply received at `received_at`."""
    expected = probe_token(key, reply.probe_id, reply.system, reply.via, reply.probe_sent_at)
    if not same_secret(expected, reply.token):
        return "bad_token"
    if (received_at - reply.probe_sent_at).total_seconds() > timeout:
        return "late"
    return "ok"
