"""REST services imported from the upstream's own OpenAPI document (issue 18: "or the services imported
from the API's OpenAPI document"): the document a real FastAPI app publishes, its operations made into
services, called on the app itself on uvicorn; what cannot be imported is said with its line and field."""

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated, Any

import pytest
import yaml
from fastapi import FastAPI, Header
from jsonschema import Draft202012Validator
from pydantic import BaseModel

from connectors.declarative import parse_config
from connectors.declarative.config import RestService, RestSource
from connectors.declarative.loading import ConfigError
from connectors.declarative.rest import RestBackend
from lgsp.api.server import serving
from schemas.sources import source_problems


class Place(BaseModel):
    ward: str
    province: str = "HCM"


class Note(BaseModel):
    note: str
    urgent: bool = False
    place: Place | None = None


def upstream() -> FastAPI:
    """A land office's API, with the OpenAPI document FastAPI makes of it."""
    api = FastAPI()

    @api.get("/parcels/{parcel}", operation_id="getParcel", summary="A parcel by its number")
    async def parcel(parcel: str, year: int | None = None) -> dict[str, Any]:
        return {"parcel": parcel, "year": year}

    @api.post("/parcels/{parcel}/notes", operation_id="addNote", summary="Note something on a parcel")
    async def note(parcel: str, body: Note) -> dict[str, Any]:
        return {"parcel": parcel, "note": body.model_dump()}

    @api.get("/mine", operation_id="mine")
    async def mine(x_user: Annotated[str, Header()]) -> dict[str, Any]:
        return {"user": x_user}

    return api


def config(document: str, *operations: tuple[str, str]) -> str:
    imports = [{"operation": operation, "code": code} for operation, code in operations]
    source = {
        "kind": "rest",
        "name": "land-api",
        "base_url": "http://127.0.0.1:9",
        "openapi": {"document": document, "operations": imports},
    }
    return yaml.safe_dump({"system": "DAT-DAI", "sources": [source]}, sort_keys=False)


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "land-api.json"
    path.write_text(json.dumps(upstream().openapi()), encoding="utf-8")
    return path


def imported(document: Path, *operations: tuple[str, str]) -> RestSource:
    [source] = parse_config(config(document.name, *operations), "land.yaml", document.parent).sources
    assert isinstance(source, RestSource)
    return source


def test_each_operation_becomes_a_service_with_its_path_method_and_request_schema(document: Path) -> None:
    source = imported(document, ("getParcel", "parcel.get"), ("addNote", "parcel-note.add"))
    assert source.openapi is None, "what is left is what the hub is sent: services only"
    get, add = source.services
    assert (get.code, get.method, get.path, get.query, get.body) == (
        "parcel.get",
        "GET",
        "/parcels/{parcel}",
        ["year"],
        [],
    )
    assert get.description == "A parcel by its number"
    assert (add.method, add.path, add.query, sorted(add.body)) == (
        "POST",
        "/parcels/{parcel}/notes",
        [],
        ["note", "place", "urgent"],
    )
    assert not list(source_problems(source))
    # The request schemas are whole JSON Schemas: the component a field refers to comes along.
    valid = Draft202012Validator(add.request_schema)
    assert valid.is_valid({"parcel": "A1", "note": "fence", "place": {"ward": "Bến Thành"}})
    assert not valid.is_valid({"parcel": "A1", "note": "fence", "place": {"province": "HCM"}})  # no ward
    assert not valid.is_valid({"note": "fence"}), "the path parameter is required"
    assert not Draft202012Validator(get.request_schema).is_valid({"parcel": "A1", "owner": "x"})


@pytest.fixture
async def land(document: Path) -> AsyncIterator[tuple[RestBackend, dict[str, RestService]]]:
    async with serving(upstream(), "127.0.0.1", 0) as server:
        port = server.servers[0].sockets[0].getsockname()[1]
        source = imported(document, ("getParcel", "parcel.get"), ("addNote", "parcel-note.add"))
        backend = RestBackend(
            source.model_copy(update={"base_url": f"http://127.0.0.1:{port}"}), document.parent
        )
        try:
            yield backend, {s.code: s for s in source.services}
        finally:
            await backend.close()


async def test_the_imported_services_call_the_api_they_came_from(
    land: tuple[RestBackend, dict[str, RestService]],
) -> None:
    backend, services = land
    assert await backend.answer(services["parcel.get"], {"parcel": "T 1", "year": 2024}) == {
        "parcel": "T 1",
        "year": 2024,
    }
    note = {"parcel": "A1", "note": "fence", "place": {"ward": "Bến Thành"}}
    assert await backend.answer(services["parcel-note.add"], note) == {
        "parcel": "A1",
        "note": {"note": "fence", "urgent": False, "place": {"ward": "Bến Thành", "province": "HCM"}},
    }


@pytest.mark.parametrize(
    ("operations", "document_name", "said"),
    [
        (
            (("noSuch", "x.get"),),
            None,
            "line 9: sources[0].openapi.operations[0].operation: noSuch: no",
        ),
        ((("mine", "mine.get"),), None, "parameter x-user in header: only path and query parameters"),
        ((("getParcel", "parcel.get"),), "absent.json", "line 7: sources[0].openapi.document: cannot read"),
        (
            (("getParcel", "parcel.get"), ("getParcel", "parcel.get")),
            None,
            "service code used twice: parcel.get",
        ),
    ],
    ids=["unknown-operation", "header-parameter", "no-document", "imported-twice"],
)
def test_what_cannot_be_imported_is_said_with_its_line_and_field(
    document: Path, operations: tuple[tuple[str, str], ...], document_name: str | None, said: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(config(document_name or document.name, *operations), "land.yaml", document.parent)
    assert said in str(caught.value)


def test_the_hub_refuses_a_source_whose_import_was_not_made() -> None:
    source = RestSource.model_validate(
        {
            "kind": "rest",
            "name": "land-api",
            "base_url": "http://127.0.0.1:9",
            "openapi": {
                "document": "land-api.json",
                "operations": [{"operation": "getParcel", "code": "p.get"}],
            },
        }
    )
    [(where, message)] = list(source_problems(source))
    assert where == ("openapi",) and "give the services it makes" in message
