"""JSON request bodies checked before any route reads them: UTF-8, strict JSON, finite numbers, no lone
surrogates; anything else is a 422 `client.bad_request` saying what is wrong.

FastAPI reads a body with `json.loads`, which is lenient where the hub must not be: it takes `NaN` and
`Infinity` (not JSON), turns 1e400 into infinity (written back as null, or refused by PostgreSQL's JSON),
accepts `"\\ud800"` (a lone surrogate, which no database or JSON answer can encode: a 500), and answers
invalid UTF-8 with a 400 outside the API's error shape.
"""

import email.message
import json
import math
import re
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from lgsp.errors import error_body

# A \uD800-\uDFFF escape: only then can parsed text hold a surrogate (raw ones are not valid UTF-8).
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class BodyProblem(ValueError):
    """Why a body is not acceptable JSON, in words for the client."""


def _no_constant(name: str) -> Any:
    raise BodyProblem(f"{name} is not a JSON number")


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise BodyProblem(f"the number {text[:40]} is beyond the double range")
    return number


def json_problem(body: bytes) -> str | None:
    """What is wrong with `body` as a JSON request body, or None if nothing is."""
    try:
        text = body.decode("utf-8-sig")  # RFC 8259: JSON between systems is UTF-8 (a BOM is tolerated)
    except UnicodeDecodeError as exc:
        offset = exc.start + (len(body) - len(exc.object))  # the codec reports past a stripped BOM
        return f"the request body is not valid UTF-8 (byte 0x{body[offset]:02x} at offset {offset})"
    try:
        parsed = json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except ValueError as exc:  # BodyProblem, JSONDecodeError, or an integer of too many digits
        return f"the request body is not valid JSON: {exc}"
    except RecursionError:
        return "the request body is not valid JSON: nested too deeply"
    if _SURROGATE_ESCAPE.search(text):
        try:
            json.dumps(parsed, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            return (
                "the request body is not valid JSON text: it holds a lone UTF-16 surrogate (\\ud800-\\udfff)"
            )
    return None


def _is_json(scope: Scope) -> bool:
    """Whether FastAPI would read this request's body as JSON (no content type, or a JSON one)."""
    raw = dict(scope.get("headers") or []).get(b"content-type")
    if raw is None:
        return True
    message = email.message.Message()
    message["content-type"] = raw.decode("latin-1")
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (
        subtype == "json" or subtype.endswith("+json")
    )


class JsonBodyCheck:
    """Pure ASGI middleware: buffers a JSON request body, checks it, and replays it to the app.

    Install it inside BodyLimit (add it first), so a body is never buffered beyond the size limit.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return  # the client left, or BodyLimit refused the body and answered already
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        problem = json_problem(body) if body else None
        if problem is not None:
            await _refuse(send, problem)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # after the body: wait for the disconnect, as the server would

        await self.app(scope, replay, send)


async def _refuse(send: Send, problem: str) -> None:
    body = json.dumps(error_body("client.bad_request", problem)).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 422,
            "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})
