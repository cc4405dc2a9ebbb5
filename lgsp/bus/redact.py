"""Secrets taken out of what the hub keeps about a rejected record (dead letters and their reasons).

A Hello carries its system's API key. A dead letter keeps the rejected record so nothing is lost, but the
dead-letter topic is read by operators and kept for a long time, so a key must not be kept in clear: a
bad hello would otherwise hand anyone who reads it a working key (a key of another system, or the right
key sent with a typo in the system code). Everything else stays byte for byte, so the letter still
says what was sent, and an issued key keeps its non-secret lookup part (`lgsp_<lookup>_`), which says
which key it was.
"""

import json
import re
from typing import Any

from lgsp.security import KEY_PREFIX

#: What a secret is replaced with. Not a character a key's secret part can hold, so redacting twice
#: changes nothing.
REDACTED = "[redacted]"
#: Fields whose value is a secret wherever they appear in a JSON record.
SECRET_FIELDS = ("api_key",)

# An issued key is `lgsp_<12 hex lookup>_<urlsafe base64 secret>` (lgsp.security.issue_key).
_KEY = re.compile(rb"(" + re.escape(KEY_PREFIX.encode()) + rb"_[0-9a-f]{12}_)[A-Za-z0-9_-]+")
_KEY_TEXT = re.compile(_KEY.pattern.decode())
# A secret field's JSON string value, escapes included; a record cut short may lack the closing quote.
_FIELD = re.compile(
    rb'("(?:' + b"|".join(re.escape(f.encode()) for f in SECRET_FIELDS) + rb')"\s*:\s*")((?:[^"\\]|\\.)*)',
    re.DOTALL,
)
_LOOKUP_PART = re.compile(rb"\A(" + re.escape(KEY_PREFIX.encode()) + rb"_[0-9a-f]{12}_)")


def _redact_value(value: bytes) -> bytes:
    lookup = _LOOKUP_PART.match(value)
    return (lookup.group(1) if lookup else b"") + REDACTED.encode()


def _redacted_str(value: str) -> str:
    return _redact_value(value.encode(errors="surrogatepass")).decode()


def _redact_bytes(raw: bytes) -> bytes:
    raw = _FIELD.sub(lambda m: m.group(1) + _redact_value(m.group(2)), raw)
    return _KEY.sub(lambda m: m.group(1) + REDACTED.encode(), raw)


def _has_secret(value: Any) -> bool:
    """Whether a parsed JSON value still holds a secret (a key inside an escape the patterns missed)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            for name, child in item.items():
                if name in SECRET_FIELDS and isinstance(child, str) and child != _redacted_str(child):
                    return True
                stack += [name, child]
        elif isinstance(item, list):
            stack += item
        elif isinstance(item, str) and _KEY_TEXT.search(item):
            return True
    return False


def _redact_parsed(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            redact_text(name): (
                _redacted_str(child)
                if name in SECRET_FIELDS and isinstance(child, str)
                else _redact_parsed(child)
            )
            for name, child in value.items()
        }
    if isinstance(value, list):
        return [_redact_parsed(child) for child in value]
    return redact_text(value) if isinstance(value, str) else value


def redact_record(raw: bytes) -> bytes:
    """`raw` with every API key's secret replaced by REDACTED, and every other byte unchanged.

    Keys are found as the value of an `api_key` field and as anything shaped like an issued key, in
    records that are JSON or not (truncated, invalid UTF-8). Only if the record is JSON that hides a key
    behind escapes (`"api\\u005fkey"`) is it re-serialised from its parsed form, without the secret:
    exactness gives way to secrecy there. Idempotent.
    """
    redacted = _redact_bytes(raw)
    try:
        parsed = json.loads(redacted)
    except (ValueError, RecursionError):  # not JSON (or not UTF-8): the patterns are all there is
        return redacted
    if not _has_secret(parsed):
        return redacted
    return json.dumps(_redact_parsed(parsed)).encode()  # ASCII: escapes keep even lone surrogates


def redact_text(text: str) -> str:
    """`text` (a rejection's reason, a log line) with every API key's secret replaced by REDACTED."""
    if KEY_PREFIX not in text and not any(field in text for field in SECRET_FIELDS):
        return text  # the common case, at the cost of two substring searches
    return _redact_bytes(text.encode(errors="surrogatepass")).decode(errors="surrogatepass")
