"""Active probes: the keyed token a probe carries, and checking the reply that brings it back."""

from datetime import datetime
from uuid import UUID, uuid4

from lgsp.security import PlatformKeys
from schemas.common import Link, utcnow
from schemas.messages import Probe, ProbeReply


def _described(probe_id: UUID, system: str, via: Link, sent_at: datetime) -> str:
    """What a probe's token is a keyed hash of: the token ties a reply to the probe really sent."""
    return f"{probe_id}|{system}|{via.value}|{sent_at.timestamp():.6f}"


def make_probe(keys: PlatformKeys, system: str, via: Link, reply_to: str) -> Probe:
    """A probe for `system` whose reply goes to `reply_to`."""
    probe_id, sent_at = uuid4(), utcnow()
    return Probe(
        system=system,
        probe_id=probe_id,
        token=keys.probe_token(_described(probe_id, system, via, sent_at)),
        reply_to=reply_to,
        via=via,
        sent_at=sent_at,
    )


def check_probe_reply(keys: PlatformKeys, reply: ProbeReply, received_at: datetime, timeout: float) -> str:
    """`ok`, `bad_token` or `late` for a probe reply received at `received_at`."""
    described = _described(reply.probe_id, reply.system, reply.via, reply.probe_sent_at)
    if not keys.probe_token_matches(described, reply.token):
        return "bad_token"
    if (received_at - reply.probe_sent_at).total_seconds() > timeout:
        return "late"
    return "ok"
