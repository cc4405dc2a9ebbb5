"""REST sources against a real HTTP upstream (a small FastAPI app on uvicorn, on a free port): the
request mapped into path, query and body, the upstream's statuses mapped to the stable fault codes,
retries, deadlines, and an upstream that is not there."""

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from connectors.declarative import SourceError, State, parse_config
from connectors.declarative.config import RestService, RestSource
from connectors.declarative.rest import RestBackend
from connectors.faults import ServiceFault
from lgsp.api.server import serving

BY_PARCEL = {
    "type": "object",
    "properties": {"parcel": {"type": "string"}, "year": {"type": "integer"}, "note": {"type": "string"}},
}


def upstream() -> FastAPI:
    """The land office's API: parcels by id, a flaky endpoint, a slow one, and an echo of what it got."""
    api = FastAPI()
    calls = {"flaky": 0}

    @api.get("/parcels/{parcel}")
    async def parcel(parcel: str, request: Request) -> Response:
        if parcel == "missing":
            return JSONResponse({"detail": "no such parcel"}, status_code=404)
        if parcel == "bad":
            return JSONResponse({"detail": "bad"}, status_code=422)
        if parcel == "boom":
            return JSONResponse({"detail": "oops"}, status_code=500)
        return JSONResponse(
            {
                "parcel": parcel,
                "year": request.query_params.get("year"),
                "token": request.headers.get("x-api-key"),
            }
        )

    @api.get("/flaky")
    async def flaky() -> Response:
        calls["flaky"] += 1
        return JSONResponse({"calls": calls["flaky"]}, status_code=503 if calls["flaky"] < 3 else 200)

    @api.get("/slow")
    async def slow() -> dict[str, Any]:
        await asyncio.sleep(5)
        return {}

    @api.post("/notes/{parcel}")
    async def note(parcel: str, request: Request) -> list[Any]:
        return [parcel, await request.json()]

    return api


def rest_source(base_url: str) -> RestSource:
    services = [
        {"code": "parcel.get", "request_schema": BY_PARCEL, "path": "/parcels/{parcel}", "query": ["year"]},
        {"code": "flaky.get", "path": "/flaky", "retries": 2},
        {"code": "flaky.once", "path": "/flaky"},
        {"code": "slow.get", "path": "/slow", "timeout_ms": 300},
        {
            "code": "note.add",
            "request_schema": BY_PARCEL,
            "method": "POST",
            "path": "/notes/{parcel}",
            "body": ["note"],
        },
    ]
    source = {
        "kind": "rest",
        "name": "land",
        "base_url": base_url,
        "headers": {"X-Api-Key": {"env": "LAND_API_KEY"}},
        "services": services,
    }
    parsed = parse_config(yaml.safe_dump({"system": "DAT-DAI", "sources": [source]})).sources[0]
    assert isinstance(parsed, RestSource)
    return parsed


def service(source: RestSource, code: str) -> RestService:
    return next(s for s in source.services if s.code == code)


@pytest.fixture
async def land(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[RestBackend]:
    monkeypatch.setenv("LAND_API_KEY", "k-123")
    async with serving(upstream(), "127.0.0.1", 0) as server:
        port = server.servers[0].sockets[0].getsockname()[1]
        backend = RestBackend(rest_source(f"http://127.0.0.1:{port}"), tmp_path)
        await backend.check()
        try:
            yield backend
        finally:
            await backend.close()


async def test_the_request_fills_the_path_and_query_and_the_secret_header_is_sent(land: RestBackend) -> None:
    answer = await land.answer(service(land.source, "parcel.get"), {"parcel": "T 12-3", "year": 2024})
    assert answer == {"parcel": "T 12-3", "year": "2024", "token": "k-123"}


async def test_a_body_of_named_fields_and_a_list_answer(land: RestBackend) -> None:
    answer = await land.answer(service(land.source, "note.add"), {"parcel": "A1", "note": "hi", "year": 1})
    assert answer == {"items": ["A1", {"note": "hi"}]}


@pytest.mark.parametrize(
    ("parcel", "code"),
    [("missing", "client.not_found"), ("bad", "client.bad_request"), ("boom", "server.provider_error")],
)
async def test_upstream_statuses_become_stable_fault_codes(land: RestBackend, parcel: str, code: str) -> None:
    with pytest.raises(ServiceFault) as caught:
        await land.answer(service(land.source, "parcel.get"), {"parcel": parcel})
    assert caught.value.code == code
    assert land.health.state is State.RUNNING  # the API answered: it is there


async def test_a_503_is_retried_and_without_retries_is_unreachable(land: RestBackend) -> None:
    with pytest.raises(ServiceFault) as caught:
        await land.answer(service(land.source, "flaky.once"), {})
    assert caught.value.code == "server.provider_unreachable"
    assert land.health.state is State.FAILED
    # Call 2 is a 503 again, retried; call 3 answers.
    assert await land.answer(service(land.source, "flaky.get"), {}) == {"calls": 3}
    assert land.health.error is None


async def test_a_slow_upstream_times_out(land: RestBackend) -> None:
    with pytest.raises(ServiceFault) as caught:
        await land.answer(service(land.source, "slow.get"), {})
    assert (caught.value.code, caught.value.message) == (
        "server.timeout",
        "slow.get: no answer within 300 ms",
    )


async def test_an_upstream_not_there_at_start_is_an_error_naming_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LAND_API_KEY", "k")
    backend = RestBackend(rest_source("http://127.0.0.1:1"), tmp_path)
    try:
        with pytest.raises(SourceError, match=r"source land: cannot reach http://127.0.0.1:1 \(ConnectError"):
            await backend.check()
    finally:
        await backend.close()


async def test_a_secret_header_not_in_the_environment_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="the environment variable LAND_API_KEY is not set"):
        RestBackend(rest_source("http://127.0.0.1:1"), tmp_path)
