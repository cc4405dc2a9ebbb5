"""Authentication of what the hub's workers consume: every record must be signed by the party it claims
to come from, with a key that still counts, recently enough and only once (buscore/signing.py).

A record that fails is dead-lettered with the reason (unsigned, unknown_signer, wrong_signer,
revoked_key, bad_signature, stale, replayed) and counted in lgsp_dead_letters_total; its handler never
sees it, so no record, ledger entry or connectivity state changes.
"""

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from buscore.signing import ReplayGuard, SignerKey, check, freshness, sender_of
from lgsp.bus.worker import Delivery, Rejection

#: A batch at least this long is verified in a thread (the hop costs more than a few verifications).
THREAD_BATCH = 32


class KeySource(Protocol):
    """Where the public keys come from (the registry's keyring, or the NGSP's catalogue)."""

    async def keys(self, kids: set[str]) -> Mapping[str, SignerKey]:
        """The keys named `kids` that this source knows, fresh enough that a revocation counts at once."""
        ...


class Authenticator:
    """Checks each consumed record's signature, freshness and uniqueness before its handler runs.

    `window` is the replay window (seconds): ephemeral messages older than it are stale, and a message id
    seen again at another position within it is a replay. `skew` is the clock difference tolerated.
    """

    def __init__(self, source: KeySource, window: float, skew: float) -> None:
        self.source = source
        self.window = window
        self.skew = skew
        self._replays = ReplayGuard(window)

    async def __call__(
        self, deliveries: Sequence[Delivery[Any]]
    ) -> tuple[list[Delivery[Any]], list[Rejection]]:
        """The authentic deliveries, and a rejection for each of the others."""
        kids = {d.message.signature.signer for d in deliveries if d.message.signature is not None}
        keys = await self.source.keys(kids) if kids else {}
        if len(deliveries) >= THREAD_BATCH:
            # libsodium releases the GIL: a big batch's verifications run on another core meanwhile.
            verdicts = await asyncio.to_thread(_verdicts, deliveries, keys)
        else:
            verdicts = _verdicts(deliveries, keys)
        now = time.time()
        accepted: list[Delivery[Any]] = []
        rejected: list[Rejection] = []
        for delivery, verdict in zip(deliveries, verdicts, strict=True):
            message = delivery.message
            signer = message.signature.signer if message.signature is not None else None
            sender = sender_of(message)
            reason = verdict or freshness(message, now, self.window, self.skew)
            position = (delivery.topic, delivery.partition, delivery.offset)
            if reason is None and not self._replays.first(message.message_id, position, now):
                reason = "replayed"
            if reason is None:
                accepted.append(delivery)
            else:
                rejected.append(Rejection(delivery, reason, _detail(reason, sender, signer)))
        return accepted, rejected


def _verdicts(deliveries: Sequence[Delivery[Any]], keys: Mapping[str, SignerKey]) -> list[str | None]:
    """Why each delivery's signature does not hold (None where it does): pure, so it may run in a thread.
    The replay guard stays on the event loop."""
    verdicts: list[str | None] = []
    for delivery in deliveries:
        message = delivery.message
        signer = message.signature.signer if message.signature is not None else None
        key = keys.get(signer) if signer else None
        verdicts.append(check(message, delivery.statement, key, sender_of(message)))
    return verdicts


def _detail(reason: str, sender: str, signer: str | None) -> str:
    return {
        "unsigned": f"no signature; it claims to come from {sender}",
        "unknown_signer": f"signed by {signer}, a key this receiver does not know",
        "wrong_signer": f"signed by {signer}, which is not a key of {sender}",
        "revoked_key": f"signed by {signer}, a revoked key of {sender}",
        "bad_signature": f"the signature of {signer} does not verify: the message was altered or forged",
        "stale": "sent outside the replay window (or from the future)",
        "replayed": "a message id already seen at another position (a replay)",
    }[reason]
