"""What a dead letter keeps of a rejected record: its envelope, never its personal data.

The dead-letter topic is read by operators and kept long, and a rejected request or dossier may carry a
citizen's record. So a letter keeps the record's JSON with the fields that may hold personal data (the
same fields a signature hashes: buscore.signing.BODY_FIELDS) replaced by a keyed hash each, and a record
that is not a JSON object only as its keyed hash and size. The hash is an HMAC under a key derived from
the receiver's own signing key: it tells equal values apart and lets whoever holds the original match
it, but cannot be brute-forced from a guessed 12-digit citizen id by someone who only reads the topic.

An operator may turn on a raw mode (the hub's LGSP_DEAD_LETTER_RAW) for debugging: the whole record then
also goes to a separate topic that the broker keeps only for a short time.
"""

import base64
import hmac
import json
from typing import Any

from buscore.signing import BODY_FIELDS, Signer, canonical
from schemas.messages import DeadLetter


def _key(signer: Signer) -> bytes:
    return hmac.digest(bytes(signer.key), b"lgsp.dead-letters.v1", "sha256")


def _digest(key: bytes, value: bytes) -> str:
    return hmac.digest(key, value, "sha256").hex()[:32]


def envelope_only(raw: bytes, signer: Signer) -> bytes:
    """`raw` without personal data: a JSON object keeps its other fields, each personal field becomes
    `"[removed hmac:<hex>]"`; anything else becomes one such marker with its size."""
    key = _key(signer)
    try:
        document: Any = json.loads(raw)
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict):
        return f"[removed: {len(raw)} bytes that are not a JSON object, hmac:{_digest(key, raw)}]".encode()
    for name in BODY_FIELDS:
        if name in document:
            try:
                value = canonical(document[name])
            except (ValueError, RecursionError):  # NaN or too deep: hash what was sent
                value = raw
            document[name] = f"[removed hmac:{_digest(key, value)}]"
    return json.dumps(document, ensure_ascii=False).encode()


def dead_letter(
    signer: Signer, topic: str, partition: int, offset: int, reason: str, detail: str, kept: bytes, limit: int
) -> DeadLetter:
    """A dead letter keeping `kept` (the record as it may be kept), cut to `limit` bytes so the letter
    itself stays within the bus's record limit (base64 makes it a third larger)."""
    if len(kept) > limit:
        detail = f"{detail[:1900]}; original cut to its first {limit} bytes"
        kept = kept[:limit]
    return DeadLetter(
        source_topic=topic,
        partition=partition,
        offset=offset,
        reason=reason,
        detail=detail[:2000],
        original_b64=base64.b64encode(kept).decode(),
    )
