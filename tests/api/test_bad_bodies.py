"""Request bodies that are not UTF-8 JSON get a 422 client.bad_request saying what is wrong, never a 500
nor an answer outside the API's error shape; framework errors (unknown route, wrong method) too."""

import json
from typing import Any

import httpx

from lgsp.api.json_body import json_problem
from tests.support import Hub, make_agency, make_system

AGENCY = {"code": "SO-YT", "name": "Sở Y tế", "level": "province"}

#: body -> what the message must say. Each once was a 500, a 400 outside the error shape, or a changed value.
BAD_BODIES = {
    b"\xff\xfe{": "not valid UTF-8 (byte 0xff at offset 0)",
    b'{"code": "SO-\xff", "name": "x", "level": "province"}': "not valid UTF-8 (byte 0xff at offset 13)",
    b'{"code": "SO-YT", "name": "\xc3"}': "not valid UTF-8",  # a character cut in half
    b"{not json": "not valid JSON",
    b'{"code": "SO-YT", "name": "x", "level": "province", "n": NaN}': "NaN is not a JSON number",
    b'{"code": "SO-YT", "name": "x", "level": "province", "n": -Infinity}': "-Infinity is not a JSON number",
    b'{"code": "SO-YT", "name": "x", "level": "province", "n": 1e400}': "1e400 is beyond the double range",
    b'{"code": "SO-YT", "name": "\\ud800", "level": "province"}': "lone UTF-16 surrogate",
    b'{"code": "SO-YT", "name": "\\udc00\\ud800", "level": "province"}': "lone UTF-16 surrogate",
    b"[" * 100_000 + b"]" * 100_000: "not valid JSON",  # deeper than any parser's recursion
    b'{"n": ' + b"9" * 5000 + b"}": "not valid JSON",  # more digits than Python converts
}


def test_json_problem_accepts_what_is_json() -> None:
    for body in (
        b"{}",
        b"\xef\xbb\xbf{}",  # a UTF-8 byte order mark is tolerated
        json.dumps({"name": "Nguyễn Văn An", "n": 1.5e300, "big": 2**70, "pair": "\U0001f600"}).encode(),
        b'{"pair": "\\ud83d\\ude00", "escaped": "\\\\ud800"}',  # a surrogate pair, a backslash then text
    ):
        assert json_problem(body) is None, body


def test_json_problem_says_what_is_wrong() -> None:
    for body, says in BAD_BODIES.items():
        problem = json_problem(body)
        assert problem is not None and says in problem, (body[:60], problem)


async def post(
    hub: Hub, url: str, body: bytes, content_type: str | None = "application/json"
) -> httpx.Response:
    headers = {"content-type": content_type} if content_type else {}
    return await hub.client.post(url, content=body, headers=headers)


def assert_bad_request(response: httpx.Response, says: str) -> None:
    assert response.status_code == 422, response.text
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == "client.bad_request"
    assert says in error["message"], error


async def test_bad_bodies_are_422_in_the_error_shape(hub: Hub) -> None:
    for body, says in BAD_BODIES.items():
        for content_type in ("application/json", "application/problem+json; charset=utf-8", None):
            assert_bad_request(await post(hub, "/api/v1/agencies", body, content_type), says)
    # Nothing of it was stored; a good body still goes through, and PATCH/exchange bodies are checked too.
    assert (await hub.client.get("/api/v1/agencies")).json() == []
    assert (await post(hub, "/api/v1/agencies", json.dumps(AGENCY).encode())).status_code == 201
    system = await make_system(hub.client, "HO-TICH", "SO-YT")
    assert_bad_request(
        await hub.client.patch(f"/api/v1/systems/{system['id']}", content=b'{"description": "\\ud800"}'),
        "surrogate",
    )
    exchange = {"provider": "VN/DAN-CU", "service": "citizen.get", "payload": {"amount": 1}}
    raw = json.dumps(exchange).replace('"amount": 1', '"amount": 1e400').encode()
    answer = await hub.client.post("/api/v1/exchange", content=raw, headers=hub.as_key(system["api_key"]))
    assert_bad_request(answer, "beyond the double range")


async def test_a_body_that_is_not_json_at_all_is_a_422_not_a_500(hub: Hub) -> None:
    await make_agency(hub.client)
    for body in (b"\xff\xfe", b"code=SO-YT", "Sở Y tế".encode()):
        response = await post(hub, "/api/v1/agencies", body, "text/plain")
        assert response.status_code == 422, response.text
        assert response.json()["error"]["code"] == "client.bad_request"


async def test_an_oversized_body_is_still_413_before_it_is_read(hub: Hub) -> None:
    body = b'{"name": "' + b"a" * (hub.settings.max_body_bytes + 10) + b'"}'
    response = await post(hub, "/api/v1/agencies", body)
    assert response.status_code == 413, response.text
    assert response.json()["error"]["code"] == "client.payload_too_large"


async def test_framework_errors_are_in_the_error_shape(hub: Hub) -> None:
    missing = await hub.client.get("/api/v1/no-such-thing")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "client.not_found"
    wrong = await hub.client.put("/api/v1/agencies", json=AGENCY)
    assert wrong.status_code == 405
    assert wrong.json()["error"]["code"] == "client.method_not_allowed"
    assert wrong.headers["allow"], "the allowed methods are still said"
